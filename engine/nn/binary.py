"""Binary-weight (BWN) and XNOR layers (Rastegari et al. 2016, XNOR-Net).

The layers keep real-valued latent weights for training; the forward pass uses
sign(W)·α, α = mean |W| per output unit/channel. Deployed, each weight is one bit plus one
float α per output: 32x smaller than float32. In "xnor" mode the inputs are binarised too,
sign(x)·β with β = mean |x| per sample over (C[, H, W]), so a dot product becomes XNOR +
popcount on hardware that supports it.

Gradients use the straight-through estimator: d sign(x)/dx is taken as 1 where |x| ≤ 1
and 0 elsewhere for inputs, and as 1 everywhere for the latent weights (the gradient
w.r.t. the binarised weight is applied to the real one unchanged). The scales α and β
are constants in the backward pass. sign(0) is taken as +1 so that every value is ±1.
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


class _BinaryWeightSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w):
        alpha = w.abs().mean(dim=tuple(range(1, w.dim())), keepdim=True)
        return binary_sign(w) * alpha

    @staticmethod
    def backward(ctx, grad):
        return grad


def binarize_weight(w: torch.Tensor) -> torch.Tensor:
    """sign(W)·α with α = mean |W| over all dims but the first (one α per output unit or
    channel); the gradient passes to ``w`` unchanged."""
    return _BinaryWeightSTE.apply(w)


def binarize_input(x: torch.Tensor) -> torch.Tensor:
    """sign(x)·β with β = mean |x| per sample over every dim but the batch; the gradient
    of sign passes where |x| ≤ 1 (scaled by β)."""
    beta = x.detach().abs().mean(dim=tuple(range(1, x.dim())), keepdim=True)
    return _SignSTE.apply(x) * beta


class BinaryLinear(nn.Linear):
    """Dense layer with binarised weights ("bwn") or weights and inputs ("xnor")."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, mode: str = "xnor"):
        if mode not in MODES:
            raise ValueError(f"binary mode must be one of {', '.join(MODES)}; got {mode!r}")
        super().__init__(in_features, out_features, bias=bias)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "xnor":
            x = binarize_input(x)
        return F.linear(x, binarize_weight(self.weight), self.bias)

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
        if self.mode == "xnor":
            x = binarize_input(x)
        return self._conv_forward(x, binarize_weight(self.weight), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mode={self.mode}"
