"""Oracle: 2-D cross-correlation (what torch calls conv2d) and 2-D max/avg pooling, by
explicit loops over the kernel offsets.

conv2d, for x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,)::

    out[n, o, y, x] = bias[o] + Σ_{c, ky, kx} xpad[n, gC + c, y·s_h + ky·d_h, x·s_w + kx·d_w]
                                              · weight[o, c, ky, kx]

where g = o // (O/groups) is the group of output channel o, C/groups input channels per
group, and xpad is x with zeros around it. Output size per axis:
⌊(size + pad_before + pad_after − d·(k − 1) − 1) / s⌋ + 1.
"""
from __future__ import annotations

import numpy as np

from ._common import f64


def _pair(name: str, v) -> tuple[int, int]:
    pair = (v, v) if np.isscalar(v) else tuple(v)
    if len(pair) != 2 or not all(int(p) == p and p >= 0 for p in pair):
        raise ValueError(f"{name} must be a non-negative int or a pair of them; got {v!r}")
    return int(pair[0]), int(pair[1])


def _pads(padding, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, ...]:
    """(top, bottom, left, right). 'same' splits d·(k − 1) with the extra pixel at the end,
    as torch does; 'valid' is no padding."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]
        return tuple(out)
    ph, pw = _pair("padding", padding)
    return (ph, ph, pw, pw)


def _out_size(size: int, before: int, after: int, k: int, s: int, d: int) -> int:
    n = (size + before + after - d * (k - 1) - 1) // s + 1
    if n < 1:
        raise ValueError(f"a kernel of {k} (dilation {d}) does not fit an input of {size} "
                         f"padded by {before}+{after}")
    return n


def _geometry(x_shape, kernel, stride, padding, dilation):
    stride, dilation = _pair("stride", stride), _pair("dilation", dilation)
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"stride and dilation must be ≥ 1; got {stride}, {dilation}")
    pads = _pads(padding, kernel, dilation)
    ho = _out_size(x_shape[2], pads[0], pads[1], kernel[0], stride[0], dilation[0])
    wo = _out_size(x_shape[3], pads[2], pads[3], kernel[1], stride[1], dilation[1])
    return stride, dilation, pads, ho, wo


def _window(a, ky, kx, stride, dilation, ho, wo):
    """The (…, ho, wo) view of ``a`` that kernel offset (ky, kx) meets."""
    y0, x0 = ky * dilation[0], kx * dilation[1]
    return a[..., y0:y0 + stride[0] * (ho - 1) + 1:stride[0],
             x0:x0 + stride[1] * (wo - 1) + 1:stride[1]]


def _pad(x, pads, value=0.0):
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _conv_args(x, weight, groups):
    x = f64("x", x, ndim=4)
    weight = f64("weight", weight, ndim=4)
    o, cg = weight.shape[:2]
    if groups < 1 or x.shape[1] % groups or o % groups or x.shape[1] // groups != cg:
        raise ValueError(f"conv2d with {groups} groups needs C and O divisible by groups and "
                         f"weight (O, C/groups, kh, kw); got x {x.shape}, weight {weight.shape}")
    return x, weight


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """(N, O, Ho, Wo). ``padding``: int, pair, 'same' or 'valid' (zeros)."""
    x, weight = _conv_args(x, weight, groups)
    o, cg, kh, kw = weight.shape
    stride, dilation, pads, ho, wo = _geometry(x.shape, (kh, kw), stride, padding, dilation)
    xp = _pad(x, pads)
    og = o // groups
    out = np.zeros((x.shape[0], o, ho, wo))
    for g in range(groups):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = weight[g * og:(g + 1) * og]
        for ky in range(kh):
            for kx in range(kw):
                patch = _window(xg, ky, kx, stride, dilation, ho, wo)
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, wg[:, :, ky, kx])
    if bias is not None:
        out += f64("bias", bias, shape=(o,))[None, :, None, None]
    return out


def conv2d_backward(x, weight, dout, stride=1, padding=0, dilation=1,
                    groups=1) -> dict[str, np.ndarray]:
    """Gradients of L given dout = ∂L/∂out: {"dx", "dweight", "dbias"}.

    Each kernel offset's term of the forward sum, read backwards: it sends dout·weight back
    to the input pixels it read, and dout·input to its weight.
    """
    x, weight = _conv_args(x, weight, groups)
    o, cg, kh, kw = weight.shape
    stride, dilation, pads, ho, wo = _geometry(x.shape, (kh, kw), stride, padding, dilation)
    dout = f64("dout", dout, shape=(x.shape[0], o, ho, wo))
    xp = _pad(x, pads)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(weight)
    og = o // groups
    for g in range(groups):
        xg, dxg = xp[:, g * cg:(g + 1) * cg], dxp[:, g * cg:(g + 1) * cg]
        dg = dout[:, g * og:(g + 1) * og]
        for ky in range(kh):
            for kx in range(kw):
                patch = _window(xg, ky, kx, stride, dilation, ho, wo)
                dw[g * og:(g + 1) * og, :, ky, kx] = np.einsum("nohw,nchw->oc", dg, patch)
                _window(dxg, ky, kx, stride, dilation, ho, wo)[...] += np.einsum(
                    "nohw,oc->nchw", dg, weight[g * og:(g + 1) * og, :, ky, kx])
    top, bottom, left, right = pads
    dx = dxp[:, :, top:dxp.shape[2] - bottom, left:dxp.shape[3] - right]
    return {"dx": dx, "dweight": dw, "dbias": dout.sum(axis=(0, 2, 3))}


def _windows(x, kernel_size, stride, padding, dilation, fill):
    """Every kernel offset's window of the padded input, stacked: (kh·kw, N, C, Ho, Wo)."""
    x = f64("x", x, ndim=4)
    kernel = _pair("kernel_size", kernel_size)
    stride = kernel if stride is None else stride
    stride, dilation, pads, ho, wo = _geometry(x.shape, kernel, stride, padding, dilation)
    xp = _pad(x, pads, fill)
    return np.stack([_window(xp, ky, kx, stride, dilation, ho, wo)
                     for ky in range(kernel[0]) for kx in range(kernel[1])])


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1) -> np.ndarray:
    """Max over each window; padding counts as −∞ (never wins). Stride defaults to the
    kernel size, as in torch."""
    return _windows(x, kernel_size, stride, padding, dilation, -np.inf).max(axis=0)


def avg_pool2d(x, kernel_size, stride=None, padding=0,
               count_include_pad: bool = True) -> np.ndarray:
    """Mean over each window; padding counts as zeros. With count_include_pad the divisor
    is kh·kw, otherwise the number of real (unpadded) pixels in the window."""
    total = _windows(x, kernel_size, stride, padding, 1, 0.0).sum(axis=0)
    if count_include_pad:
        kh, kw = _pair("kernel_size", kernel_size)
        return total / (kh * kw)
    real = np.ones((1, 1) + np.shape(x)[2:])
    return total / _windows(real, kernel_size, stride, padding, 1, 0.0).sum(axis=0)
