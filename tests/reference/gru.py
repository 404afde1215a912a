"""Oracle: the GRU as torch.nn.GRU computes it (Cho et al. 2014, with the reset gate
applied after the recurrent matrix product), one layer, one direction, batch-first.

Weight layout as torch: W_ih (3H, F), W_hh (3H, H), b_ih (3H,), b_hh (3H,), the blocks of
H rows in the order (r, z, n). A bias given as None counts as zeros::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}

(z_t is the weight of the *old* state: z = 1 keeps h unchanged.)

Backpropagation through time (D_t = ``dL_dH_direct``; a_n = W_hn h_{t−1} + b_hn)::

    dL/dh_t  = D_t + dL/dh_{t+1} ⊙ z_{t+1} + δ^h_{t+1} W_hh               (total)
    dL/dn_t  = dL/dh_t ⊙ (1 − z_t);   dL/dz_t = dL/dh_t ⊙ (h_{t−1} − n_t)
    dL/d(pre n) = dL/dn_t ⊙ (1 − n_t²);   dL/dr_t = dL/d(pre n) ⊙ a_n
    input-side pre-activation grads  (r, z, n): (dr σ', dz σ', dL/d(pre n))
    hidden-side pre-activation grads (r, z, n): (dr σ', dz σ', dL/d(pre n) ⊙ r_t) = δ^h_t

Total dL/dh_t is the derivative with respect to a perturbation added to h_t right after it
is computed (``h_shift``).
"""
from __future__ import annotations

import numpy as np

from ._common import blocks, f64, recurrent_args, sigmoid

GATES = "rzn"  # torch's row order


def forward(x, W_ih, W_hh, b_ih=None, b_hh=None, h0=None, *,
            h_shift=None) -> dict[str, np.ndarray]:
    """{"r", "z", "n", "h"}: each (N, T, H), keyed by name."""
    x, W_ih, W_hh, b_ih, b_hh, h, _, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 3, h0)
    n_, t_len, _ = x.shape
    out = {k: np.empty((n_, t_len, hd)) for k in "rznh"}
    for t in range(t_len):
        a_x = blocks(x[:, t] @ W_ih.T + b_ih, GATES)
        a_h = blocks(h @ W_hh.T + b_hh, GATES)
        r = sigmoid(a_x["r"] + a_h["r"])
        z = sigmoid(a_x["z"] + a_h["z"])
        n = np.tanh(a_x["n"] + r * a_h["n"])
        h = (1.0 - z) * n + z * h
        if h_shift is not None:
            h = h + h_shift[:, t]
        for k, v in zip("rznh", (r, z, n, h)):
            out[k][:, t] = v
    return out


def bptt(x, W_ih, W_hh, b_ih, b_hh, dL_dH_direct, h0=None) -> dict[str, np.ndarray]:
    """Gradients of L by the chain rule, written out by hand.

    Returns "dL_dh" (N, T, H) (total), "dW_ih", "dW_hh", "db_ih", "db_hh",
    "dx" (N, T, F), "dh0" (N, H).
    """
    x, W_ih, W_hh, b_ih, b_hh, h0, _, hd = recurrent_args(x, W_ih, W_hh, b_ih, b_hh, 3, h0)
    s = forward(x, W_ih, W_hh, b_ih, b_hh, h0)
    n_, t_len, _ = x.shape
    D = f64("dL_dH_direct", dL_dH_direct, shape=(n_, t_len, hd))
    g = {"dL_dh": np.empty((n_, t_len, hd)), "dW_ih": np.zeros_like(W_ih),
         "dW_hh": np.zeros_like(W_hh), "db_ih": np.zeros(3 * hd), "db_hh": np.zeros(3 * hd),
         "dx": np.empty_like(x)}
    W_hn, b_hn = W_hh[2 * hd:], b_hh[2 * hd:]
    dh_next = np.zeros((n_, hd))
    for t in reversed(range(t_len)):
        r, z, n = (s[k][:, t] for k in "rzn")
        h_prev = s["h"][:, t - 1] if t > 0 else h0
        dh = D[:, t] + dh_next
        g["dL_dh"][:, t] = dh
        dpre_n = dh * (1.0 - z) * (1.0 - n ** 2)
        dpre_z = dh * (h_prev - n) * z * (1.0 - z)
        dpre_r = dpre_n * (h_prev @ W_hn.T + b_hn) * r * (1.0 - r)
        d_in = np.concatenate([dpre_r, dpre_z, dpre_n], axis=1)
        d_hid = np.concatenate([dpre_r, dpre_z, dpre_n * r], axis=1)
        g["dW_ih"] += d_in.T @ x[:, t]
        g["dW_hh"] += d_hid.T @ h_prev
        g["db_ih"] += d_in.sum(axis=0)
        g["db_hh"] += d_hid.sum(axis=0)
        g["dx"][:, t] = d_in @ W_ih
        dh_next = dh * z + d_hid @ W_hh
    g["dh0"] = dh_next
    return g
