"""Convolution variants torch does not ship as one module."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CausalConv1d(nn.Conv1d):
    """Dilated 1-D convolution that sees only the past: output t depends on inputs <= t.

    Pads (kernel_size - 1) * dilation zeros on the left only, so the length is kept
    (the building block of a TCN, Bai et al. 2018).
    """

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_pad, 0)))


class GlobalAvgPool(nn.Module):
    """Mean over every spatial/temporal dim: (N, C, ...) -> (N, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(dim=2)


class Maxout(nn.Module):
    """Maxout (Goodfellow et al. 2013): the max over groups of ``pieces`` consecutive
    features of dim 1 (channels or features): (N, C, ...) -> (N, C / pieces, ...)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        return x.reshape(n, c // self.pieces, self.pieces, *x.shape[2:]).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"
