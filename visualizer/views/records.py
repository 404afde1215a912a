"""What a live view reads incrementally: tensor records (each fetched once, then kept, up to a
bound: a run of any length keeps at most CAP records of a series in memory) and events."""
from __future__ import annotations

import numpy as np

MAX_COLUMNS = 300  # columns of a map over training
CAP = 4 * MAX_COLUMNS  # records kept per series: thinned to half past it


class RecordSeries:
    """The records of one tensor series, fetched as they are committed. Past CAP records they
    are thinned to the last record in each of CAP / 2 equal stretches of steps (keeping the
    first and the newest): a map over training shows at most MAX_COLUMNS columns, so every
    column still has records to choose from, and the view's memory stays bounded."""

    def __init__(self, reader, name: str, cap: int = CAP):
        self.reader, self.name, self.cap = reader, name, cap
        self.steps = np.zeros(0, np.int64)  # the steps of the records kept
        self.arrays: dict[int, np.ndarray] = {}
        self._head = None

    def sync(self) -> None:
        head = self.reader.version  # any commit since, the last step moved or not
        if head == self._head:
            return
        self._head = head
        new = self.reader.tensor_steps(self.name, since=int(self.steps[-1]) + 1 if len(self.steps) else None)
        if not len(new):
            return
        steps = np.concatenate([self.steps, new])
        if len(steps) > self.cap:
            steps = thinned(steps, self.cap // 2)
        kept = set(steps.tolist())
        self.arrays = {s: a for s, a in self.arrays.items() if s in kept}
        for s in new.tolist():
            if s in kept:
                got = self.reader.tensor(self.name, s, exact=True)
                if got is not None:
                    self.arrays[s] = got[1]
        self.steps = np.array([s for s in steps.tolist() if s in self.arrays], np.int64)

    def upto(self, step: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """(steps, arrays) of the records kept at or before ``step``."""
        self.sync()
        steps = self.steps[self.steps <= step]
        return steps, [self.arrays[s] for s in steps.tolist()]


class NewEvents:
    """The events of a session that may still be growing, each read once: calling it returns
    those written since the last call."""

    def __init__(self, reader):
        self.reader, self.count = reader, 0

    def __call__(self) -> list:
        new = self.reader.events(start=self.count)
        self.count += len(new)
        return new


def thinned(steps: np.ndarray, stretches: int) -> np.ndarray:
    """The first of ``steps`` (sorted; the map starts where training did) and the last in
    each of ``stretches`` equal stretches of their range."""
    first, last = int(steps[0]), int(steps[-1])
    which = (steps - first) * stretches // max(1, last - first + 1)
    keep = np.r_[which[1:] != which[:-1], True]
    keep[0] = True
    return steps[keep]


def uniform_columns(steps: np.ndarray, max_cols: int = MAX_COLUMNS) -> tuple[np.ndarray, tuple[float, float]]:
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
