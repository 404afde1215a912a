"""Per-sample reshaping modules (the batch dimension is always kept)."""
from __future__ import annotations

import torch
from torch import nn


class Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Permute(nn.Module):
    def __init__(self, order):
        super().__init__()
        self.order = (0, *order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.order)

    def extra_repr(self) -> str:
        return f"order={self.order}"
