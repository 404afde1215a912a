"""ProbeSet: the Trainer callback that measures a run and writes it to a SessionWriter.

Record names, shapes, units and rates: docs/probes.md. Committing is the worker's job
(it commits every ~0.2 s); the ProbeSet only buffers records in the writer.

A failing probe must not end a training run: its error becomes one "probe_error" event
and that group of probes (statistics or captures) is switched off for the rest of the run.
"""
from __future__ import annotations

import torch

from ..train.callbacks import Callback
from .capture import ProbeCapture
from .diagnostics import Diagnostician, Thresholds
from .outputs import OutputCaptures
from .settings import ProbeSettings, Schedule
from .stats import StepStats
from .targets import Targets

FLOAT16_MAX = 65504.0


class ProbeSet(Callback):
    """Attach with ``Trainer(doc, callbacks=[ProbeSet(writer)])``.

    ``settings`` (ProbeSettings) sets the rates; :meth:`configure` changes them while the
    run goes on. ``basic_scalars=False`` leaves train/loss, train/accuracy, lr, step_time,
    samples_per_s and val/* to another recorder (engine.train.recorder.SessionRecorder
    writes them too). ``last_capture`` holds the latest heavy capture at full precision
    (name -> CPU tensor), before the rounding the store applies.
    """

    def __init__(self, writer, settings: ProbeSettings | None = None,
                 thresholds: Thresholds | None = None, doc=None, basic_scalars: bool = True):
        self.writer = writer
        self.basic_scalars = basic_scalars
        self.settings = settings or ProbeSettings()
        self.schedule = Schedule(self.settings)
        self.thresholds = thresholds or Thresholds()
        self.doc = doc
        self.targets: Targets | None = None
        self.stats: StepStats | None = None
        self.capture: ProbeCapture | None = None
        self.diagnostician: Diagnostician | None = None
        self.outputs: OutputCaptures | None = None
        self.last_capture: dict[str, torch.Tensor] = {}
        self.diagnostics: list = []   # every Diagnostic emitted, in order
        self.errors: list[str] = []   # probe failures (also written as "probe_error" events)
        self._last_heavy_step = -1
        self._step = 0
        self._stats_seconds = 0.0
        self._stats_ok = self._heavy_ok = True

    # -- rate control ----------------------------------------------------------------------
    def configure(self, **changes) -> dict:
        """Change settings now (e.g. ``heavy_hz=2``, ``stats_every=10``); raises
        ProbeSettingsError for an unknown name or a bad value. Returns all settings."""
        self.settings = self.settings.changed(**changes)
        self.schedule.settings = self.settings
        if self.capture is not None:
            self.capture.max_channels, self.capture.bins = self.settings.max_channels, self.settings.hist_bins
        return self.settings.to_dict()

    # -- trainer callbacks -------------------------------------------------------------------
    def on_start(self, trainer) -> None:
        doc = self.doc if self.doc is not None else trainer.doc
        self.targets = t = Targets(trainer.compiled, doc, trainer.device)
        x, y = self._probe_batch(trainer)
        self.writer.probe_batch(x.cpu().numpy().copy(), y.cpu().numpy().copy())
        s = self.settings
        self.capture = ProbeCapture(t, x, y, trainer.loss_fn, s.max_channels, s.hist_bins)
        self.stats = StepStats(t)
        self.stats.attach()
        sizes = {n: sum(p.numel() for p in t.params(n)) for n in t.order}
        self.diagnostician = Diagnostician(t.order, sizes, self.thresholds)
        self.outputs = OutputCaptures(trainer)  # decision boundary, confusion, text sample
        self._guard("captures", self._write, trainer.step, self.outputs.once)
        self._heavy(trainer.step, count=False)  # the state before any update
        self._arm(trainer.step + 1)

    def on_after_backward(self, trainer, step: int) -> None:
        if self._stats_ok and self.stats.armed:
            start = self.schedule.now()
            self._guard("statistics", self.stats.after_backward, True)
            self._stats_seconds = self.schedule.now() - start

    def on_step_end(self, trainer, step: int, metrics: dict) -> None:
        self._step = step
        w = self.writer
        loss = metrics.get("loss")
        dt = metrics.get("step_time")
        if self.basic_scalars:
            w.scalar("train/loss", step, loss)
            w.scalar("lr", step, metrics.get("lr", trainer.lr))
        if self.basic_scalars and dt:
            w.scalar("step_time", step, dt)
            w.scalar("samples_per_s", step, metrics.get("batch_size", self.stats.batch_size or 0) / dt)
        if self._stats_ok and self.stats.armed:
            start, hooks = self.schedule.now(), self.stats.seconds
            self._guard("statistics", self._write_stats, trainer, step, loss)
            self.schedule.stats_taken(self.schedule.now() - start + hooks + self._stats_seconds)
            self._stats_seconds = 0.0
        if self._heavy_ok and self.schedule.heavy_due(step):
            self._heavy(step)
        self._arm(step + 1)

    def on_validation(self, trainer, step: int, metrics: dict) -> None:
        if self.basic_scalars:
            self.writer.scalar("val/loss", step, metrics["loss"])
            if metrics.get("accuracy") is not None:
                self.writer.scalar("val/accuracy", step, metrics["accuracy"])
        if self.outputs is not None and self._heavy_ok:
            self._guard("captures", self._write, step, self.outputs.validation, metrics)
        if self.diagnostician is not None and self.settings.diagnostics:
            self._report(step, self.diagnostician.check_validation(step, metrics["loss"]))

    def on_event(self, kind: str, step: int, message: str = "", data: dict | None = None) -> None:
        # A NaN loss skips the rest of the step; the forward's statistics still say where
        # the NaN started.
        if kind == "nan" and self.stats is not None and self._stats_ok and self.settings.diagnostics:
            values = self.stats.collect()
            loss = float("nan")
            self._report(step, self.diagnostician.check_nan(step, loss, values))

    def on_end(self, trainer, summary: dict) -> None:
        try:
            if self._heavy_ok and self._last_heavy_step != trainer.step and trainer.step > 0:
                self._heavy(trainer.step)  # the final state, for replay
        finally:
            self.close()

    def close(self) -> None:
        """Remove every hook (also done by on_end)."""
        if self.stats is not None:
            self.stats.detach()

    # -- internals -----------------------------------------------------------------------------
    def _probe_batch(self, trainer):
        """Evenly spaced samples of the validation split (the training split if there is
        none): fixed for the run, and spread over a split that may be sorted by class."""
        x, y = trainer.x_val, trainer.y_val
        if len(x) == 0:
            x, y = trainer.x_train, trainer.y_train
        k = min(self.settings.probe_size, len(x))
        idx = torch.linspace(0, len(x) - 1, k).round().long().unique().to(x.device)
        return x.index_select(0, idx), y.index_select(0, idx)

    def _arm(self, step: int) -> None:
        if self.stats is not None:
            self.stats.armed = self._stats_ok and self.schedule.stats_due(step)

    def _write_stats(self, trainer, step: int, loss) -> None:
        values = self.stats.collect()
        acc = trainer.batch_accuracy() if self.basic_scalars and hasattr(trainer, "batch_accuracy") else None
        if acc is not None:
            values["train/accuracy"] = acc
        for name, v in values.items():
            self.writer.scalar(name, step, v)
        if self.settings.diagnostics:
            self._report(step, self.diagnostician.check_step(step, loss, values))

    def _heavy(self, step: int, count: bool = True) -> None:
        start = self.schedule.now()
        self._guard("captures", self._capture, step)
        self.schedule.taken(start, count)

    def _capture(self, step: int) -> None:
        self._step = step
        rec = {k: v.detach().cpu() for k, v in self.capture.run().items()}
        rec.update(self.outputs.heavy())
        self.last_capture = rec
        self._last_heavy_step = step
        for name, v in rec.items():
            self.writer.tensor(name, step, _stored(name, v).numpy())
        if self.settings.diagnostics:
            for node in self.targets.recurrent:
                norm_t = rec.get(f"bptt/{node}/grad_norm_t")
                if norm_t is not None:
                    self._report(step, self.diagnostician.check_time(step, node, norm_t.tolist()))

    def _write(self, step: int, make, *args) -> None:
        for name, v in make(*args).items():
            self.writer.tensor(name, step, v)

    def _report(self, step: int, found) -> None:
        for d in found:
            self.diagnostics.append(d)
            self.writer.event("diagnostic", step, d.message, d.to_dict())

    def _guard(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a probe bug must not end the user's training run
            if what == "statistics":
                self._stats_ok = False
                if self.stats is not None:
                    self.stats.armed = False
            else:
                self._heavy_ok = False
            msg = f"The {what} probes failed and were switched off for this run: {exc}"
            self.errors.append(msg)
            self.writer.event("probe_error", self._step, msg, {"what": what, "error": type(exc).__name__})


def _stored(name: str, v: torch.Tensor) -> torch.Tensor:
    """How a capture is rounded for the store: histograms float64 (exact counts),
    gradients, predictions and filters float32, everything else float16 when it fits."""
    if name.startswith(("act_hist/", "weight_hist/")):
        return v.double()
    if not v.is_floating_point():
        return v
    if name.startswith(("bptt/", "predictions", "filters/")):
        return v.float()
    finite = v[torch.isfinite(v)]
    if finite.numel() and float(finite.abs().max()) >= FLOAT16_MAX:
        return v.float()
    return v.half()
