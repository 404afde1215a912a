"""ProbeSet: the Trainer callback that measures a run and writes it to a SessionWriter.

Record names, shapes, units and rates: docs/probes.md. Committing is the worker's job
(it commits every ~0.2 s); the ProbeSet only buffers records in the writer.

Nothing here makes the training loop wait on a step without a capture: a step's
statistics are taken beside training or written once their one transfer has arrived
(:mod:`.measuring`), and heavy captures run beside training where there is room
(:mod:`.offpath`, routed by :mod:`.capturing`), their records written when they come back.
The session says where captures ran ("capture_mode" events).

A failing probe must not end a training run: its error becomes one "probe_error" event
and that group of probes (statistics or captures) is switched off for the rest of the run.
"""
from __future__ import annotations

import time
from collections import deque

import torch

from ..train.callbacks import Callback, step_after
from ..train.recorder import Throughput, detail_due
from . import offpath
from .binary import BinaryStats
from .capture import ProbeCapture
from .capturing import CaptureRouting
from .diagnostics import Diagnostician, Thresholds
from .measuring import StepMeasuring
from .outputs import OutputCaptures
from .settings import ProbeSettings, Schedule
from .stats import StepStats
from .targets import Targets

RESULTS_WITHIN = 0.05  # s: how long helper results may wait on quiet steps before they are written


class ProbeSet(StepMeasuring, CaptureRouting, Callback):
    """Attach with ``Trainer(doc, callbacks=[ProbeSet(writer)])``.

    ``settings`` (ProbeSettings) sets the rates; :meth:`configure` changes them while the
    run goes on. ``basic_scalars=False`` leaves train/loss, train/accuracy, lr, step_time,
    samples_per_s, grad_norm and val/* to another recorder (engine.train.recorder.SessionRecorder
    writes them too). ``last_capture`` holds the latest inline heavy capture at full
    precision (name -> CPU tensor), before the rounding the store applies.
    ``capture_mode`` is where captures run now ("inline", "process" or "stream").
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
        self.binary: BinaryStats | None = None   # flips and STE fractions of binary layers
        self.last_capture: dict[str, torch.Tensor] = {}
        self.diagnostics: list = []   # every Diagnostic emitted, in order
        self.errors: list[str] = []   # probe failures (also written as "probe_error" events)
        self.capture_mode = "inline"
        self.captured: dict[str, int] = {"inline": 0, "process": 0, "stream": 0}
        self.on_capture_mode = None   # called (mode, message) when captures move (the worker tells the window)
        self.measured = {"here": 0, "helper": 0}  # where each step's statistics were computed
        self.capture_seconds: deque = deque(maxlen=64)  # the latest captures' own time, where they ran
        self._held_events: list | None = []  # until the run's "start" event has been written
        self._inline: offpath.InlineCaptures | None = None
        self._offpath = None          # ProcessCaptures / StreamCaptures while in use
        self._give_ranges = True      # the histogram ranges are here, not (yet) beside training
        self._give_sizes = False      # max_channels / hist_bins changed since the last capture
        self._pending: deque = deque()  # (step, loss, layout, pending values) of statistics
        self._ship_stats: bool | None = None  # statistics to the helper process (small networks)
        self._slot: int | None = None         # the helper slot this step's statistics fill
        self._slot_next: int | None = None    # reserved when the step was armed
        self._replay = False                  # the helper recomputes a step's outputs from its batch
        self._present: list[int] = []        # parameters with a gradient this step (helper slot)
        self._gnorms: list = []               # ... and their gradients' norms
        self._before_in = "slot"              # where the helper finds the weights before the update
        self._helper_files: list[str] = []
        self._last_heavy_step = -1
        self._throughput = Throughput()    # samples_per_s, as the worker's recorder measures it
        self._step = 0
        self._running = False
        self._stats_ok = self._heavy_ok = True
        self._measuring = False   # this step's statistics are taken (the taps may be off: _replay)
        # quiet_until (Callback): steps before it need nothing of on_step_end but a look for
        # results, neither statistics nor a capture is due (most steps at the default rates),
        # and the trainer calls no callback while they all are quiet.
        self._trainer = None          # while running: woken when the rates change

    # -- rate control ----------------------------------------------------------------------
    def configure(self, **changes) -> dict:
        """Change settings now (e.g. ``heavy_every=20``, ``stats_every=10``); raises
        ProbeSettingsError for an unknown name or a bad value. Returns all settings.
        A rate changed while running starts exactly on its multiples (no dense start)."""
        self.settings = self.settings.changed(**changes)
        self.schedule.reconfigure(self.settings, changes, self._running)
        if self._running:  # the next step was armed, or not, by the old rates
            self._arm(self._trainer.step + 1)
            if hasattr(self._trainer, "wake"):
                self._trainer.wake()
        self.quiet_until = 0
        if self.capture is not None:
            self.capture.max_channels, self.capture.bins = self.settings.max_channels, self.settings.hist_bins
        self._give_sizes = True
        return self.settings.to_dict()

    # -- trainer callbacks -------------------------------------------------------------------
    def on_start(self, trainer) -> None:
        doc = self.doc if self.doc is not None else trainer.doc
        self.targets = t = Targets(trainer.compiled, doc, trainer.device)
        self._trainer = trainer
        x, y = self._probe_batch(trainer)
        self.writer.probe_batch(x.cpu().numpy().copy(), y.cpu().numpy().copy())
        s = self.settings
        self.capture = ProbeCapture(t, x, y, trainer.loss_fn, s.max_channels, s.hist_bins)
        mode, reason = offpath.choose_mode(s.capture_mode, trainer.device,
                                           trainer.total_steps - trainer.step)
        self.stats = StepStats(t)
        self.stats.use_norms_of(trainer)
        # (statistics go to the helper on a CPU only)
        self._replay = t.replayable and isinstance(x, torch.Tensor) and trainer.device.type == "cpu"
        self.stats.attach()
        self.binary = BinaryStats(t) if t.binary else None
        self.diagnostician = Diagnostician.for_targets(t, self.thresholds)
        self.outputs = OutputCaptures(trainer)  # decision boundary, confusion, text sample
        self._guard("captures", self._write, trainer.step, self.outputs.once)
        self._inline = offpath.InlineCaptures(self.capture, trainer.model, self.outputs)
        self._guard("captures", self._start_offpath, mode, reason, doc, trainer, x, y)
        self._running = True
        self._heavy(trainer.step)  # the state before any update
        self._arm(trainer.step + 1)

    # Both run on every training step: every call and context in them costs the loop
    # (several times what it costs in a micro-benchmark: the code is cold by then).
    def on_after_backward(self, trainer, step: int) -> None:
        if self._measuring:
            try:
                self._gradients(trainer, step)
                if self.binary is not None:
                    self.binary.after_backward()
            except Exception as exc:
                self._failed("statistics", exc)

    def on_step_end(self, trainer, step: int, metrics: dict) -> None:
        self._step = step
        if step < self.quiet_until:  # called for another callback's sake
            if self._offpath is not None and self._offpath.waiting():
                self._guard("captures", self._collect, self._offpath.poll())
            return
        if self._held_events:
            self._release_events()
        loss = metrics.get("loss")
        if self.basic_scalars:  # at the cadence the worker's recorder keeps (docs/probes.md)
            dt = metrics.get("step_time")
            basic = {"train/loss": loss, "lr": metrics["lr"] if "lr" in metrics else trainer.lr}
            if dt and detail_due(step):
                basic["step_time"] = dt
                rate = self._throughput.read(step, metrics.get("batch_size", trainer.batch_size), dt, time.time())
                if rate is not None:
                    basic["samples_per_s"] = rate
            self.writer.scalars(step, basic)
        measured = self._stats_ok and self._measuring
        heavy = self._heavy_ok and self.schedule.heavy_due(step)
        timed = measured and self.settings.stats_budget < 1
        start = time.perf_counter() if timed else 0.0
        if self._slot is not None:           # statistics (and maybe a capture) to the helper
            self._guard("statistics", self._ship, trainer, step, loss, heavy)
        else:
            if measured:
                self._guard("statistics", self._finish_stats, trainer, step, loss)
            if heavy:
                self._heavy(step)
        if timed:
            self.schedule.stats_taken(time.perf_counter() - start)
        if self._pending:
            self._guard("statistics", self._drain_stats, False)
        if self.binary is not None and self._stats_ok:
            self._guard("statistics", self._binary_stats, step, measured, False)
        if self._offpath is not None and self._offpath.waiting():
            self._guard("captures", self._collect, self._offpath.poll())
        self._arm(step + 1)
        if not (self._measuring or self._pending or self._held_events or self.basic_scalars or self.binary is not None):
            # quiet until the step before statistics are due (which arms them) or a capture;
            # results from the helper are picked up within ~RESULTS_WITHIN seconds
            until = self.schedule.quiet_until(step + 1)
            dt = metrics.get("step_time")
            if self._offpath is not None and dt:
                until = min(until, step_after(step, RESULTS_WITHIN, dt))
            self.quiet_until = until

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
        if kind == "start":
            self._release_events()
        # A NaN loss skips the rest of the step; the forward's statistics still say where
        # the NaN started.
        if kind == "nan" and self.stats is not None and self._stats_ok and self.settings.diagnostics:
            if self._measuring and not self.stats.armed and self._trainer is not None:
                self._guard("statistics", self._replay_here, self._trainer)  # the helper was to recompute them
            values = self.stats.collect()
            self._report(step, self.diagnostician.check_nan(step, float("nan"), values))

    def on_end(self, trainer, summary: dict) -> None:
        try:
            self.flush()
            if self._heavy_ok and self._last_heavy_step != trainer.step and trainer.step > 0:
                self._heavy(trainer.step)  # the final state, for replay
            self.flush()
        finally:
            self.close()

    def wait_ready(self, timeout: float = offpath.READY_TIMEOUT) -> str:
        """Wait until a helper process that is starting can take captures (benchmarks
        call this so that they measure the steady state); returns the capture mode."""
        runner = self._offpath
        if runner is not None and runner.mode == "process" and not runner.ready:
            if not runner.wait_ready(timeout) and not runner.gone:
                runner.gone = "the helper process did not start in time"
            self._collect([])
        return self.capture_mode

    def flush(self, timeout: float = offpath.READY_TIMEOUT) -> None:
        """Wait for every statistic and capture still on its way and write it (the worker
        calls this before it pauses; the end of the run does it too)."""
        if self._pending:
            self._guard("statistics", self._drain_stats, True)
        if self.binary is not None and self._stats_ok:
            self._guard("statistics", self._binary_stats, self._step, False, True)
        if self._offpath is not None:
            self._guard("captures", self._collect, self._offpath.flush(timeout))

    @property
    def helper_files(self) -> list[str]:
        """The shared-memory files the helper process used (all removed by now)."""
        return list(self._helper_files)

    def close(self) -> None:
        """Remove every hook and stop helpers (also done by on_end)."""
        self._running = False
        if self._held_events:
            self._release_events()
        if self.stats is not None:
            self.stats.detach()
        if self.binary is not None:
            self.binary.detach()
        if self._offpath is not None:
            runner, self._offpath = self._offpath, None
            runner.close()

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
            self._failed(what, exc)

    def _failed(self, what: str, exc: Exception) -> None:
        """Switch the failing group of probes off for the rest of the run, and say so."""
        if what == "statistics":
            self._stats_ok = self._measuring = False
            self._pending.clear()
            if self.stats is not None:
                self.stats.armed = False
        else:
            self._heavy_ok = False
            if self._offpath is not None:
                runner, self._offpath = self._offpath, None
                try:
                    runner.close()
                except Exception:
                    pass
        msg = f"The {what} probes failed and were switched off for this run: {exc}"
        self.errors.append(msg)
        self.writer.event("probe_error", self._step, msg, {"what": what, "error": type(exc).__name__})
