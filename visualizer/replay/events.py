"""Points of interest on a session's timeline: the events a user jumps to."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..views.records import NewEvents

#: event kinds shown as timeline marks, with their labels
JUMP_KINDS = {"nan": "NaN / Inf", "lr_change": "LR change", "pause": "Pause", "resume": "Resume",
              "finish": "Finish", "failure": "Failure", "stop": "Stop", "diagnostic": "Diagnostic"}


@dataclass(frozen=True)
class Mark:
    step: int
    kind: str
    label: str


def timeline_marks(reader) -> list[Mark]:
    """Events worth jumping to, plus the step of the best validation loss."""
    return MarkTracker(reader).update()


class MarkTracker:
    """The marks of a session that may still be growing, read incrementally: each call reads
    only the events and validation losses recorded since the last one, so a long live run
    costs no more per refresh than a short one."""

    def __init__(self, reader):
        self.reader = reader
        self.events: list[Mark] = []
        self._new_events = NewEvents(reader)
        self._val_next: int | None = None
        self.best: Mark | None = None
        self._best_value = np.inf

    def update(self) -> list[Mark]:
        self.events += [Mark(e.step, e.kind, f"{JUMP_KINDS.get(e.kind, e.kind)}: {e.message}" if e.message
                             else JUMP_KINDS.get(e.kind, e.kind)) for e in self._new_events() if e.kind in JUMP_KINDS]
        steps, values = self.reader.scalar("val/loss", since=self._val_next)
        if len(values):
            self._val_next = int(steps[-1]) + 1
            finite = np.where(np.isfinite(values), values, np.inf)
            i = int(np.argmin(finite))
            if finite[i] < self._best_value:  # the first of equal values stays the best
                self._best_value = float(finite[i])
                self.best = Mark(int(steps[i]), "best_val", f"Best validation loss {values[i]:.4g}")
        # the checkpoints the file holds (a keep-last-K policy drops old ones): each can be forked
        marks = self.events + [Mark(s, "checkpoint", "Checkpoint (fork from here with Run > Fork from Here)")
                               for s in self.reader.checkpoint_steps()]
        if self.best is not None:
            marks.append(self.best)
        return sorted(marks, key=lambda m: (m.step, m.kind))


def next_mark(marks: list[Mark], step: int, direction: int) -> Mark | None:
    if direction > 0:
        return next((m for m in marks if m.step > step), None)
    return next((m for m in reversed(marks) if m.step < step), None)
