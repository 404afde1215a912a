"""How often the probes measure, and the clock that decides when.

Two rates, both changeable while a run goes on (the worker forwards the user's command
to :meth:`engine.probes.ProbeSet.configure`):

- cheap statistics (per-layer scalars, gradient and weight norms) every ``stats_every``
  training steps, but no more than ``stats_budget`` of the wall time (on a network whose
  activations are large next to its compute, they are taken every few steps instead);
- heavy captures on the fixed probe batch (feature maps, recurrent internals, gradients
  through time, predictions, histograms) ``heavy_hz`` times per second of wall time, but
  never more than ``heavy_budget`` of the wall time (a capture that took 20 ms with a
  5 % budget waits at least 0.4 s for the next: slow steps or a big network lower the
  rate instead of the training speed); or every ``heavy_every`` steps when that is set
  (exact, no budget: a step count makes captures reproducible).
"""
from __future__ import annotations

import math
import time
from collections import deque
from statistics import median
from dataclasses import asdict, dataclass, fields, replace


class ProbeSettingsError(ValueError):
    """A probe setting has a bad value; ``str(err)`` names the setting and the problem."""


@dataclass(frozen=True)
class ProbeSettings:
    stats_every: int = 2            # cheap statistics every k training steps (0: never)
    stats_budget: float = 0.02      # at most this fraction of wall time in cheap statistics (1: no limit)
    heavy_hz: float = 5.0           # heavy captures per second of wall time (0: never)
    heavy_every: int | None = None  # or every k steps (overrides heavy_hz when set)
    heavy_budget: float = 0.03      # at most this fraction of wall time in heavy captures
    probe_size: int = 16            # samples in the fixed probe batch (chosen at start)
    hist_bins: int = 64             # bins of activation and weight histograms
    max_channels: int = 32          # feature maps: at most this many channels per layer
    diagnostics: bool = True        # emit "diagnostic" events with advice

    def __post_init__(self):
        for f in fields(self):
            problem = _problem(f.name, getattr(self, f.name))
            if problem:
                raise ProbeSettingsError(f"probe setting {f.name!r} {problem}")

    def changed(self, **changes) -> "ProbeSettings":
        """A copy with ``changes`` applied; unknown names or bad values raise
        ProbeSettingsError."""
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise ProbeSettingsError(f"there is no probe setting {name!r} "
                                         f"(known: {', '.join(sorted(known))})")
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


_LIMITS = {"stats_every": (0, 1_000_000), "heavy_every": (1, 1_000_000),
           "probe_size": (1, 256), "hist_bins": (2, 4096), "max_channels": (1, 4096)}


def _problem(name: str, value) -> str | None:
    if name == "diagnostics":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if name == "heavy_hz":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"must be a number of captures per second, got {value!r}"
        return None if 0 <= value <= 1000 else f"must be between 0 and 1000, got {value!r}"
    if name in ("heavy_budget", "stats_budget"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            return f"must be a fraction of the time between 0 (excluded) and 1, got {value!r}"
        return None
    if name == "heavy_every" and value is None:
        return None
    lo, hi = _LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number, got {value!r}"
    return None if lo <= value <= hi else f"must be between {lo} and {hi}, got {value!r}"


class Schedule:
    """Decides, step by step, whether cheap statistics and a heavy capture are due."""

    def __init__(self, settings: ProbeSettings, clock=time.perf_counter):
        self.settings = settings
        self._clock = clock
        self._last_heavy: float | None = None
        self._stats_at: float | None = None
        self._stats_cost = 0.0
        self._costs: deque = deque(maxlen=3)  # the median of the last 3 ignores a one-off hiccup

    def stats_due(self, step: int) -> bool:
        k = self.settings.stats_every
        if k <= 0 or step % k:
            return False
        if self._stats_at is None or self.settings.stats_budget >= 1:
            return True  # a budget of 1 (all the time) means no limit
        return self._clock() - self._stats_at >= self._stats_cost / self.settings.stats_budget

    def stats_taken(self, seconds: float) -> None:
        """Statistics of one step cost ``seconds``; the next wait at least seconds / budget."""
        self._stats_at = self._clock()
        self._stats_cost = seconds

    def heavy_due(self, step: int) -> bool:
        s = self.settings
        if s.heavy_every is not None:
            return step % s.heavy_every == 0
        if s.heavy_hz <= 0:
            return False
        cost = median(self._costs) if self._costs else 0.0
        wait = max(1.0 / s.heavy_hz, cost / s.heavy_budget)
        return self._last_heavy is None or self._clock() - self._last_heavy >= wait

    def now(self) -> float:
        return self._clock()

    def taken(self, started: float, count: bool = True) -> None:
        """A capture ran from ``started`` (a :meth:`now` reading) until now; its cost sets
        the wait before the next one (unless ``count`` is False: the first capture pays
        for warming up kernels and says nothing about the next)."""
        self._last_heavy = self._clock()
        if count:
            self._costs.append(self._last_heavy - started)
