"""When a recorded run saves checkpoints, and which it keeps.

Checkpoints are what a run can be forked from, so a run that keeps only its last one can
only be forked at its end. The policy comes from the training settings (every N steps, at
every epoch, at every new best validation loss; keep the last K) and is applied by the
session recorder; the final checkpoint and one asked for ("checkpoint now") are always
written. Pruning keeps files bounded: beyond the last K, older checkpoints are dropped,
except the best one while the policy tracks it."""
from __future__ import annotations

import math


class CheckpointPolicy:
    def __init__(self, every: int = 0, each_epoch: bool = False, best: bool = False, keep: int = 0):
        self.every, self.each_epoch, self.best, self.keep = int(every or 0), bool(each_epoch), bool(best), int(keep or 0)
        self.kept: list[int] = []          # steps of the checkpoints in the file, in order
        self.best_step: int | None = None
        self._best_loss = math.inf
        self._epoch: int | None = None

    @classmethod
    def from_settings(cls, settings: dict) -> "CheckpointPolicy":
        return cls(settings.get("checkpoint_every") or 0, bool(settings.get("checkpoint_each_epoch")),
                   bool(settings.get("checkpoint_best")), settings.get("keep_checkpoints") or 0)

    @property
    def watches_steps(self) -> bool:
        """Whether :meth:`due_after_step` can ever say yes (asked every step)."""
        return bool(self.every) or self.each_epoch

    def due_after_step(self, step: int, epoch: float | None) -> bool:
        """A checkpoint is due after update ``step`` (every N steps, or a new epoch began)."""
        due = bool(self.every) and step % self.every == 0
        if self.each_epoch and epoch is not None:
            whole = int(math.floor(epoch + 1e-9))
            if self._epoch is not None and whole > self._epoch:
                due = True
            self._epoch = whole
        return due

    def next_due(self, step: int, steps_per_epoch: int) -> float:
        """The first step after ``step`` at which :meth:`due_after_step` may say yes (inf:
        none; an epoch is ``steps_per_epoch`` steps)."""
        periods = [n for n in (self.every, self.each_epoch and steps_per_epoch) if n]
        return min(((step // n + 1) * n for n in periods), default=math.inf)

    def due_after_validation(self, step: int, loss) -> bool:
        """A new best validation loss (when the policy keeps the best)."""
        if not self.best or loss is None or not math.isfinite(loss) or loss >= self._best_loss:
            return False
        self._best_loss = float(loss)
        self.best_step = step
        return True

    def taken(self, step: int) -> list[int]:
        """A checkpoint at ``step`` was written; the steps of the checkpoints to drop now."""
        if step in self.kept:
            self.kept.remove(step)
        self.kept.append(step)
        if self.keep <= 0:
            return []
        protected = {self.best_step} if self.best else set()
        recent = self.kept[-self.keep:]
        drop = [s for s in self.kept if s not in recent and s not in protected]
        self.kept = [s for s in self.kept if s not in drop]
        return drop
