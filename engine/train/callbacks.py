"""The observer interface of the Trainer: probes, recorders, progress bars and the worker's
command handling are all callbacks. Every method is optional; step numbers are 1-based
(the n-th update is step n)."""
from __future__ import annotations


def step_after(step: int, seconds: float, step_time: float) -> int:
    """The step about ``seconds`` after ``step`` at ``step_time`` seconds a step, and at least
    the next: a :attr:`Callback.quiet_until` that keeps a deadline."""
    return step + max(1, int(seconds / step_time)) if step_time > 0 else step + 1


class Callback:
    #: Steps before this one need neither :meth:`on_after_backward` nor :meth:`on_step_end`.
    #: A callback with nothing to do on most steps sets it in on_step_end; while every
    #: callback's lies ahead the trainer calls none (a few calls into cold code cost a
    #: small network ~1 % a step). It may still be called before, for another callback's
    #: sake. 0: every step. Whoever changes what a callback needs between steps calls
    #: ``trainer.wake()``.
    quiet_until: int = 0

    def on_start(self, trainer) -> None:
        """Model compiled, data on the device, before the first step."""

    def on_after_backward(self, trainer, step: int) -> None:
        """Gradients of step ``step`` are in ``p.grad`` (unclipped); the optimizer has not
        stepped yet, so weights are still those the forward pass used."""

    def on_step_end(self, trainer, step: int, metrics: dict) -> None:
        """After the optimizer step. ``metrics``: loss, lr (the LR this step used), epoch,
        batch_size, step_time (s, wall time since the previous step ended)."""

    def on_validation(self, trainer, step: int, metrics: dict) -> None:
        """metrics: loss, accuracy (None for value targets), precision/recall per class,
        confusion, samples."""

    def on_event(self, kind: str, step: int, message: str = "", data: dict | None = None) -> None:
        """start, lr_change, nan, early_stop, finish, stop, failure, note..."""

    def on_end(self, trainer, summary: dict) -> None:
        """The run is over (finished, stopped or failed); ``summary`` as Trainer.run returns."""
