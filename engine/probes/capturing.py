"""Where a ProbeSet's heavy captures run and how their results come back: inline in the
training loop, in a helper process on a spare core, or on a second CUDA stream
(:mod:`.offpath`); the move between them, said in the session as "capture_mode" events; and the
results (captures, and the statistics the helper process measured) written as they arrive.

A mixin of :class:`.recorder.ProbeSet`, whose state it shares (the writer, the settings, the
schedule, the helper runner): kept apart because it is one responsibility, where captures run,
beside the recorder's other one, what a step measures.
"""
from __future__ import annotations

from dataclasses import asdict

import torch

from . import offpath
from .diagnostics import Diagnostic, diagnose_capture
from .process import SLOTS, DiagnosticsResult, HelperGone, ProcessHelper, StatsResult

_MODE_TEXT = {
    "inline": "Heavy captures run inline, in the training loop ({reason}).",
    "process": "Heavy captures run in a helper process on a spare CPU core, beside training.",
    "stream": "Heavy captures run on a second CUDA stream, beside training.",
}


class CaptureRouting:
    def _start_offpath(self, mode: str, reason: str, doc, trainer, x, y) -> None:
        s, grid_x = self.settings, self.outputs.grid_x
        if mode == "stream":
            self._offpath = offpath.StreamCaptures(doc, trainer.model, x, y, s.max_channels, s.hist_bins,
                                                   grid_x, self.outputs.grid)
        elif mode == "process":
            threads = torch.get_num_threads()
            if s.capture_mode == "auto":
                threads = max(1, min(threads, offpath.spare_cores()))
            self._offpath = ProcessHelper(doc, trainer.model, self.stats._flat, x, y, s.max_channels,
                                          s.hist_bins, grid_x, self.outputs.grid, self.capture.ranges(), threads,
                                          asdict(self.thresholds), slots=SLOTS * (2 if self._replay else 1))
            self._helper_files = self._offpath.created
            if s.capture_mode == "process" and not self._offpath.wait_ready():
                reason = self._offpath.gone or "the helper process did not start in time"
                self._drop_offpath(trainer.step, reason)
                return
        self._announce(trainer.step, mode, reason)

    def _announce(self, step: int, mode: str, reason: str) -> None:
        if mode == "process" and not self._offpath.ready:
            message = "Heavy captures run inline until the helper process on a spare CPU core has started."
        else:
            message = _MODE_TEXT[mode].format(reason=reason)
            self.capture_mode = mode
        self._mode_event(step, mode, message, reason, mode != "process" or self._offpath.ready)

    def _mode_event(self, step: int, mode: str, message: str, reason: str, ready: bool,
                    lost: dict | None = None) -> None:
        """A "capture_mode" event: where heavy captures run from this step on."""
        data = {"mode": mode, "reason": reason, "ready": ready}
        if lost:
            data["lost"] = lost
        event = ("capture_mode", step, message, data)
        if self._held_events is not None:
            self._held_events.append(event)  # the run's "start" comes first in the session
        else:
            self.writer.event(*event)
        if self.on_capture_mode is not None:
            self.on_capture_mode(mode if ready else "inline", message)

    def _drop_offpath(self, step: int, why: str, partial: int | None = None) -> None:
        """Captures (and statistics) back in the training loop; the event names the steps
        whose results the helper took with it (``partial``: a step measured here in part,
        its layer outputs left to the helper)."""
        runner, self._offpath = self._offpath, None
        self.capture_mode = "inline"
        self._slot = None
        lost_stats, lost_captures = runner.unanswered() if runner is not None else ([], [])
        if partial is not None and partial not in lost_stats:
            lost_stats = sorted([*lost_stats, partial])
        if runner is not None:
            try:
                runner.close()
            except Exception:
                pass
        message = f"Heavy captures run inline, in the training loop ({why})."
        if lost_stats or lost_captures:
            message += " " + _lost_text(lost_stats, lost_captures)
        self._mode_event(step, "inline", message, why, True,
                         {"statistics": lost_stats, "captures": lost_captures} if lost_stats or lost_captures else None)

    def _release_events(self) -> None:
        held, self._held_events = self._held_events or [], None
        for event in held:
            self.writer.event(*event)

    def _handover(self) -> dict:
        """What a capturer beside training must take over: the histogram ranges when
        captures ran here since, the sizes when they changed."""
        handover = {}
        if self._give_ranges:
            handover["ranges"] = self.capture.ranges()
        if self._give_sizes or self._give_ranges:
            handover.update(max_channels=self.settings.max_channels, bins=self.settings.hist_bins)
        self._give_ranges = self._give_sizes = False
        return handover

    def _heavy(self, step: int) -> None:
        start = self.schedule.now()
        self._guard("captures", self._capture, step)
        self.schedule.taken(start, count=step > 0)

    def _capture(self, step: int) -> None:
        self._step = step
        self._last_heavy_step = step
        runner = self._offpath
        if runner is not None and runner.mode == "process" and not runner.alive():
            self._drop_offpath(step, runner.gone)
        elif runner is not None and not runner.ready:
            self._collect(runner.poll())
        runner = self._offpath
        if runner is not None and runner.ready:
            try:
                if runner.mode == "process":
                    runner.send(runner.reserve(), step, None, True, self._handover(), self.settings.diagnostics)
                else:
                    self._collect(runner.submit(step, self._handover()))
                return
            except HelperGone as exc:
                self._drop_offpath(step, str(exc))
        result = self._inline.run(step)
        self._give_ranges = True
        self.last_capture = result.full
        self._collect([result])

    def _report_found(self, found: list) -> None:
        """Diagnostics found in the helper process: [step, Diagnostic dict] pairs."""
        for step, d in found:
            self._report(step, [Diagnostic.from_dict(d)])

    def _collect(self, results) -> None:
        for r in results:
            if isinstance(r, StatsResult):  # diagnosed in the helper, if at all
                self._write_rows(r.names, r.rows)
                continue
            if isinstance(r, DiagnosticsResult):
                self._report_found(r.found)
                self.diagnostician.follow_loss(r.loss_average)
                continue
            if r.error:
                raise RuntimeError(f"capture at step {r.step}: {r.error}")
            self.captured[r.mode] += 1
            self.capture_seconds.append(r.seconds)
            if r.mode != "inline" and r.ranges:
                self.capture.load_ranges(r.ranges)  # so that inline can take over exactly
            w = self.writer
            for name, row in r.rows.items():
                w.encoded_tensor(name, r.step, row)
            for name, arr in (r.arrays or {}).items():
                w.tensor(name, r.step, arr)
            if r.found is not None:  # diagnosed where it ran
                self._report_found(r.found)
            elif self.settings.diagnostics:
                for found in diagnose_capture(self.diagnostician, self.targets, r.step, r.array):
                    self._report(r.step, [found])
        runner = self._offpath
        if runner is None or runner.mode != "process" or not self._running:
            return
        if runner.gone:
            self._drop_offpath(self._step, runner.gone)
        elif runner.ready and self.capture_mode != "process":
            self.capture_mode = "process"
            self._mode_event(self._step, "process", _MODE_TEXT["process"], "the helper process is ready", True)


def _steps_text(steps: list[int]) -> str:
    """1, 2, 3, 5 -> "1-3, 5" (at most a few runs, then how many more)."""
    runs: list[list[int]] = []
    for s in steps:
        if runs and s == runs[-1][1] + 1:
            runs[-1][1] = s
        else:
            runs.append([s, s])
    words = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:6]]
    if len(runs) > 6:
        words.append(f"{len(runs) - 6} more")
    return ", ".join(words)


def _lost_text(stats: list[int], captures: list[int]) -> str:
    """The steps whose results went with a helper that stopped, in a sentence."""
    parts = []
    if stats:
        parts.append(f"the statistics of {len(stats)} step{'s' if len(stats) != 1 else ''} ({_steps_text(stats)})")
    if captures:
        parts.append(f"the capture{'s' if len(captures) != 1 else ''} of step{'s' if len(captures) != 1 else ''} "
                     f"{_steps_text(captures)}")
    return f"It took {' and '.join(parts)} with it: they are missing from this session."
