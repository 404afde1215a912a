"""Diagnostics: what is going wrong in a run, where, and what to try.

Fed with the numbers the probes already measure (no extra compute). Each finding is a
:class:`Diagnostic` (kind, severity, node or None, message, advice). A condition must hold
for ``patience`` consecutive checks before it is reported (NaN and exploding gradients:
at once), and the same (kind, node) is reported again only after ``repeat_every`` steps,
so a persistent problem is one event, not one per step.

Rules of thumb behind the thresholds (all in :class:`Thresholds`):
- update ratio ‖ΔW‖/‖W‖ per step around 1e-3 is healthy (Karpathy, CS231n "ratio of
  weights:updates"); far above 1e-2 means the learning rate is too high, far below
  ~1e-5 that the weights barely move;
- gradients: a global norm above 1e3, or 100x its recent median, explodes; a first
  layer whose RMS gradient per parameter is 1000x below the largest layer's (or a time
  step t = 0 whose dL/dh_t is 1000x below the largest) is not learning: vanishing;
- more than half the units of a ReLU layer dead, or of a sigmoid/tanh layer saturated.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from statistics import median


@dataclass(frozen=True)
class Diagnostic:
    kind: str       # nan, exploding_gradients, vanishing_gradients, vanishing_through_time,
                    # dead_relu, saturation, lr_too_high, lr_too_low, overfitting, plateau
    severity: str   # "info", "warning" or "error"
    node: str | None
    message: str
    advice: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Diagnostic":
        return cls(**{k: d[k] for k in ("kind", "severity", "node", "message", "advice")})


@dataclass(frozen=True)
class Thresholds:
    explode_norm: float = 1e3
    explode_growth: float = 100.0
    vanish_ratio: float = 1e-3
    vanish_time_ratio: float = 1e-3
    dead_frac: float = 0.5
    saturated_frac: float = 0.5
    lr_high: float = 1e-1
    lr_low: float = 1e-5
    overfit_rise: float = 0.05
    plateau_steps: int = 500
    plateau_change: float = 0.01
    patience: int = 5
    lr_patience: int = 20
    repeat_every: int = 1000


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


def diagnose_capture(diagnostician: "Diagnostician", targets, step: int, array_of) -> list[Diagnostic]:
    """What a heavy capture shows: gradients through time of each recurrent layer
    (``array_of(name)``: the capture's array of that record, or None)."""
    found = []
    for node in targets.recurrent:
        norm_t = array_of(f"bptt/{node}/grad_norm_t")
        if norm_t is not None:
            found += diagnostician.check_time(step, node, norm_t.tolist())
    return found


def _all_finite(values) -> bool:
    try:
        return all(map(math.isfinite, values))
    except TypeError:  # a None among them
        return False


class Diagnostician:
    """``order``: layer node ids in topological order; ``sizes``: node -> parameter count.

    Per-step checks run where the step's statistics are computed: in the capture helper
    process when it takes them (a step it was too busy for is measured and checked in the
    training process, whose streaks are its own). The validation check needs the training
    loss's running average, which :meth:`follow_loss` hands over from the helper."""

    def __init__(self, order: list[str], sizes: dict[str, int], thresholds: Thresholds = Thresholds()):
        self.order = order
        self.sizes = sizes
        self.th = thresholds
        self._streak: dict[tuple, int] = {}
        self._last_emit: dict[tuple, int] = {}
        self._norms: deque = deque(maxlen=50)
        self._ema: float | None = None
        self._emas: deque = deque()
        self._vals: list[tuple[int, float, float]] = []  # (step, val loss, train ema)
        # Record names per node, made once: these checks run on every statistics step.
        self._k = {n: {k: f"layer/{n}/{k}" for k in ("act_mean", "act_std", "grad_norm", "dead_frac",
                                                    "saturated_frac", "update_ratio")} for n in order}
        self._grad_keys = [(n, self._k[n]["grad_norm"], math.sqrt(sizes[n])) for n in order if sizes.get(n)]
        self._unit_keys = [(n, self._k[n]["dead_frac"], self._k[n]["saturated_frac"]) for n in order]
        self._ratio_keys = [self._k[n]["update_ratio"] for n in order]

    @classmethod
    def for_targets(cls, targets, thresholds: Thresholds = Thresholds()) -> "Diagnostician":
        """For a network's probe targets (engine.probes.targets.Targets)."""
        sizes = {n: sum(p.numel() for p in targets.params(n)) for n in targets.order}
        return cls(targets.order, sizes, thresholds)

    @property
    def loss_average(self) -> float | None:
        """The running average of the training loss the plateau and overfitting checks use."""
        return self._ema

    def follow_loss(self, average: float | None) -> None:
        """Take over the running average of the training loss from the diagnostician that
        checks the steps (the helper process's)."""
        if average is not None:
            self._ema = average

    # -- bookkeeping -------------------------------------------------------------------------
    def _hold(self, key: tuple, holds: bool, patience: int) -> bool:
        self._streak[key] = self._streak.get(key, 0) + 1 if holds else 0
        return holds and self._streak[key] >= patience

    def _emit(self, step: int, d: Diagnostic, out: list) -> None:
        key = (d.kind, d.node)
        last = self._last_emit.get(key)
        if last is None or step - last >= self.th.repeat_every:
            self._last_emit[key] = step
            out.append(d)

    # -- per step --------------------------------------------------------------------------
    def check_step(self, step: int, loss: float | None, v: dict[str, float]) -> list[Diagnostic]:
        """``v``: the step's scalars (record names as in docs/probes.md)."""
        out: list[Diagnostic] = []
        # NaN is rare: one pass over every value rules it out (else look for where it starts).
        if not (_finite(loss) and _all_finite(v.values())):
            self.check_nan(step, loss, v, out)
            if out:
                return out
        self._gradients(step, v, out)
        self._units(step, v, out)
        self._learning_rate(step, v, out)
        if _finite(loss):
            self._plateau(step, loss, out)
        return out

    def check_nan(self, step: int, loss, v: dict[str, float], out: list | None = None) -> list[Diagnostic]:
        out = [] if out is None else out
        for what, suffixes in (("activations", ("act_mean", "act_std")), ("gradients", ("grad_norm",))):
            for node in self.order:
                keys = self._k[node]
                if any(keys[s] in v and not _finite(v[keys[s]]) for s in suffixes):
                    self._emit(step, Diagnostic(
                        "nan", "error", node,
                        f"NaN or infinite {what} appear first in layer '{node}' at step {step}.",
                        "The updates are too large: lower the learning rate (try 10x lower), enable "
                        "gradient clipping (clip norm 1.0), and check the inputs are normalised. "
                        "A log or division in a custom loss can also produce NaN."), out)
                    return out
        if loss is not None and not _finite(loss):
            self._emit(step, Diagnostic(
                "nan", "error", None, f"The loss is {loss} at step {step}.",
                "Lower the learning rate (try 10x lower) or enable gradient clipping (clip norm 1.0)."), out)
        return out

    def _gradients(self, step, v, out):
        norm = v.get("grad_norm")
        if not _finite(norm):
            return
        recent = median(self._norms) if len(self._norms) >= 20 else None
        self._norms.append(norm)
        if norm > self.th.explode_norm or (recent and norm > self.th.explode_growth * recent):
            grew = f" ({norm / recent:.0f}x its recent median)" if recent else ""
            self._emit(step, Diagnostic(
                "exploding_gradients", "warning", None,
                f"The global gradient norm is {norm:.3g} at step {step}{grew}.",
                "Enable gradient clipping (clip norm 1.0–5.0) or lower the learning rate; in "
                "recurrent nets prefer an LSTM/GRU and an orthogonal recurrent init."), out)
        rms = {}
        for n, key, root in self._grad_keys:
            g = v.get(key)
            if _finite(g):
                rms[n] = g / root
        if len(rms) >= 2:
            first = next(iter(rms))
            top = max(rms.values())
            ratio = rms[first] / top if top > 0 else 1.0
            if self._hold(("vanish", first), ratio < self.th.vanish_ratio, self.th.patience):
                self._emit(step, Diagnostic(
                    "vanishing_gradients", "warning", first,
                    f"Gradients vanish towards the input: layer '{first}' gets {ratio:.1e} of the "
                    f"largest layer's gradient per parameter.",
                    "Use ReLU-family activations instead of sigmoid/tanh, He/Kaiming init, batch "
                    "normalisation, or residual connections."), out)

    def _units(self, step, v, out):
        for node, dead_key, sat_key in self._unit_keys:
            dead, sat = v.get(dead_key), v.get(sat_key)
            if dead is not None:
                self._dead(step, node, dead, out)
            if sat is not None:
                self._saturated(step, node, sat, out)

    def _dead(self, step, node, dead, out):
        if self._hold(("dead", node), dead > self.th.dead_frac, self.th.patience):
            self._emit(step, Diagnostic(
                "dead_relu", "warning", node,
                f"{dead:.0%} of the units of ReLU layer '{node}' output 0 for every sample of the batch.",
                "Dead ReLUs never recover: lower the learning rate, use He/Kaiming init with zero "
                "biases, or switch to LeakyReLU/ELU."), out)

    def _saturated(self, step, node, sat, out):
        if self._hold(("sat", node), sat > self.th.saturated_frac, self.th.patience):
            self._emit(step, Diagnostic(
                "saturation", "warning", node,
                f"{sat:.0%} of the outputs of layer '{node}' sit at the flat ends of the nonlinearity, "
                f"where its slope is almost zero.",
                "Normalise the inputs, use Xavier/Glorot init (smaller weights), add batch "
                "normalisation before the activation, or use ReLU."), out)

    def _learning_rate(self, step, v, out):
        ratios = [r for r in map(v.get, self._ratio_keys) if r is not None and math.isfinite(r) and r > 0]
        if not ratios:
            return
        r = median(ratios)
        if self._hold(("lr_high",), r > self.th.lr_high, self.th.lr_patience):
            self._emit(step, Diagnostic(
                "lr_too_high", "warning", None,
                f"Each step changes the weights by {r:.1e} of their size (median over layers); "
                f"about 1e-3 is healthy.",
                "Lower the learning rate (try 10x lower)."), out)
        if self._hold(("lr_low",), r < self.th.lr_low, self.th.lr_patience):
            self._emit(step, Diagnostic(
                "lr_too_low", "info", None,
                f"Each step changes the weights by only {r:.1e} of their size (median over "
                f"layers); about 1e-3 is healthy.",
                "Raise the learning rate (try 10x higher), or check that the gradients are not "
                "vanishing."), out)

    def _plateau(self, step, loss, out):
        self._ema = loss if self._ema is None else 0.98 * self._ema + 0.02 * loss
        self._emas.append((step, self._ema))
        while len(self._emas) > 1 and step - self._emas[1][0] >= self.th.plateau_steps:
            self._emas.popleft()
        old_step, old = self._emas[0]
        if step - old_step < self.th.plateau_steps:
            return
        change = abs(old - self._ema) / max(abs(old), 1e-12)
        if change < self.th.plateau_change and self._ema > 1e-3:
            self._emit(step, Diagnostic(
                "plateau", "info", None,
                f"The training loss has stayed near {self._ema:.4g} for {step - old_step} steps.",
                "If it is still high, try a higher learning rate or a learning-rate schedule, a "
                "bigger network, or check the data and labels; if it is low, training has converged."),
                out)

    # -- per capture / validation ------------------------------------------------------------
    def check_time(self, step: int, node: str, norm_t: list[float]) -> list[Diagnostic]:
        """Gradients through time of one recurrent layer: ‖dL/dh_t‖ for each t."""
        out: list[Diagnostic] = []
        finite = [x for x in norm_t if _finite(x)]
        if len(finite) < 2 or len(finite) != len(norm_t):
            return out
        top = max(finite)
        ratio = finite[0] / top if top > 0 else 1.0
        if self._hold(("time", node), ratio < self.th.vanish_time_ratio, 2):
            self._emit(step, Diagnostic(
                "vanishing_through_time", "warning", node,
                f"In '{node}', dL/dh at the first time step is {ratio:.1e} of its largest value: "
                f"early inputs barely influence learning.",
                "Use an LSTM or GRU (their cell/update paths carry gradients across time), an "
                "orthogonal recurrent init, or shorter sequences."), out)
        return out

    def check_validation(self, step: int, val_loss: float | None) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        if not _finite(val_loss) or self._ema is None:
            return out
        self._vals.append((step, val_loss, self._ema))
        best = min(range(len(self._vals)), key=lambda k: self._vals[k][1])
        b_step, b_val, b_train = self._vals[best]
        if (len(self._vals) - 1 - best >= 2 and val_loss > b_val * (1 + self.th.overfit_rise)
                and self._ema < b_train * (1 - self.th.overfit_rise)):
            self._emit(step, Diagnostic(
                "overfitting", "warning", None,
                f"The validation loss rose from {b_val:.4g} (step {b_step}) to {val_loss:.4g} while "
                f"the training loss kept falling.",
                "The network is memorising the training set: add dropout or weight decay, use data "
                "augmentation or more data, a smaller network, or stop early at the best step."), out)
        return out
