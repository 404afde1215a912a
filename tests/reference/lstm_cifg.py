"""Oracle: the coupled input-forget gate LSTM, CIFG (Greff et al. 2017, "LSTM: A Search
Space Odyssey"), one layer, one direction, batch-first. Same interface as :mod:`lstm`.

Weight layout: W_ih (3H, F), W_hh (3H, H), b_ih, b_hh (3H,) with rows (i, g, o) — there
are no forget weights. A bias given as None counts as zeros. With
z = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh::

    i_t = σ(z_i)   f_t = 1 − i_t   g_t = tanh(z_g)   o_t = σ(z_o)
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

Backpropagation through time (D_t = ``dL_dH_direct``)::

    dL/dh_t = D_t + dL/dz_{t+1} W_hh
    dL/dc_t = dL/dh_t ⊙ o_t ⊙ (1 − tanh²c_t) + dL/dc_{t+1} ⊙ f_{t+1}
    dL/di_t = dL/dc_t ⊙ (g_t − c_{t−1})          (i reaches c twice: as i and as 1 − i)
    dL/dz_i = dL/di_t ⊙ i_t(1 − i_t);  dL/dz_g = dL/dc_t ⊙ i_t ⊙ (1 − g_t²)
    dL/dz_o = dL/dh_t ⊙ tanh c_t ⊙ o_t(1 − o_t)

Total gradients: with respect to a perturbation added to h_t (c_t) right after it is
computed (``h_shift``/``c_shift``).
"""
from __future__ import annotations

import numpy as np

from ._common import blocks, f64, recurrent_args, sigmoid

GATES = "igo"  # row order of the weights


def forward(x, W_ih, W_hh, b_ih=None, b_hh=None, h0=None, c0=None, *,
            h_shift=None, c_shift=None) -> dict[str, np.ndarray]:
    """{"i", "f", "g", "o", "c", "h"}: each (N, T, H), keyed by name (f = 1 − i)."""
    x, W_ih, W_hh, b_ih, b_hh, h, c, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 3, h0, c0)
    n, t_len, _ = x.shape
    out = {k: np.empty((n, t_len, hd)) for k in "ifgoch"}
    for t in range(t_len):
        z = blocks(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh, GATES)
        i, g, o = sigmoid(z["i"]), np.tanh(z["g"]), sigmoid(z["o"])
        f = 1.0 - i
        c = f * c + i * g
        if c_shift is not None:
            c = c + c_shift[:, t]
        h = o * np.tanh(c)
        if h_shift is not None:
            h = h + h_shift[:, t]
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            out[k][:, t] = v
    return out


def bptt(x, W_ih, W_hh, b_ih, b_hh, dL_dH_direct, h0=None, c0=None) -> dict[str, np.ndarray]:
    """Gradients of L by the chain rule, written out by hand.

    Returns "dL_dh", "dL_dc" (N, T, H) (total), "dW_ih", "dW_hh", "db_ih", "db_hh",
    "dx" (N, T, F), "dh0", "dc0" (N, H).
    """
    x, W_ih, W_hh, b_ih, b_hh, h0, c0, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 3,
                                                           h0, c0)
    s = forward(x, W_ih, W_hh, b_ih, b_hh, h0, c0)
    n, t_len, _ = x.shape
    D = f64("dL_dH_direct", dL_dH_direct, shape=(n, t_len, hd))
    g = {"dL_dh": np.empty((n, t_len, hd)), "dL_dc": np.empty((n, t_len, hd)),
         "dW_ih": np.zeros_like(W_ih), "dW_hh": np.zeros_like(W_hh),
         "db_ih": np.zeros(3 * hd), "db_hh": np.zeros(3 * hd), "dx": np.empty_like(x)}
    dh_next = np.zeros((n, hd))
    dc_next = np.zeros((n, hd))
    for t in reversed(range(t_len)):
        i, f, gg, o, c = (s[k][:, t] for k in "ifgoc")
        h_prev = s["h"][:, t - 1] if t > 0 else h0
        c_prev = s["c"][:, t - 1] if t > 0 else c0
        tc = np.tanh(c)
        dh = D[:, t] + dh_next
        dc = dc_next + dh * o * (1.0 - tc ** 2)
        g["dL_dh"][:, t] = dh
        g["dL_dc"][:, t] = dc
        dz = np.concatenate([
            dc * (gg - c_prev) * i * (1.0 - i),   # i
            dc * i * (1.0 - gg ** 2),             # g
            dh * tc * o * (1.0 - o),              # o
        ], axis=1)
        g["dW_ih"] += dz.T @ x[:, t]
        g["dW_hh"] += dz.T @ h_prev
        g["db_ih"] += dz.sum(axis=0)
        g["db_hh"] += dz.sum(axis=0)
        g["dx"][:, t] = dz @ W_ih
        dh_next = dz @ W_hh
        dc_next = dc * f
    g["dh0"] = dh_next
    g["dc0"] = dc_next
    return g
