"""Oracle: the standard LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of
Gers et al. 2000), one layer, one direction, batch-first — torch.nn.LSTM's equations.

Weight layout as torch: W_ih (4H, F), W_hh (4H, H), b_ih (4H,), b_hh (4H,), the four
blocks of H rows in the order (i, f, g, o). A bias given as None counts as zeros. With
z_t = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh split into (z_i, z_f, z_g, z_o)::

    i_t = σ(z_i)   f_t = σ(z_f)   g_t = tanh(z_g)   o_t = σ(z_o)
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)                 h_{−1} = h0, c_{−1} = c0 (zeros by default)

Backpropagation through time, D_t = ∂L/∂h_t through the output only (``dL_dH_direct``)::

    dL/dh_t = D_t + dL/dz_{t+1} W_hh                           (total)
    dL/dc_t = dL/dh_t ⊙ o_t ⊙ (1 − tanh²c_t) + dL/dc_{t+1} ⊙ f_{t+1}   (total)
    dL/do_t = dL/dh_t ⊙ tanh c_t;  dL/di_t = dL/dc_t ⊙ g_t
    dL/dg_t = dL/dc_t ⊙ i_t;       dL/df_t = dL/dc_t ⊙ c_{t−1}
    dL/dz = gate gradient ⊙ σ' (= s(1 − s)) or tanh' (= 1 − g²)

A total gradient is the derivative of L with respect to a perturbation added to h_t (or
c_t) right after it is computed — ``h_shift``/``c_shift`` of :func:`forward`.
"""
from __future__ import annotations

import numpy as np

from ._common import blocks, f64, recurrent_args, sigmoid

GATES = "ifgo"  # torch's row order


def forward(x, W_ih, W_hh, b_ih=None, b_hh=None, h0=None, c0=None, *,
            h_shift=None, c_shift=None) -> dict[str, np.ndarray]:
    """{"i", "f", "g", "o", "c", "h"}: each (N, T, H), keyed by name.

    ``h_shift``/``c_shift`` (N, T, H), if given, are added to h_t / c_t as soon as they are
    computed (so they reach everything downstream); used to check total gradients.
    """
    x, W_ih, W_hh, b_ih, b_hh, h, c, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 4, h0, c0)
    n, t_len, _ = x.shape
    out = {k: np.empty((n, t_len, hd)) for k in "ifgoch"}
    for t in range(t_len):
        z = blocks(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh, GATES)
        i, f, g, o = sigmoid(z["i"]), sigmoid(z["f"]), np.tanh(z["g"]), sigmoid(z["o"])
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

    Returns "dL_dh", "dL_dc" (N, T, H) — total gradients on h_t and c_t —, and "dW_ih",
    "dW_hh", "db_ih", "db_hh", "dx" (N, T, F), "dh0", "dc0" (N, H).
    """
    x, W_ih, W_hh, b_ih, b_hh, h0, c0, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 4,
                                                           h0, c0)
    s = forward(x, W_ih, W_hh, b_ih, b_hh, h0, c0)
    n, t_len, _ = x.shape
    D = f64("dL_dH_direct", dL_dH_direct, shape=(n, t_len, hd))
    g = {"dL_dh": np.empty((n, t_len, hd)), "dL_dc": np.empty((n, t_len, hd)),
         "dW_ih": np.zeros_like(W_ih), "dW_hh": np.zeros_like(W_hh),
         "db_ih": np.zeros(4 * hd), "db_hh": np.zeros(4 * hd), "dx": np.empty_like(x)}
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
            dc * gg * i * (1.0 - i),        # i
            dc * c_prev * f * (1.0 - f),    # f
            dc * i * (1.0 - gg ** 2),       # g
            dh * tc * o * (1.0 - o),        # o
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
