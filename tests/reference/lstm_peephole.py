"""Oracle: the peephole LSTM (Gers & Schmidhuber 2000), one layer, one direction,
batch-first. Same interface as :mod:`lstm` plus three peephole vectors.

Weight layout: W_ih (4H, F), W_hh (4H, H), b_ih, b_hh (4H,) with rows (i, f, g, o) as in
torch; the single bias b of the paper is b_ih + b_hh (pass None for either to drop it).
Peephole vectors w_ci, w_cf, w_co (H,). With z = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh::

    i_t = σ(z_i + w_ci ⊙ c_{t−1})
    f_t = σ(z_f + w_cf ⊙ c_{t−1})
    g_t = tanh(z_g)
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
    o_t = σ(z_o + w_co ⊙ c_t)          (the output gate peeks at the *new* cell)
    h_t = o_t ⊙ tanh(c_t)

Backpropagation through time (D_t = ``dL_dH_direct``, primes are activation slopes)::

    dL/dh_t  = D_t + dL/dz_{t+1} W_hh
    dL/dz_o  = dL/dh_t ⊙ tanh c_t ⊙ σ'
    dL/dc_t  = dL/dh_t ⊙ o_t ⊙ (1 − tanh²c_t) + dL/dz_o ⊙ w_co
               + dL/dc_{t+1} ⊙ f_{t+1} + dL/dz_i,{t+1} ⊙ w_ci + dL/dz_f,{t+1} ⊙ w_cf
    dL/dz_i  = dL/dc_t ⊙ g_t ⊙ σ';   dL/dz_f = dL/dc_t ⊙ c_{t−1} ⊙ σ'
    dL/dz_g  = dL/dc_t ⊙ i_t ⊙ (1 − g_t²)

Total gradients are derivatives with respect to a perturbation added to h_t (c_t) right
after it is computed (``h_shift``/``c_shift``); for c_t that is before o_t reads it.
"""
from __future__ import annotations

import numpy as np

from ._common import blocks, f64, recurrent_args, sigmoid


def _peepholes(hd, w_ci, w_cf, w_co):
    return tuple(f64(name, w, shape=(hd,))
                 for name, w in (("w_ci", w_ci), ("w_cf", w_cf), ("w_co", w_co)))


def forward(x, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, h0=None, c0=None, *,
            h_shift=None, c_shift=None) -> dict[str, np.ndarray]:
    """{"i", "f", "g", "o", "c", "h"}: each (N, T, H), keyed by name."""
    x, W_ih, W_hh, b_ih, b_hh, h, c, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 4, h0, c0)
    w_ci, w_cf, w_co = _peepholes(hd, w_ci, w_cf, w_co)
    n, t_len, _ = x.shape
    out = {k: np.empty((n, t_len, hd)) for k in "ifgoch"}
    for t in range(t_len):
        z = blocks(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh, "ifgo")
        i = sigmoid(z["i"] + w_ci * c)
        f = sigmoid(z["f"] + w_cf * c)
        g = np.tanh(z["g"])
        c = f * c + i * g
        if c_shift is not None:
            c = c + c_shift[:, t]
        o = sigmoid(z["o"] + w_co * c)
        h = o * np.tanh(c)
        if h_shift is not None:
            h = h + h_shift[:, t]
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            out[k][:, t] = v
    return out


def bptt(x, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, dL_dH_direct, h0=None,
         c0=None) -> dict[str, np.ndarray]:
    """Gradients of L by the chain rule, written out by hand.

    Returns "dL_dh", "dL_dc" (N, T, H) (total), "dW_ih", "dW_hh", "db_ih", "db_hh",
    "dw_ci", "dw_cf", "dw_co", "dx" (N, T, F), "dh0", "dc0" (N, H).
    """
    x, W_ih, W_hh, b_ih, b_hh, h0, c0, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 4,
                                                           h0, c0)
    w_ci, w_cf, w_co = _peepholes(hd, w_ci, w_cf, w_co)
    s = forward(x, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, h0, c0)
    n, t_len, _ = x.shape
    D = f64("dL_dH_direct", dL_dH_direct, shape=(n, t_len, hd))
    g = {"dL_dh": np.empty((n, t_len, hd)), "dL_dc": np.empty((n, t_len, hd)),
         "dW_ih": np.zeros_like(W_ih), "dW_hh": np.zeros_like(W_hh),
         "db_ih": np.zeros(4 * hd), "db_hh": np.zeros(4 * hd),
         "dw_ci": np.zeros(hd), "dw_cf": np.zeros(hd), "dw_co": np.zeros(hd),
         "dx": np.empty_like(x)}
    dh_next = np.zeros((n, hd))
    dc_next = np.zeros((n, hd))
    for t in reversed(range(t_len)):
        i, f, gg, o, c = (s[k][:, t] for k in "ifgoc")
        h_prev = s["h"][:, t - 1] if t > 0 else h0
        c_prev = s["c"][:, t - 1] if t > 0 else c0
        tc = np.tanh(c)
        dh = D[:, t] + dh_next
        dz_o = dh * tc * o * (1.0 - o)
        dc = dc_next + dh * o * (1.0 - tc ** 2) + dz_o * w_co
        g["dL_dh"][:, t] = dh
        g["dL_dc"][:, t] = dc
        dz_i = dc * gg * i * (1.0 - i)
        dz_f = dc * c_prev * f * (1.0 - f)
        dz_g = dc * i * (1.0 - gg ** 2)
        dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
        g["dW_ih"] += dz.T @ x[:, t]
        g["dW_hh"] += dz.T @ h_prev
        g["db_ih"] += dz.sum(axis=0)
        g["db_hh"] += dz.sum(axis=0)
        g["dw_ci"] += (dz_i * c_prev).sum(axis=0)
        g["dw_cf"] += (dz_f * c_prev).sum(axis=0)
        g["dw_co"] += (dz_o * c).sum(axis=0)
        g["dx"][:, t] = dz @ W_ih
        dh_next = dz @ W_hh
        dc_next = dc * f + dz_i * w_ci + dz_f * w_cf
    g["dh0"] = dh_next
    g["dc0"] = dc_next
    return g
