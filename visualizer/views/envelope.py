"""Series a live plot can keep for as long as a run goes on: smoothed in bulk, and held at
a bounded number of points that still shows every spike."""
from __future__ import annotations

import numpy as np

CHUNK = 256  # values smoothed per block of the matrix form in ``ema``
CAP = 4096  # buckets an Envelope holds before it halves its resolution


def ema(values, weight: float, state: tuple[float, float] = (0.0, 0.0)):
    """Exponential moving average with TensorBoard's debiasing, so early points are not
    pulled towards zero: acc_t = w acc_(t-1) + (1 - w) v_t, norm_t likewise with v = 1, shown
    acc_t / norm_t. ``state`` (acc, norm) continues a series smoothed before; returns
    (smoothed values, state after the last one), so a live curve smooths only its new tail."""
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values.copy(), state
    acc, norm = state
    bad = np.flatnonzero(~np.isfinite(values))
    cut = int(bad[0]) if len(bad) else len(values)
    out = np.empty(len(values))
    if cut:
        sums, acc = _ema_sums(values[:cut], weight, acc)
        decay = weight ** np.arange(1.0, cut + 1)
        norms = norm * decay + (1 - decay)
        out[:cut] = sums / norms
        norm = float(norms[-1])
    # Past a NaN or an Inf the average is not finite any more: the plain recurrence says what.
    for i in range(cut, len(values)):
        acc = weight * acc + (1 - weight) * float(values[i])
        norm = weight * norm + (1 - weight)
        out[i] = acc / norm
    return out, (acc, norm)


def _ema_sums(values: np.ndarray, weight: float, acc: float) -> tuple[np.ndarray, float]:
    """acc_t for every finite value, in blocks of CHUNK: within a block the recurrence is one
    product with the lower-triangular matrix of w^(t-i); only the carry between blocks is a
    loop. Re-smoothing a million points after a slider move takes milliseconds, not seconds."""
    n = len(values)
    k = min(CHUNK, n)
    blocks = -(-n // k)
    padded = np.zeros(blocks * k)
    padded[:n] = values
    t = np.arange(k)
    lower = np.tril(weight ** np.clip(t[:, None] - t[None, :], 0, None).astype(np.float64))
    local = (1 - weight) * (padded.reshape(blocks, k) @ lower.T)
    carry = np.empty(blocks)
    left = weight ** float(k)
    for b in range(blocks):
        carry[b] = acc
        acc = left * acc + local[b, -1]
    sums = (local + carry[:, None] * (weight ** (t + 1.0))[None, :]).reshape(-1)[:n]
    return sums, float(sums[-1])


class Envelope:
    """A series kept at no more than about 4 * CAP points however long it grows. Short, it is
    kept exactly; past 2 * CAP points neighbouring buckets merge in pairs, each keeping its
    lowest and its highest point (what pyqtgraph's 'peak' downsampling keeps per pixel), so
    every spike and the series' whole range stay on the plot at any length."""

    def __init__(self, cap: int = CAP):
        self.cap = cap
        self.size = 1  # raw points per bucket
        empty = np.zeros(0, np.float64)
        self.lo_x, self.lo_y, self.hi_x, self.hi_y = empty, empty, empty, empty
        self._tail_x, self._tail_y = empty, empty  # the bucket being filled (< size points)
        self.count = 0  # points received
        # the first and the last point received, always drawn: the line spans the series
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def extend(self, x, y) -> None:
        x = np.concatenate([self._tail_x, np.asarray(x, np.float64)])
        y = np.concatenate([self._tail_y, np.asarray(y, np.float64)])
        self.count += len(x) - len(self._tail_x)
        whole = len(x) // self.size * self.size
        if whole:
            lo, hi = _extremes(y[:whole].reshape(-1, self.size))
            bx, by = x[:whole].reshape(-1, self.size), y[:whole].reshape(-1, self.size)
            rows = np.arange(len(lo))
            self.lo_x = np.concatenate([self.lo_x, bx[rows, lo]])
            self.lo_y = np.concatenate([self.lo_y, by[rows, lo]])
            self.hi_x = np.concatenate([self.hi_x, bx[rows, hi]])
            self.hi_y = np.concatenate([self.hi_y, by[rows, hi]])
        self._tail_x, self._tail_y = x[whole:], y[whole:]
        if len(x):
            self.first = self.first or (float(x[0]), float(y[0]))
            self.last = (float(x[-1]), float(y[-1]))
        while len(self.lo_x) >= 2 * self.cap:
            self._halve()

    def _halve(self) -> None:
        """Merge buckets in pairs (an odd last one stays as it is: a finer bucket draws no
        differently)."""
        even = len(self.lo_x) // 2 * 2
        lo = _extremes(self.lo_y[:even].reshape(-1, 2))[0]
        hi = _extremes(self.hi_y[:even].reshape(-1, 2))[1]
        self.lo_x, self.lo_y = (_pick(a, even, lo) for a in (self.lo_x, self.lo_y))
        self.hi_x, self.hi_y = (_pick(a, even, hi) for a in (self.hi_x, self.hi_y))
        self.size *= 2

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw, in x order: the first point, each bucket's low and high point,
        the raw tail, the last point."""
        if self.size == 1:
            return self.lo_x.copy(), self.lo_y.copy()
        first = self.lo_x <= self.hi_x
        x = np.empty(2 * len(self.lo_x))
        y = np.empty_like(x)
        x[0::2] = np.where(first, self.lo_x, self.hi_x)
        x[1::2] = np.where(first, self.hi_x, self.lo_x)
        y[0::2] = np.where(first, self.lo_y, self.hi_y)
        y[1::2] = np.where(first, self.hi_y, self.lo_y)
        x = np.concatenate([[self.first[0]], x, self._tail_x, [self.last[0]]])
        y = np.concatenate([[self.first[1]], y, self._tail_y, [self.last[1]]])
        once = np.r_[True, np.diff(x) != 0]  # a bucket whose low is its high, and the ends
        return x[once], y[once]

    def finite_range(self, positive: bool = False) -> tuple[float, float] | None:
        """(lowest, highest) finite value received (above zero with ``positive``), or None."""
        values = np.concatenate([self.lo_y, self.hi_y, self._tail_y])
        values = values[np.isfinite(values) & ((values > 0) if positive else True)]
        return (float(values.min()), float(values.max())) if values.size else None


def _extremes(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the index of the lowest and of the highest value; NaN loses to any number
    (and an all-NaN row gives its first point: drawn as the gap it is)."""
    nan = np.isnan(rows)
    return (np.argmin(np.where(nan, np.inf, rows), axis=1),
            np.argmax(np.where(nan, -np.inf, rows), axis=1))


def _pick(arr: np.ndarray, even: int, column: np.ndarray) -> np.ndarray:
    """One of each pair of the first ``even`` entries (``column`` says which), then the rest."""
    return np.concatenate([arr[:even].reshape(-1, 2)[np.arange(len(column)), column], arr[even:]])
