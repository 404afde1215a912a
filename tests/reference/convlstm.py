"""Oracle: the convolutional LSTM (Shi et al. 2015) without the paper's peephole terms,
one layer, one direction, batch-first: x (N, T, C, Hh, Ww).

One 2-D convolution with 'same' zero padding (odd kernel, stride 1) over the channel
concatenation [x_t, h_{t−1}]: weight (4·hid, C + hid, kh, kw), bias (4·hid,), output
channels in blocks of hid in the order (i, f, g, o) — input channels first, then hidden::

    z_t = conv2d(concat([x_t, h_{t−1}]), weight) + bias,   split into (z_i, z_f, z_g, z_o)
    i_t = σ(z_i)   f_t = σ(z_f)   g_t = tanh(z_g)   o_t = σ(z_o)
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t;    h_t = o_t ⊙ tanh(c_t)      (all elementwise)

Backpropagation through time is the LSTM's (see :mod:`lstm`), with the matrix products by
W_hh, W_ih replaced by the convolution's input gradient (:func:`conv2d.conv2d_backward`).
Total gradients are derivatives with respect to a perturbation added to h_t (c_t) right
after it is computed (``h_shift``/``c_shift``).
"""
from __future__ import annotations

import numpy as np

from ._common import f64, optional, sigmoid
from .conv2d import conv2d, conv2d_backward


def _args(x, weight, bias, h0, c0):
    x = f64("x", x, ndim=5)
    weight = f64("weight", weight, ndim=4)
    n, _, ch, hh, ww = x.shape
    rows, cin, kh, kw = weight.shape
    hid = rows // 4
    if rows != 4 * hid or cin != ch + hid:
        raise ValueError(f"ConvLSTM weight must be (4·hid, C + hid, k, k) for C = {ch}; "
                         f"got {weight.shape}")
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"ConvLSTM kernel must be odd for 'same' padding; got {(kh, kw)}")
    state = (n, hid, hh, ww)
    return (x, weight, optional("bias", bias, (rows,)), optional("h0", h0, state),
            optional("c0", c0, state), hid, (kh // 2, kw // 2))


def forward(x, weight, bias=None, h0=None, c0=None, *, h_shift=None,
            c_shift=None) -> dict[str, np.ndarray]:
    """{"i", "f", "g", "o", "c", "h"}: each (N, T, hid, Hh, Ww), keyed by name."""
    x, weight, bias, h, c, hid, pad = _args(x, weight, bias, h0, c0)
    n, t_len = x.shape[:2]
    out = {k: np.empty((n, t_len) + h.shape[1:]) for k in "ifgoch"}
    for t in range(t_len):
        z = conv2d(np.concatenate([x[:, t], h], axis=1), weight, bias, padding=pad)
        zi, zf, zg, zo = np.split(z, 4, axis=1)
        i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
        c = f * c + i * g
        if c_shift is not None:
            c = c + c_shift[:, t]
        h = o * np.tanh(c)
        if h_shift is not None:
            h = h + h_shift[:, t]
        for k, v in zip("ifgoch", (i, f, g, o, c, h)):
            out[k][:, t] = v
    return out


def bptt(x, weight, bias, dL_dH_direct, h0=None, c0=None) -> dict[str, np.ndarray]:
    """Gradients of L by the chain rule. Returns "dL_dh", "dL_dc" (N, T, hid, Hh, Ww)
    (total), "dweight", "dbias", "dx" (N, T, C, Hh, Ww), "dh0", "dc0"."""
    x, weight, bias, h0, c0, hid, pad = _args(x, weight, bias, h0, c0)
    s = forward(x, weight, bias, h0, c0)
    n, t_len, ch = x.shape[:3]
    D = f64("dL_dH_direct", dL_dH_direct, shape=s["h"].shape)
    g = {"dL_dh": np.empty_like(D), "dL_dc": np.empty_like(D),
         "dweight": np.zeros_like(weight), "dbias": np.zeros(4 * hid), "dx": np.empty_like(x)}
    dh_next = np.zeros_like(h0)
    dc_next = np.zeros_like(c0)
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
        back = conv2d_backward(np.concatenate([x[:, t], h_prev], axis=1), weight, dz,
                               padding=pad)
        g["dweight"] += back["dweight"]
        g["dbias"] += back["dbias"]
        g["dx"][:, t] = back["dx"][:, :ch]
        dh_next = back["dx"][:, ch:]
        dc_next = dc * f
    g["dh0"] = dh_next
    g["dc0"] = dc_next
    return g
