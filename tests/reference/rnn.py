"""Oracle: the vanilla (Elman) tanh RNN, one layer, one direction, batch-first.

Equations (row-vector form, x_t (N, F), h_t (N, Hd))::

    a_t = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh
    h_t = tanh(a_t),        h_{−1} = h0 (zeros by default)

Weight layout as torch.nn.RNN: W_ih (Hd, F), W_hh (Hd, Hd), b_ih (Hd,), b_hh (Hd,).
A bias given as None counts as zeros.

Backpropagation through time, for a loss L whose direct gradient on the outputs is
D_t = ∂L/∂y_t with y_t = h_t (the argument ``dL_dH_direct``)::

    dL/dh_t = D_t + dL/da_{t+1} W_hh          (total: every recurrent path after t)
    dL/da_t = dL/dh_t ⊙ (1 − h_t²)

"Total dL/dh_t" means the derivative of L with respect to a perturbation added to h_t
right after it is computed (see ``h_shift``), which is how the tests define it.
"""
from __future__ import annotations

import numpy as np

from ._common import f64, recurrent_args


def forward(x, W_ih, W_hh, b_ih=None, b_hh=None, h0=None, *, h_shift=None) -> np.ndarray:
    """H (N, T, Hd): h_t for every step.

    ``h_shift`` (N, T, Hd), if given, is added to h_t as soon as it is computed, so that it
    reaches both the output and every later step: ∂L/∂h_shift is the total dL/dh_t.
    """
    x, W_ih, W_hh, b_ih, b_hh, h, _, _ = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 1, h0)
    n, t_len, _ = x.shape
    out = np.empty((n, t_len, W_hh.shape[0]))
    for t in range(t_len):
        h = np.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        if h_shift is not None:
            h = h + h_shift[:, t]
        out[:, t] = h
    return out


def bptt(x, W_ih, W_hh, b_ih, b_hh, dL_dH_direct, h0=None) -> dict[str, np.ndarray]:
    """Gradients of L by the chain rule, written out by hand.

    Returns "dL_dh" (N, T, Hd) — the total gradient on each h_t —, and "dW_ih", "dW_hh",
    "db_ih", "db_hh", "dx" (N, T, F), "dh0" (N, Hd).
    """
    x, W_ih, W_hh, b_ih, b_hh, h0, _, _ = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 1, h0)
    H = forward(x, W_ih, W_hh, b_ih, b_hh, h0)
    D = f64("dL_dH_direct", dL_dH_direct, shape=H.shape)
    n, t_len, hd = H.shape
    g = {"dL_dh": np.empty_like(H), "dW_ih": np.zeros_like(W_ih),
         "dW_hh": np.zeros_like(W_hh), "db_ih": np.zeros(hd), "db_hh": np.zeros(hd),
         "dx": np.empty_like(x)}
    dh_from_next = np.zeros((n, hd))
    for t in reversed(range(t_len)):
        dh = D[:, t] + dh_from_next
        g["dL_dh"][:, t] = dh
        da = dh * (1.0 - H[:, t] ** 2)
        h_prev = H[:, t - 1] if t > 0 else h0
        g["dW_ih"] += da.T @ x[:, t]
        g["dW_hh"] += da.T @ h_prev
        g["db_ih"] += da.sum(axis=0)
        g["db_hh"] += da.sum(axis=0)
        g["dx"][:, t] = da @ W_ih
        dh_from_next = da @ W_hh
    g["dh0"] = dh_from_next
    return g
