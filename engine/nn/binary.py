"""Binary-weight (BWN) and XNOR layers (Rastegari et al. 2016, XNOR-Net).

The layers keep real-valued latent weights for training; the forward pass uses
sign(W)·α, α = mean |W| per output unit/channel. Deployed, each weight is one bit plus one
float α per output: 32x smaller than float32. In "xnor" mode the inputs are binarised too,
sign(x)·β with β = mean |x| per sample over (C[, H, W]), so a dot product becomes XNOR +
popcount on hardware that supports it.

Gradients use the straight-through estimator (the paper's section 3.2): d sign(r)/dr is
taken as 1 where |r| ≤ 1 and 0 elsewhere, for the inputs and for the latent weights. A
latent weight gets the gradient of its binarised weight W̃ = sign(W)·α unchanged while
|W| ≤ 1, and none once it has grown past ±1 (there its sign can no longer change for a
small step, and the estimator stops it growing further). The scales α and β are constants
in the backward pass (the paper's 1/n term through α is left out). sign(0) is taken as +1
so that every value is ±1. engine.probes.binary records what these layers do in training.

The forward pass computes the ±1 products first and scales by α (and β) afterwards:
conv(sign(x), sign(W))·α·β equals conv(sign(x)·β, sign(W)·α), but its sums are whole
numbers, exact in float32 whatever order a kernel adds them in. Summing ±α·β terms instead
left rounding residues (±1e-8) where the +1s and -1s cancel, whose sign depended on the
kernel (torch's CPU kernel, CUDA, onnxruntime); the next binary layer's sign() turned that
noise into ±β flips, so the same weights gave outputs 4e-2 apart between runtimes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("xnor", "bwn")


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """±1 with sign(0) = +1."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return binary_sign(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class _SignWeightSTE(torch.autograd.Function):
    """sign(W) for a layer that scales its output by α afterwards. The latent weights get the
    gradient of the scaled weight sign(W)·α where |W| ≤ 1 (the straight-through estimator),
    so backward undoes the α the output scaling put into the gradient."""

    @staticmethod
    def forward(ctx, w, alpha):
        ctx.save_for_backward(w, alpha)
        return binary_sign(w)

    @staticmethod
    def backward(ctx, grad):
        w, alpha = ctx.saved_tensors
        # α = 0 only where every latent weight of an output is exactly 0: no gradient there.
        keep = (alpha > 0) & (w.abs() <= 1)
        safe = torch.where(alpha > 0, alpha, torch.ones_like(alpha))
        return torch.where(keep, grad / safe, torch.zeros_like(grad)), None


def weight_scale(w: torch.Tensor) -> torch.Tensor:
    """α = mean |W| over all dims but the first (one per output unit or channel), kept as
    (out, 1, ...), a constant for backward."""
    return w.detach().abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)


def input_scale(x: torch.Tensor) -> torch.Tensor:
    """β = mean |x| per sample over every dim but the batch, kept as (N, 1, ...), a constant
    for backward."""
    return x.detach().abs().mean(dim=tuple(range(1, x.dim())), keepdim=True)


def binary_forward(layer: nn.Module, x: torch.Tensor, op) -> torch.Tensor:
    """op(sign(x) or x, sign(W))·α[·β] + bias for a BinaryLinear or BinaryConv2d ``layer``;
    ``op(x, w)`` is its linear map without bias."""
    alpha = weight_scale(layer.weight)
    y = op(_SignSTE.apply(x) if layer.mode == "xnor" else x, _SignWeightSTE.apply(layer.weight, alpha))
    scale = alpha.reshape(-1, *[1] * (y.dim() - 2))  # α per output channel/unit (dim 1)
    if layer.mode == "xnor":
        # One product by α·β (N, C, 1, 1), not by a constant α: onnxruntime folds a constant
        # factor after a Conv/Gemm into its weights, which makes the sums inexact again.
        scale = input_scale(x) * scale
    y = y * scale
    if layer.bias is not None:
        y = y + layer.bias.reshape(-1, *[1] * (y.dim() - 2))
    return y


class BinaryLinear(nn.Linear):
    """Dense layer with binarised weights ("bwn") or weights and inputs ("xnor")."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, mode: str = "xnor"):
        if mode not in MODES:
            raise ValueError(f"binary mode must be one of {', '.join(MODES)}; got {mode!r}")
        super().__init__(in_features, out_features, bias=bias)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return binary_forward(self, x, F.linear)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mode={self.mode}"


class BinaryConv2d(nn.Conv2d):
    """2-D convolution with binarised weights ("bwn") or weights and inputs ("xnor").
    Padding adds zeros after the input is binarised."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, bias: bool = True, mode: str = "xnor"):
        if mode not in MODES:
            raise ValueError(f"binary mode must be one of {', '.join(MODES)}; got {mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return binary_forward(self, x, lambda x, w: self._conv_forward(x, w, None))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mode={self.mode}"
