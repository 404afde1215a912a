"""Record a run into a session file: scalars, events and checkpoints, committed in
batches (at most every ``commit_every`` seconds, and at pause and end)."""
from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from functools import partial

import numpy as np
import torch

from .callbacks import Callback, step_after
from .checkpoint_policy import CheckpointPolicy
from .device import fetch_scalars
from .errors import TrainError


def open_writer(path, doc, settings: dict, dataset_info=None, parent: dict | None = None):
    """A SessionWriter, or TrainError with one sentence when recording is unavailable."""
    try:
        from ..session import SessionError, SessionWriter
    except ImportError:
        raise TrainError("Recording is not available in this build (engine.session is missing); "
                         "run without --record.") from None
    info = dataclasses.asdict(dataset_info) if dataclasses.is_dataclass(dataset_info) else dataset_info
    try:
        return SessionWriter(path, doc.to_dict(), settings, info, parent=parent)
    except SessionError as exc:
        raise TrainError(f"Cannot record to {path}: {exc}") from None
    except OSError as exc:
        raise TrainError(f"Cannot record to {path}: {exc.strerror or exc}.") from None


DETAIL_EVERY = 10   # step_time, samples_per_s, grad_norm, train/accuracy: step 1, then every 10 steps


def detail_due(step: int, every: int = DETAIL_EVERY) -> bool:
    return step % every == 0 or step == 1


class Throughput:
    """Samples per second over the steps since the previous reading (what ``samples_per_s``
    records at every detail step)."""

    def __init__(self):
        self._mark: tuple[int, float] | None = None  # (step, wall time) of the last reading

    def read(self, step: int, batch_size: int, step_time: float, wall: float) -> float | None:
        """At the end of ``step`` (``wall``: its time.time()), after a step of ``step_time`` s."""
        mark, self._mark = self._mark, (step, wall)
        if mark is not None and step > mark[0] and wall > mark[1]:
            return (step - mark[0]) * batch_size / (wall - mark[1])
        return batch_size / step_time if step_time > 0 else None  # the first: its own step


def _read_later(known: list, grad, accuracy) -> list:
    """A detail step's values, read off the training loop (SessionWriter.scalars_later)."""
    return known + [t.item() for t in (grad, accuracy and accuracy()) if t is not None]


class SessionRecorder(Callback):
    """Train/validation scalars every step (loss, lr) or every ``detail_every`` steps
    (accuracy, grad_norm, step_time, samples_per_s), every event, and checkpoints at the
    end and on request. ``on_commit(step)`` is told after each commit."""

    def __init__(self, writer, commit_every: float = 0.2, detail_every: int = DETAIL_EVERY,
                 on_commit=None, checkpoint_at_end: bool = True, background: bool = False):
        self.writer = writer
        if background:  # transactions on a writer thread (big capture rows off the training loop)
            writer.commit_in_background()
        self.commit_every, self.detail_every = commit_every, max(1, detail_every)
        self.on_commit = on_commit
        self.checkpoint_at_end = checkpoint_at_end
        self._last_commit = time.monotonic()
        self._throughput = Throughput()
        # Every step's (step, wall, loss, lr), appended by the trainer (Trainer.step_log) and
        # handed to the writer as one block when it commits: the recorder itself is called
        # only on its detail steps (a call into the writer per value cost a small network's
        # loop ~2 %, a call into the recorder every step still ~0.5 %).
        self._steps: list[tuple] = []
        # (step, names, values on their way): gradient norm and accuracy are read from the
        # device when they have arrived, so a GPU never waits for them.
        self._pending: deque = deque()
        self._grad: torch.Tensor | None = None
        self._grad_at_clip = False      # the norm comes from the trainer's clipping, measured anyway
        self.policy = CheckpointPolicy()  # from the run's settings at the start

    def on_start(self, trainer) -> None:
        self.writer.scalar("lr", trainer.step, trainer.lr)  # a fork starts past 0
        self.policy = CheckpointPolicy.from_settings(trainer.settings)
        trainer.step_log = self._steps

    def on_after_backward(self, trainer, step: int) -> None:
        if step % self.detail_every == 0 or step == 1:  # detail_due, inline: asked every step
            self._grad_at_clip = trainer.clips_by_norm()
            if not self._grad_at_clip:
                self._grad = trainer.grad_norm_tensor()

    def on_step_end(self, trainer, step: int, metrics: dict) -> None:
        if step < self.quiet_until:  # called for another callback's sake
            return
        if step % self.detail_every == 0 or step == 1:  # detail_due
            self._details(trainer, step, metrics)
        if self._pending:
            self._drain(wait=False)
        if self.policy.watches_steps and self.policy.due_after_step(step, metrics.get("epoch")):
            self.checkpoint(trainer)
        left = self.commit_every - (time.monotonic() - self._last_commit)
        if left <= 0:
            self.commit()
            left = self.commit_every
        # called next at the next detail step, a checkpoint due, or in time to commit
        self.quiet_until = min((step // self.detail_every + 1) * self.detail_every,
                               self.policy.next_due(step, trainer.steps_per_epoch),
                               step_after(step, left, metrics["step_time"]))

    def _details(self, trainer, step: int, metrics: dict) -> None:
        grad = trainer.clipped_norm if self._grad_at_clip else self._grad
        self._grad, self._grad_at_clip = None, False
        dt = metrics["step_time"]
        names, known = ["step_time"], [dt]
        wall = self._steps[-1][1] if self._steps else time.time()  # this step's, as its loss row has it
        rate = self._throughput.read(step, metrics["batch_size"], dt, wall)
        if rate is not None:
            names.append("samples_per_s")
            known.append(rate)
        if trainer.device.type == "cpu":
            # Read by the session's transaction, on its thread: here the accuracy's few torch
            # calls cost the loop ~50 us each time (cold code, every 10 steps).
            accuracy = trainer.batch_accuracy_later()
            names += [n for n, v in (("grad_norm", grad), ("train/accuracy", accuracy)) if v is not None]
            self.writer.scalars_later(step, names, partial(_read_later, known, grad, accuracy))
            return
        self.writer.scalars(step, dict(zip(names, known)))
        names, parts = [], []
        if grad is not None:
            names.append("grad_norm")
            parts.append(grad)
        acc = trainer.batch_accuracy_tensor()
        if acc is not None:
            names.append("train/accuracy")
            parts.append(acc)
        if parts:
            self._pending.append((step, names, fetch_scalars(parts)))

    def flush(self) -> None:
        """Write the values still on their way from the device (at a pause, at the end)."""
        self._drain(wait=True)
        self._hand_over()

    def _drain(self, wait: bool) -> None:
        while self._pending and (wait or self._pending[0][2].ready()):
            step, names, pending = self._pending.popleft()
            self.writer.scalars(step, dict(zip(names, pending.values())))

    def _hand_over(self) -> None:
        """Every step's loss and learning rate since the last commit, to the writer."""
        if self._steps:
            rows = np.array(self._steps, dtype=np.float64)
            self._steps.clear()  # the trainer's step_log: the same list
            self.writer.scalar_rows(("train/loss", "lr"), rows[:, [0, 2, 3]], rows[:, 1])

    def on_validation(self, trainer, step: int, metrics: dict) -> None:
        w = self.writer
        w.scalar("val/loss", step, metrics["loss"])
        if self.policy.due_after_validation(step, metrics["loss"]):
            self.checkpoint(trainer, f"Checkpoint at step {step}: the best validation loss so far, "
                                     f"{metrics['loss']:.4g}.")
        if metrics.get("accuracy") is not None:
            w.scalar("val/accuracy", step, metrics["accuracy"])
            for kind in ("precision", "recall"):
                for name, v in metrics[kind].items():
                    w.scalar(f"val/{kind}/{name}", step, math.nan if v is None else v)

    def on_event(self, kind: str, step: int, message: str = "", data: dict | None = None) -> None:
        self.writer.event(kind, step, message, data)

    def checkpoint(self, trainer, message: str | None = None) -> None:
        if self.policy.kept and self.policy.kept[-1] == trainer.step:
            return  # this step's weights are saved already (the end of a run at an every-N step)
        weights, opt = trainer.checkpoint()
        self.writer.checkpoint(trainer.step, weights, opt)
        self.writer.event("checkpoint", trainer.step, message or f"Checkpoint at step {trainer.step}.")
        for step in self.policy.taken(trainer.step):
            self.writer.drop_checkpoint(step)

    def on_end(self, trainer, summary: dict) -> None:
        self._drain(wait=True)
        if self.checkpoint_at_end and trainer.step > 0:
            self.checkpoint(trainer)
        self.commit(wait=True)

    def commit(self, wait: bool = False) -> int:
        """Commit what is buffered; ``wait``: and everything a background transaction was
        still writing (at a pause, a checkpoint on request, the end)."""
        self._hand_over()
        step = self.writer.flush() if wait else self.writer.commit()
        self._last_commit = time.monotonic()
        if self.on_commit is not None:
            self.on_commit(step)
        return step

    def close(self) -> None:
        self._hand_over()
        self.writer.close()
