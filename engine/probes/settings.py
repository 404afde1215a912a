"""How often the probes measure: a schedule by step, so that two runs with the same
settings and seed record the same steps.

Two rates, both changeable while a run goes on (the worker forwards the user's command
to :meth:`engine.probes.ProbeSet.configure`):

- cheap statistics (per-layer scalars, gradient and weight norms) every ``stats_every``
  training steps;
- heavy captures on the fixed probe batch (feature maps, recurrent internals, gradients
  through time, predictions, histograms) every ``heavy_every`` steps.

Both start dense: every step for the first ``2 * dense`` steps, then ``dense`` evenly
spaced steps per doubling of the step count (every 2nd step up to 4·dense, every 4th up
to 8·dense, ...) until the spacing reaches the rate, besides every multiple of the rate
(so no gap is wider than the rate). The first points of every curve arrive at once, and
the early, fast-changing part of training is seen in detail.
Changing a rate while running ends its dense start: from then on it is exactly every k.

Where heavy captures run (``capture_mode``): "auto" runs them beside training when there
is room (a helper process on a spare CPU core, a second CUDA stream), else inline in the
training loop; "inline", "process" and "stream" force one (see :mod:`.offpath`).

Wall-clock rates remain for those who ask for them: ``heavy_every=None`` takes
``heavy_hz`` captures per second within ``heavy_budget`` of the wall time, and a
``stats_budget`` below 1 skips statistics to stay within that fraction of the wall time.
Neither is reproducible from run to run, so neither is the default.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import asdict, dataclass, fields, replace
from statistics import median

CAPTURE_MODES = ("auto", "inline", "process", "stream")


class ProbeSettingsError(ValueError):
    """A probe setting has a bad value; ``str(err)`` names the setting and the problem."""


@dataclass(frozen=True)
class ProbeSettings:
    stats_every: int = 20           # cheap statistics every k training steps (0: never)
    heavy_every: int | None = 50    # heavy captures every k steps (None: heavy_hz per second)
    dense: int = 2                  # both start dense: steps per doubling of the step count (0: off)
    capture_mode: str = "auto"      # where heavy captures run: auto, inline, process, stream
    stats_budget: float = 1.0       # at most this fraction of wall time in statistics (1: no limit)
    heavy_hz: float = 5.0           # with heavy_every None: captures per second of wall time
    heavy_budget: float = 0.03      # with heavy_every None: at most this fraction of wall time
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


_LIMITS = {"stats_every": (0, 1_000_000), "heavy_every": (1, 1_000_000), "dense": (0, 10_000),
           "probe_size": (1, 256), "hist_bins": (2, 4096), "max_channels": (1, 4096)}


def _problem(name: str, value) -> str | None:
    if name == "diagnostics":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if name == "capture_mode":
        return None if value in CAPTURE_MODES else f"must be one of {', '.join(CAPTURE_MODES)}, got {value!r}"
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


def parse_probe_edits(items) -> dict:
    """``["heavy_every=20", "capture_mode=inline"]`` -> {"heavy_every": 20, ...}, each
    value checked (ProbeSettingsError naming the setting); ``null``/``none`` clears."""
    import json
    known = {f.name: f for f in fields(ProbeSettings)}
    out = {}
    for item in items or ():
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise ProbeSettingsError(f"probe setting {item!r} is not NAME=VALUE with a known name "
                                     f"(known: {', '.join(sorted(known))})")
        text = text.strip()
        if text.lower() == "none":
            text = "null"
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    ProbeSettings().changed(**out)  # every value checked here
    return out


def dense_due(step: int, every: int, dense: int) -> bool:
    """Whether ``step`` (>= 1) is on the schedule "every ``every`` steps, starting dense":
    every multiple of ``every``, and before the spacing reaches it, ``dense`` steps per
    doubling of the step count (the multiples stay, so no gap is ever wider than ``every``)."""
    if every <= 0:
        return False
    if step % every == 0:
        return True
    if dense <= 0:
        return False
    # The spacing doubles each time the step count doubles: `dense` steps per octave.
    gap = 1 << max(0, (step // dense).bit_length() - 1)
    return gap < every and step % gap == 0


def next_due(step: int, every: int, dense: int) -> float:
    """The first step after ``step`` that :func:`dense_due` selects (inf: none ever)."""
    if every <= 0:
        return math.inf
    t = step + 1
    while not dense_due(t, every, dense):  # one within 2 * every steps
        t += 1
    return t


def schedule_steps(upto: int, every: int, dense: int) -> list[int]:
    """Every step in 1..upto that :func:`dense_due` selects (for docs, tests and views)."""
    return [s for s in range(1, upto + 1) if dense_due(s, every, dense)]


class Schedule:
    """Decides, step by step, whether cheap statistics and a heavy capture are due."""

    def __init__(self, settings: ProbeSettings, clock=time.perf_counter):
        self._clock = clock
        self._last_heavy: float | None = None
        self._stats_at: float | None = None
        self._stats_cost = 0.0
        self._costs: deque = deque(maxlen=3)  # the median of the last 3 ignores a one-off hiccup
        self._dense_stats = self._dense_heavy = settings.dense
        self.settings = settings
        # [from, to): steps known not to be due, so that most steps are one comparison
        # (asked every training step, where every call costs the loop)
        self._stats_quiet = self._heavy_quiet = (0, 0)

    def reconfigure(self, settings: ProbeSettings, changes: dict, running: bool) -> None:
        """New settings; a rate changed while running drops its dense start."""
        if "dense" in changes:
            self._dense_stats = self._dense_heavy = settings.dense
        if running and "stats_every" in changes:
            self._dense_stats = 0
        if running and ("heavy_every" in changes or "heavy_hz" in changes):
            self._dense_heavy = 0
        self.settings = settings
        self._stats_quiet = self._heavy_quiet = (0, 0)

    def stats_due(self, step: int) -> bool:
        lo, hi = self._stats_quiet
        if lo <= step < hi:
            return False
        due = dense_due(step, self.settings.stats_every, self._dense_stats)
        # the steps up to the next due one are not (a due step's own included when it is not)
        self._stats_quiet = (step + due, next_due(step, self.settings.stats_every, self._dense_stats))
        if not due:
            return False
        if self._stats_at is None or self.settings.stats_budget >= 1:
            return True  # a budget of 1 (all the time) means no limit
        return self._clock() - self._stats_at >= self._stats_cost / self.settings.stats_budget

    def stats_taken(self, seconds: float) -> None:
        """Statistics of one step cost ``seconds``; the next wait at least seconds / budget."""
        if self.settings.stats_budget < 1:
            self._stats_at = self._clock()
            self._stats_cost = seconds

    @property
    def by_step(self) -> bool:
        return self.settings.heavy_every is not None

    def heavy_due(self, step: int) -> bool:
        s = self.settings
        if s.heavy_every is not None:
            lo, hi = self._heavy_quiet
            if lo <= step < hi:
                return False
            due = dense_due(step, s.heavy_every, self._dense_heavy)
            self._heavy_quiet = (step + due, next_due(step, s.heavy_every, self._dense_heavy))
            return due
        if s.heavy_hz <= 0:
            return False
        cost = median(self._costs) if self._costs else 0.0
        wait = max(1.0 / s.heavy_hz, cost / s.heavy_budget)
        return self._last_heavy is None or self._clock() - self._last_heavy >= wait

    def quiet_until(self, step: int) -> int:
        """The first step from ``step`` on whose end the probes need: the one before
        statistics are due (it arms them) or one with a capture, as far as :meth:`stats_due`
        and :meth:`heavy_due` have looked ahead (``step`` when unknown, e.g. captures by the
        clock)."""
        lo, hi = self._stats_quiet
        if not lo <= step < hi:
            return step
        arm = hi - 1  # >= step: hi > step
        s = self.settings
        if s.heavy_every is None:
            return arm if s.heavy_hz <= 0 else step
        lo, heavy_hi = self._heavy_quiet
        return min(arm, heavy_hi) if lo <= step < heavy_hi else step

    def now(self) -> float:
        return self._clock()

    def taken(self, started: float, count: bool = True) -> None:
        """A capture ran from ``started`` (a :meth:`now` reading) until now; its cost sets
        the wait before the next one (unless ``count`` is False: the first capture pays
        for warming up kernels and says nothing about the next)."""
        self._last_heavy = self._clock()
        if count:
            self._costs.append(self._last_heavy - started)
