"""Oracle: binary-weight (BWN) and XNOR layers, from Rastegari et al. 2016, "XNOR-Net:
ImageNet Classification Using Binary Convolutional Neural Networks", written from its
equations in float64 numpy.

Conventions (the paper leaves sign(0) open; we state ours):

- sign(v) = +1 for v ≥ 0 and −1 for v < 0, so every binary value is ±1 (sign(0) = +1).
- Weights (eq. 2-4): W ≈ α·B with B = sign(W) and α = ‖W‖_ℓ1 / n = mean |W| over the n
  weights of one output channel (dense: one output unit).
- Inputs (eq. 7-11): X ≈ β·H with H = sign(X) and β = ‖X‖_ℓ1 / n. The paper computes β
  for every sub-tensor a kernel window covers (its map K = A ∗ k, A = mean over channels
  of |I|); the layers checked here use one β per sample, the mean |x| over all of
  (C, H, W) (or the features of a dense input): ``input_scale``.
- Output: XNOR: (H ⊛ B)·α·β + bias; BWN (weights only): (X ⊛ B)·α + bias, where ⊛ is
  the convolution (cross-correlation, zero padding after binarising) or the dense product.
- Backward (section 3.2, "straight-through estimator" of Hubara et al./Bengio et al.):
  ∂sign(r)/∂r is taken as 1_{|r| ≤ 1} for the inputs and for the latent weights; α and β
  are constants. The latent weight W therefore gets ∂L/∂W̃ · 1_{|W| ≤ 1}, W̃ = α·B the
  binarised weight; the input gets ∂L/∂X̃ · 1_{|X| ≤ 1}, X̃ = H (XNOR; β·H enters the
  output only through the constant β).
- Memory (section 3, "32× smaller"): 1 bit per binary weight against 32 for float32,
  plus one float32 α per output channel (and a float32 bias when there is one).
- Compute (section 3.2, "speedup"): a convolution with c input channels, N_W = kernel
  area and N_I output positions does c·N_W·N_I multiply-adds per output channel; binary,
  the same products become XNOR + popcount, 64 per 64-bit instruction, plus N_I
  multiplications by α·β: speedup S = c·N_W·N_I / (c·N_W·N_I / 64 + N_I).
"""
from __future__ import annotations

import numpy as np

from . import conv2d as conv_oracle
from ._common import f64


def sign(v) -> np.ndarray:
    """±1, with sign(0) = +1."""
    a = f64("v", v)
    return np.where(a >= 0, 1.0, -1.0)


def weight_scale(w) -> np.ndarray:
    """α per output channel (row 0 of W): mean |W| over every other dimension."""
    a = f64("weight", w)
    if a.ndim < 2:
        raise ValueError(f"weight must be at least 2-D (outputs first); got shape {a.shape}")
    return np.abs(a.reshape(a.shape[0], -1)).mean(axis=1)


def input_scale(x) -> np.ndarray:
    """β (the layer's K) per sample: mean |x| over every dimension but the batch."""
    a = f64("x", x)
    if a.ndim < 2:
        raise ValueError(f"x must be at least 2-D (batch first); got shape {a.shape}")
    return np.abs(a.reshape(a.shape[0], -1)).mean(axis=1)


def binarised_weight(w) -> np.ndarray:
    """W̃ = α·sign(W), α broadcast over each output channel."""
    a = f64("weight", w)
    return sign(a) * weight_scale(a).reshape(-1, *[1] * (a.ndim - 1))


def _op(x, w, padding, stride):
    if w.ndim == 4:
        return conv_oracle.conv2d(x, w, stride=stride, padding=padding)
    return x @ w.T


def forward(x, w, bias=None, mode: str = "xnor", padding=0, stride=1) -> np.ndarray:
    """A binary dense (x (N, F), w (O, F)) or conv (x (N, C, H, W), w (O, C, k, k)) layer."""
    if mode not in ("xnor", "bwn"):
        raise ValueError(f"mode must be 'xnor' or 'bwn'; got {mode!r}")
    x, w = f64("x", x), f64("weight", w)
    alpha = weight_scale(w)
    extra = [1] * (x.ndim - 2)
    if mode == "xnor":
        y = _op(sign(x), sign(w), padding, stride) * alpha.reshape(1, -1, *extra) \
            * input_scale(x).reshape(-1, 1, *extra)
    else:
        y = _op(x, sign(w), padding, stride) * alpha.reshape(1, -1, *extra)
    if bias is not None:
        y = y + f64("bias", bias, shape=(w.shape[0],)).reshape(1, -1, *extra)
    return y


def ste_mask(r) -> np.ndarray:
    """The straight-through estimate of ∂sign(r)/∂r: 1 where |r| ≤ 1, else 0."""
    return (np.abs(f64("r", r)) <= 1).astype(np.float64)


def backward(x, w, dout, mode: str = "xnor", padding=0, stride=1) -> dict[str, np.ndarray]:
    """{"dx", "dweight", "dweight_binarised"}: the gradients the straight-through estimator
    gives for dout = ∂L/∂y. ``dweight_binarised`` is ∂L/∂W̃ (W̃ = α·sign(W)); ``dweight``
    the latent weight's, ∂L/∂W̃ · 1_{|W| ≤ 1}."""
    x, w, dout = f64("x", x), f64("weight", w), f64("dout", dout)
    extra = [1] * (x.ndim - 2)
    w_tilde = binarised_weight(w)
    if mode == "xnor":
        inp = sign(x)
        # y = β·(H ⊛ W̃): the factor β of each sample goes with dout
        d = dout * input_scale(x).reshape(-1, 1, *extra)
    else:
        inp, d = x, dout
    if w.ndim == 4:
        g = conv_oracle.conv2d_backward(inp, w_tilde, d, stride=stride, padding=padding)
        d_in, d_w = g["dx"], g["dweight"]
    else:
        d_in, d_w = d @ w_tilde, d.T @ inp
    dx = d_in * ste_mask(x) if mode == "xnor" else d_in
    return {"dx": dx, "dweight": d_w * ste_mask(w), "dweight_binarised": d_w}


def cancelled_fraction(r) -> float:
    """Fraction of the values whose straight-through gradient is 0 (|r| > 1)."""
    a = f64("r", r)
    return float(np.count_nonzero(np.abs(a) > 1) / a.size)


def flip_fraction(w_before, w_after) -> float:
    """Fraction of the weights whose binary value sign(W) changed between two states."""
    b, a = f64("w_before", w_before), f64("w_after", w_after)
    if b.shape != a.shape:
        raise ValueError(f"w_before and w_after must have the same shape; got {b.shape} and {a.shape}")
    return float(np.count_nonzero(sign(b) != sign(a)) / b.size)


def memory_bits(n_weights: int, outputs: int, bias: bool) -> dict[str, float]:
    """Bits of storage of one layer's weights: float32, and binary (1 bit per weight, a
    float32 α per output, the bias kept in float32)."""
    floats = 32 * (n_weights + (outputs if bias else 0))
    binary = n_weights + 32 * outputs + (32 * outputs if bias else 0)
    return {"float32": float(floats), "binary": float(binary), "signs_ratio": 32.0,
            "ratio": floats / binary, "bits_per_weight": binary / n_weights}


def speedup(c: int, n_w: int, n_i: int, word: int = 64) -> float:
    """The paper's estimated speedup of a binary convolution over its float twin (§3.2)."""
    return c * n_w * n_i / (c * n_w * n_i / word + n_i)
