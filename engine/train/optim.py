"""Optimizers and the learning-rate schedule.

The schedule is a multiplier on a base LR: a linear warm-up (first ``warmup_steps``
steps) times one of constant / step decay / cosine / reduce-on-plateau, the latter
counted from the end of the warm-up. It is written out here rather than chained from
torch's schedulers because warm-up must compose with reduce-on-plateau and the user may
set the LR by hand mid-run; both are awkward with ``SequentialLR``.
"""
from __future__ import annotations

import math

import torch

from .errors import TrainError


def build_optimizer(settings: dict, params) -> torch.optim.Optimizer:
    name = settings["optimizer"]
    lr = float(settings["lr"])
    wd = float(settings["weight_decay"])
    momentum = float(settings["momentum"])
    if name == "sgd":
        nesterov = bool(settings["nesterov"])
        if nesterov and momentum <= 0:
            raise TrainError("Nesterov momentum needs a momentum above 0; set momentum or turn "
                             "Nesterov off.")
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=wd)
    raise TrainError(f"Optimizer '{name}' is unknown: use sgd, adam, adamw or rmsprop.")


class LRSchedule:
    """lr(step) = base_lr * warmup(step) * decay(step); ``step`` counts finished updates."""

    def __init__(self, settings: dict, total_steps: int):
        self.base_lr = float(settings["lr"])
        self.kind = settings["schedule"]
        self.warmup = int(settings["warmup_steps"] or 0)
        self.step_size = int(settings["step_size"])
        self.gamma = float(settings["gamma"])
        self.patience = int(settings["plateau_patience"])
        self.total = max(1, int(total_steps))
        self.plateau_factor = 1.0
        self.best = math.inf
        self.bad_validations = 0
        if self.kind not in ("constant", "step", "cosine", "plateau"):
            raise TrainError(f"LR schedule '{self.kind}' is unknown: use constant, step, cosine or plateau.")

    def factor(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        t = max(0, step - self.warmup)
        if self.kind == "step":
            decay = self.gamma ** (t // self.step_size)
        elif self.kind == "cosine":
            span = max(1, self.total - self.warmup)
            decay = 0.5 * (1.0 + math.cos(math.pi * min(t, span) / span))
        elif self.kind == "plateau":
            decay = self.plateau_factor
        else:
            decay = 1.0
        return warm * decay

    def lr(self, step: int) -> float:
        return self.base_lr * self.factor(step)

    def observe(self, val_loss: float) -> bool:
        """Feed a validation loss; True when reduce-on-plateau just lowered the LR."""
        if self.kind != "plateau" or not math.isfinite(val_loss):
            return False
        if val_loss < self.best * (1 - 1e-4):
            self.best, self.bad_validations = val_loss, 0
            return False
        self.bad_validations += 1
        if self.bad_validations >= self.patience:
            self.plateau_factor *= self.gamma
            self.bad_validations = 0
            return True
        return False

    def set_current(self, lr: float, step: int) -> None:
        """Rescale the schedule so that the LR at ``step`` is ``lr``; later steps keep
        their shape (a cosine keeps decaying, from the new level)."""
        f = self.factor(step)
        self.base_lr = float(lr) / f if f > 0 else float(lr)

    def state(self) -> dict:
        return {"base_lr": self.base_lr, "plateau_factor": self.plateau_factor,
                "best": None if math.isinf(self.best) else self.best,
                "bad_validations": self.bad_validations}

    def load_state(self, state: dict) -> None:
        self.base_lr = float(state["base_lr"])
        self.plateau_factor = float(state["plateau_factor"])
        self.best = math.inf if state.get("best") is None else float(state["best"])
        self.bad_validations = int(state.get("bad_validations", 0))
