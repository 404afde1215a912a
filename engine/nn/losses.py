"""Losses as modules taking (prediction, target); sequence outputs are flattened over time."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CrossEntropy(nn.Module):
    """Softmax cross-entropy on logits (N, C) with class ids (N,), or per time step on
    (N, T, C) with (N, T)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1).long())


class BinaryCrossEntropy(nn.Module):
    """Binary cross-entropy on logits (sigmoid applied inside, numerically stable)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(pred, target.reshape(pred.shape).to(pred.dtype))


class _Regression(nn.Module):
    fn = staticmethod(F.mse_loss)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(pred, target.reshape(pred.shape).to(pred.dtype))


class MSE(_Regression):
    fn = staticmethod(F.mse_loss)


class L1(_Regression):
    fn = staticmethod(F.l1_loss)


class Huber(nn.Module):
    def __init__(self, delta: float = 1.0):
        super().__init__()
        self.delta = delta

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.huber_loss(pred, target.reshape(pred.shape).to(pred.dtype), delta=self.delta)
