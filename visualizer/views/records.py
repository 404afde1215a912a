"""Series of tensor records read incrementally: each record is fetched once, then kept."""
from __future__ import annotations

import numpy as np


class RecordSeries:
    """The records of one tensor series, fetched as they are committed."""

    def __init__(self, reader, name: str):
        self.reader, self.name = reader, name
        self.steps = np.zeros(0, np.int64)
        self.arrays: dict[int, np.ndarray] = {}
        self._head = None

    def sync(self) -> None:
        head = self.reader.last_step
        if head == self._head:
            return
        self._head = head
        self.steps = self.reader.tensor_steps(self.name)
        for s in self.steps.tolist():
            if s not in self.arrays:
                got = self.reader.tensor(self.name, s, exact=True)
                if got is not None:
                    self.arrays[s] = got[1]

    def upto(self, step: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """(steps, arrays) of the records at or before ``step``."""
        self.sync()
        steps = self.steps[self.steps <= step]
        return steps, [self.arrays[s] for s in steps.tolist()]


def uniform_columns(steps: np.ndarray, max_cols: int = 300) -> tuple[np.ndarray, tuple[float, float]]:
    """Resample irregular record steps onto a uniform step axis: (index of the record each
    column shows — the last one at or before the column's end, so the newest record is
    always the last column — and the x range). Records taken at a wall-time rate are
    unevenly spaced in steps; an image needs even columns."""
    first, last = int(steps[0]), int(steps[-1])
    x0, x1 = first - 0.5, last + 0.5
    n = int(min(max_cols, last - first + 1))
    ends = x0 + (np.arange(n) + 1.0) * (x1 - x0) / n
    idx = np.searchsorted(steps, ends, side="right") - 1
    return np.clip(idx, 0, len(steps) - 1), (x0, x1)
