"""Histograms over fixed-range bins, computed with torch on the training device.

A layer's range is fixed at its first histogram so that successive histograms line up
(a view can stack them into a time x value map): the bounds its catalogue entry gives
(``output_range``: [0, 1] for sigmoid outputs, [−1, 1] for tanh and recurrent states),
[0, R] for outputs bounded below by 0 (ReLU) and [−R, R] otherwise, R the first 1-2-5
number at or above the largest |value| seen. If later values outgrow it the range widens (to the next 1-2-5
number) from the following histogram on; values outside the range are counted in the
end bins. Each record carries its own edges.
"""
from __future__ import annotations

import math

import torch


def nice_ceil(m: float) -> float:
    """The smallest of 1, 2, 5 × 10^k that is >= m (1.0 for 0 or a non-finite m)."""
    if not math.isfinite(m) or m <= 0:
        return 1.0
    k = math.floor(math.log10(m))
    for base in (1.0, 2.0, 5.0, 10.0):
        if base * 10.0 ** k >= m * (1 - 1e-12):
            return base * 10.0 ** k
    return 10.0 ** (k + 1)


class HistRange:
    """The current range of one histogram series."""

    def __init__(self, output_range: tuple[float | None, float | None] = (None, None)):
        lo, hi = output_range
        self.fixed = (lo, hi) if lo is not None and hi is not None else None
        self.non_negative = lo == 0.0
        self.reach: float | None = None  # R, once known

    def bounds(self, x: torch.Tensor) -> tuple[float, float]:
        if self.fixed:
            return self.fixed
        if self.reach is None:
            # One device sync, the first time only: the range must be a Python number.
            self.reach = nice_ceil(float(x.detach().abs().nan_to_num(0, 0, 0).amax()))
        return (0.0 if self.non_negative else -self.reach), self.reach

    def observe(self, absmax: float) -> None:
        """Widen for the next histogram if values outgrew the range."""
        if not self.fixed and self.reach is not None and math.isfinite(absmax) and absmax > self.reach:
            self.reach = nice_ceil(absmax)


def histogram(x: torch.Tensor, lo: float, hi: float, bins: int) -> torch.Tensor:
    """(bins + 2,) on x's device: the bin counts (values outside [lo, hi] in the end
    bins), then the number of NaN/inf values, then max |finite value| (for widening)."""
    x = x.detach().reshape(-1)
    if not x.is_floating_point():
        x = x.float()
    nan = float("nan")
    # Every non-finite value becomes NaN, which histc leaves out; clamping puts values
    # outside the range into the end bins.
    clean = torch.nan_to_num(x, nan=nan, posinf=nan, neginf=nan)
    counts = torch.histc(clean.clamp(lo, hi), bins, lo, hi)
    bad = x.numel() - counts.sum()
    top = clean.abs().nan_to_num_(0.0).amax().to(counts.dtype)
    return torch.cat([counts, bad.reshape(1), top.reshape(1)])
