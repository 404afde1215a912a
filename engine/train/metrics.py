"""Validation metrics, accumulated on the training device and fetched once at the end."""
from __future__ import annotations

import torch


def predicted_classes(pred: torch.Tensor) -> torch.Tensor:
    """Class ids from logits: argmax over the last dim; a single logit means binary (> 0)."""
    if pred.shape[-1] == 1:
        return (pred[..., 0] > 0).long()
    return pred.argmax(-1)


def norm_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of the norms :func:`tensor_norms` gives tensors of ``dtype``: float32 for
    half precision, else their own."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def tensor_norms(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """The L2 norm of every tensor as a 0-d tensor, in one fused call (the call
    clip_grad_norm_ makes)."""
    dtype = norm_dtype(tensors[0].dtype)
    if dtype != tensors[0].dtype:
        return list(torch._foreach_norm(tensors, 2, dtype=dtype))
    return list(torch._foreach_norm(tensors))


def batch_accuracy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The fraction of predictions whose class is the target's (a 0-d float32 tensor on
    their device; per-step targets count every time step)."""
    return (predicted_classes(pred) == target).float().mean()


class ClassificationTally:
    """Loss sum and a confusion matrix over batches. Per-step targets (N, T) count every
    time step as one prediction."""

    def __init__(self, num_classes: int, device: torch.device):
        self.c = num_classes
        self.confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.count = 0

    def add(self, pred: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        y = target.reshape(-1).long()
        p = predicted_classes(pred).reshape(-1)
        self.confusion += torch.bincount(y * self.c + p, minlength=self.c * self.c)
        self.loss_sum += loss.detach().double() * y.numel()
        self.count += y.numel()

    def result(self, class_names=()) -> dict:
        m = self.confusion.view(self.c, self.c).cpu()
        tp = m.diag().double()
        predicted = m.sum(0).double()
        actual = m.sum(1).double()
        precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.nan)
        recall = torch.where(actual > 0, tp / actual.clamp(min=1), torch.nan)
        names = list(class_names) if len(class_names) == self.c else [str(i) for i in range(self.c)]
        return {
            "loss": float(self.loss_sum) / max(1, self.count),
            "accuracy": float(tp.sum()) / max(1, self.count),
            "precision": {n: _float_or_none(v) for n, v in zip(names, precision.tolist())},
            "recall": {n: _float_or_none(v) for n, v in zip(names, recall.tolist())},
            "confusion": m.tolist(),
            "samples": self.count,
        }


class ValueTally:
    """Loss only (regression targets); accuracy is None."""

    def __init__(self, device: torch.device):
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.count = 0

    def add(self, pred: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        n = target.shape[0]
        self.loss_sum += loss.detach().double() * n
        self.count += n

    def result(self, class_names=()) -> dict:
        return {"loss": float(self.loss_sum) / max(1, self.count), "accuracy": None,
                "samples": self.count}


def _float_or_none(v: float):
    return None if v != v else float(v)  # NaN (no samples of that class) -> None, JSON-able
