"""Points of interest on a session's timeline: the events a user jumps to."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    marks = [Mark(e.step, e.kind, f"{JUMP_KINDS.get(e.kind, e.kind)}: {e.message}" if e.message
                  else JUMP_KINDS.get(e.kind, e.kind))
             for e in reader.events() if e.kind in JUMP_KINDS]
    # the checkpoints the file holds (a keep-last-K policy drops old ones): each can be forked
    marks += [Mark(s, "checkpoint", "Checkpoint (fork from here with Run > Fork from Here)")
              for s in reader.checkpoint_steps()]
    steps, values = reader.scalar("val/loss")
    if len(values):
        finite = np.where(np.isfinite(values), values, np.inf)
        i = int(np.argmin(finite))
        if np.isfinite(finite[i]):
            marks.append(Mark(int(steps[i]), "best_val", f"Best validation loss {values[i]:.4g}"))
    return sorted(marks, key=lambda m: (m.step, m.kind))


def next_mark(marks: list[Mark], step: int, direction: int) -> Mark | None:
    if direction > 0:
        return next((m for m in marks if m.step > step), None)
    return next((m for m in reversed(marks) if m.step < step), None)
