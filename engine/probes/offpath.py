"""Where heavy captures run: inline in the training loop, or off the training path.

A capture needs only the weights after update s and the fixed probe batch. Off the path,
the training thread copies the weights (parameters and buffers) into a snapshot slot —
one fused copy — and goes on with step s + 1 while the capture runs elsewhere on a second
copy of the network loaded from that slot:

- ``process``: a helper process (:mod:`.process`, :mod:`.helper`) on a spare CPU core,
  or with its own CUDA context on the same GPU. The slots are shared memory; the helper
  encodes the rows the session stores and sends them back over a pipe (:mod:`.protocol`),
  and the training process writes them. A process, not a thread: a capture's Python (a
  recurrent layer's loop over time, a GPU capture's kernel launches) would hold the GIL
  the training loop needs. On a CPU the helper takes the per-step statistics too.
- ``stream`` (CUDA): a helper thread running the capture on a second CUDA stream; the
  snapshot is a device-to-device copy ordered on the training stream, so nothing waits
  (chosen when the machine has a single CPU core, or asked for).
- ``inline``: no spare core, a short run, or asked for: in the training loop.

Every mode computes the same records from the same weights with the same code
(:class:`CaptureModel`), so a run records bitwise the same captures inline or off the
path (given the same number of torch threads). A slot is reused only after its capture
is done; when both are busy the training loop waits for the older one, so every
scheduled capture is taken. Results are handed back in step order by :meth:`poll`.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from dataclasses import dataclass, field

import torch

from .capture import ProbeCapture, stored
from .outputs import boundary_probs
from .protocol import decode_row
from .targets import Targets

SLOTS = 2          # snapshots on the device (stream mode)
# Below this many steps left, a helper process is not worth starting (it takes a few
# seconds to import torch, and short runs are over before it is ready).
OFFPATH_MIN_STEPS = 200
READY_TIMEOUT = 120.0


@dataclass
class Result:
    step: int
    rows: dict = field(default_factory=dict)      # name -> encoded record (dtype, shape, comp, bytes)
    arrays: dict | None = None                    # name -> numpy array (inline and stream)
    full: dict | None = None                      # full-precision tensors (inline only)
    ranges: dict | None = None                    # histogram ranges after this capture
    error: str | None = None
    seconds: float = 0.0
    mode: str = "inline"
    found: list | None = None                     # [step, Diagnostic dict] found where it ran (process)

    def array(self, name: str):
        if self.arrays is not None:
            return self.arrays.get(name)
        row = self.rows.get(name)
        return None if row is None else decode_row(name, row)


def spare_cores() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores - torch.get_num_threads()


def choose_mode(requested: str, device: torch.device, steps_left: int) -> tuple[str, str]:
    """(mode, reason in words) for ``requested`` (a ProbeSettings.capture_mode)."""
    if requested == "inline":
        return "inline", "capture_mode is set to inline"
    if requested == "stream":
        if device.type == "cuda":
            return "stream", "capture_mode is set to stream"
        return "inline", f"a second CUDA stream was asked for but training runs on {device.type}"
    if requested == "process":
        if device.type in ("cpu", "cuda"):
            return "process", "capture_mode is set to process"
        return "inline", f"a helper process captures CPU and CUDA runs only; training runs on {device.type}"
    if device.type == "cuda":
        if (os.cpu_count() or 1) < 2:
            return "stream", "one CPU core only: a second CUDA stream instead of a helper process"
        if steps_left < OFFPATH_MIN_STEPS:
            return "inline", f"the run is short ({steps_left} steps)"
        return "process", "training runs on CUDA and a CPU core is free to drive the captures"
    if device.type != "cpu":
        return "inline", f"captures beside training are not supported on {device.type}"
    if spare_cores() < 1:
        return "inline", f"torch uses all {torch.get_num_threads()} cores for training: no spare core"
    if steps_left < OFFPATH_MIN_STEPS:
        return "inline", f"the run is short ({steps_left} steps)"
    return "process", "a spare CPU core is free"


def model_tensors(model: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Everything a capture reads from a model: parameters, then buffers (batch-norm
    running statistics), by name, detached."""
    return ([(n, p.detach()) for n, p in model.named_parameters()]
            + [(n, b.detach()) for n, b in model.named_buffers()])


class CaptureModel:
    """A second copy of the network that captures run on, loaded from a snapshot."""

    def __init__(self, doc, device, dtype, x, y, max_channels: int, bins: int,
                 grid_x=None, grid: int = 0, names: list[str] | None = None):
        from ..graph.compile import compile_graph
        compiled = compile_graph(doc, device)
        self.model = compiled.model
        if dtype is not None and dtype != torch.float32:
            self.model.to(dtype)
        self.targets = Targets(compiled, doc, device)
        self.capture = ProbeCapture(self.targets, x, y, compiled.loss, max_channels, bins)
        self.grid_x, self.grid = grid_x, grid
        own = model_tensors(self.model)
        if names is not None and [n for n, _ in own] != list(names):
            raise RuntimeError("the capture copy of the network does not match the trained one")
        self.tensors = [t for _, t in own]

    def take_over(self, handover: dict | None) -> None:
        """Go on where the previous capturer stopped: its histogram ranges and sizes."""
        if handover:
            self.capture.load_ranges(handover.get("ranges") or {})
            self.capture.max_channels = int(handover.get("max_channels", self.capture.max_channels))
            self.capture.bins = int(handover.get("bins", self.capture.bins))

    def load(self, snapshot: list[torch.Tensor]) -> None:
        with torch.no_grad():
            if snapshot and snapshot[0].device == self.tensors[0].device:
                torch._foreach_copy_(self.tensors, snapshot)
            else:  # host slots into a GPU copy (the CUDA helper process)
                for dst, src in zip(self.tensors, snapshot):
                    dst.copy_(src)

    def run(self) -> dict:
        rec = self.capture.run()
        rec.update(boundary_probs(self.model, self.grid_x, self.grid))
        return stored(rec)


# -- inline ------------------------------------------------------------------------------
class InlineCaptures:
    """Captures in the training loop, on the live model."""
    mode = "inline"

    def __init__(self, capture: ProbeCapture, model, outputs):
        self.capture, self.model, self.outputs = capture, model, outputs
        self.ready = True

    def run(self, step: int) -> Result:
        start = time.perf_counter()
        rec = self.capture.run()
        rec.update(self.outputs.heavy() if self.outputs is not None else {})
        full = {k: v.detach().cpu() for k, v in rec.items()}
        arrays = stored(rec)
        return Result(step, arrays=arrays, full=full, ranges=self.capture.ranges(),
                      seconds=time.perf_counter() - start, mode="inline")


# -- a second CUDA stream ---------------------------------------------------------------------
class StreamCaptures:
    """Captures on a helper thread and a second CUDA stream, from device-side snapshots.
    (On a CPU the same thread runs without streams: not chosen by default, since its
    Python would hold the GIL the training loop needs, but it checks this machinery on
    machines without a GPU.)"""
    mode = "stream"

    def __init__(self, doc, model, x, y, max_channels, bins, grid_x=None, grid=0):
        live = model_tensors(model)
        device = live[0][1].device if live else x.device
        dtype = next((t.dtype for _, t in live if t.is_floating_point()), None)
        self.cm = CaptureModel(doc, device, dtype, x, y, max_channels, bins, grid_x, grid,
                               [n for n, _ in live])
        self.live = [t for _, t in live]
        self.slots = [[torch.empty_like(t) for t in self.live] for _ in range(SLOTS)]
        self.done_events: list = [None] * SLOTS
        self.free = list(range(SLOTS))
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self.in_flight = 0
        self.ready = True
        self._thread = threading.Thread(target=self._loop, name="probe-captures", daemon=True)
        self._thread.start()

    def submit(self, step: int, handover: dict | None) -> list[Result]:
        got = [] if self.free else self._wait_one()
        k = self.free.pop(0)
        ready = None
        if self.stream is not None:
            current = torch.cuda.current_stream(self.stream.device)
            if self.done_events[k] is not None:
                current.wait_event(self.done_events[k])  # the helper has loaded this slot before
        with torch.no_grad():
            torch._foreach_copy_(self.slots[k], self.live)
        if self.stream is not None:
            ready = torch.cuda.Event()
            ready.record(current)
        self.in_flight += 1
        self._jobs.put((step, k, ready, handover))
        return got

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            step, k, ready, handover = job
            start = time.perf_counter()
            try:
                with torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext():
                    if ready is not None:
                        self.stream.wait_event(ready)
                    self.cm.take_over(handover)
                    self.cm.load(self.slots[k])
                    if self.stream is not None:
                        done = torch.cuda.Event()
                        done.record(self.stream)
                        self.done_events[k] = done
                    arrays = self.cm.run()
                result = Result(step, arrays=arrays, ranges=self.cm.capture.ranges(), mode="stream")
            except Exception as exc:  # reported by the recorder as a probe error
                result = Result(step, error=f"{type(exc).__name__}: {exc}", mode="stream")
            result.seconds = time.perf_counter() - start
            self._results.put((k, result))

    def _take(self, item) -> Result:
        k, result = item
        self.free.append(k)
        self.in_flight -= 1
        return result

    def _wait_one(self) -> list[Result]:
        return [self._take(self._results.get())]

    def waiting(self) -> bool:
        return self.in_flight > 0

    def unanswered(self) -> tuple[list[int], list[int]]:
        """Nothing is lost when this capturer stops: its thread is the training process's."""
        return [], []

    def poll(self) -> list[Result]:
        out = []
        while True:
            try:
                out.append(self._take(self._results.get_nowait()))
            except queue.Empty:
                return out

    def flush(self, timeout: float | None = None) -> list[Result]:
        out = self.poll()
        while self.in_flight:
            out += self._wait_one()
        return out

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)
