"""The training process's side of the capture helper (:mod:`.helper`): a second Python
process on a spare CPU core that takes heavy captures, and on a CPU the per-step
statistics of small networks, off the training thread. On a CUDA device the helper runs
its captures on the same GPU in its own CUDA context: a second process, not a second
thread, because the training loop is bound by the host's kernel launches and a capture
thread would hold the GIL it needs. There the weights leave the GPU by a non-blocking
copy into pinned memory; the request goes out once that copy's event has completed
(polled on later steps), so the training loop never waits for the device.

Each measured step uses one of ``slots`` shared-memory slots, round robin: the weights
after the update (every parameter and buffer: what a capture needs), the weights before
it and the norm of every gradient before clipping (what the statistics need; the trainer
measures them once a step in one fused call, and its clip by norm reuses them), and the
layers' outputs. Filling a slot is a few fused copies; a frame on the helper's stdin says what
the slot holds. The helper writes the number of the last slot it has finished with into
a shared counter, so the training loop knows without a message when it may refill a
slot (it waits only when every slot is still in use: the helper has fallen behind).
Captures come back as encoded session rows, statistics as named values, together in one
frame every ~0.1 s (each frame wakes the thread that reads them, which then competes for
the training loop's GIL), read by a thread that only parses frames.
"""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..train.metrics import norm_dtype
from .numerics import numerics
from .offpath import READY_TIMEOUT, Result, model_tensors
from .protocol import decode_row, encode_arrays, read_frame, write_frame, write_step
from .shared_memory import dtype_name, layout_of, shared_file, sweep, views

# Slots in the ring: enough for the helper to fall a few steps behind while it takes a
# capture (a^n b^n: 3.5 ms, three training steps). Where it recomputes the outputs from the
# batch, a slot is small (weights and batch) and the helper busier: twice as many.
SLOTS = 8
# Extra "outputs" shipped with a step's statistics: the training batch's predictions and
# targets, for train/accuracy, and the batch itself when the helper recomputes the layers'
# outputs from it (Targets.replayable) instead of receiving them (names no graph node can have).
ACCURACY_PRED, ACCURACY_TARGET, REPLAY_INPUT = "\0pred", "\0target", "\0input"
# Step requests are small frames; waking the helper for each costs the training loop a
# system call and, on a busy machine, a context switch. They go out together at most
# this often, or at once when a capture is asked for or a slot is awaited.
SEND_EVERY_S = 0.005


class HelperGone(RuntimeError):
    """The helper process ended or stopped answering."""


@dataclass
class StatsResult:
    """Statistics of steps from the helper (diagnosed there): ``rows``, a float64 array
    of [step, value per name]."""
    names: list
    rows: np.ndarray


@dataclass
class DiagnosticsResult:
    """What the helper's diagnostics found in a batch of steps: [step, Diagnostic dict]
    pairs, and the training loss's running average after them."""
    found: list
    loss_average: float | None


class ProcessHelper:
    """Captures (and statistics) in a helper process, from shared-memory slots."""
    mode = "process"

    def __init__(self, doc, model, flat_params, x, y, max_channels, bins, grid_x=None, grid=0,
                 ranges: dict | None = None, threads: int = 1, thresholds: dict | None = None, slots: int = SLOTS):
        sweep()
        self.slots = slots
        named = model_tensors(model)
        self.device = named[0][1].device if named else x.device
        self.live = [t for _, t in named]
        self.params = list(flat_params)
        self.flat = [p.detach() for p in self.params]
        where = {id(p): i for i, (_, p) in enumerate(model.named_parameters())}
        index = [where.get(id(p), -1) for p in self.params]
        after, end = layout_of(named)
        before, end = layout_of([(f"before{i}", p) for i, p in enumerate(self.flat)], end)
        gnorms, end = layout_of([(f"gnorm{i}", torch.empty((), dtype=norm_dtype(p.dtype)))
                                   for i, p in enumerate(self.flat)], end)
        self._paths, self._after, self._before, self._gnorms = [], [], [], []
        self.created: list[str] = []     # every file made, for tests to check none is left
        self._flats, self._staging, self._staged = [], [], deque()
        for _ in range(self.slots):
            path, flat = shared_file(end, "slot")
            self._paths.append(path)
            self.created.append(path)
            self._flats.append(flat)
            self._after.append(views(flat, after))
            self._before.append(views(flat, before))
            self._gnorms.append(views(flat, gnorms))
            if self.device.type == "cuda":  # where the weights land without the host waiting
                pinned = torch.empty(flat.numel(), dtype=torch.uint8, pin_memory=True)
                self._staging.append((pinned, views(pinned, after)))
        path, self._ctrl = shared_file(8, "ctrl")
        self._paths.append(path)
        self.created.append(path)
        self._done = self._ctrl[:8].view(torch.int64).numpy()  # read every step: numpy is cheaper
        self._done[0] = -1
        self._acts: list | None = None    # per slot: node -> view, once the first outputs came
        self._acts_names: tuple = ()
        self._after_step: int | None = None  # the step whose weights after it the helper got last
        self._seq = 0
        self._sent_at = 0.0
        self._captures_out = 0            # capture requests without their result yet
        # (step, statistics asked, capture asked) of requests not yet answered, and the last
        # step answered of each: what is lost if the helper dies (:meth:`unanswered`)
        self._asked: deque = deque()
        self._answered = [-1, -1]
        self.ready = False
        self.gone: str | None = None
        self._ended = False               # set by the reader thread when the helper's output ends
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.mail = False   # something came since the last poll (set by the reader thread)
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.probes.helper"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, cwd=root)
        self._reader = threading.Thread(target=self._read, name="probe-helper-reader", daemon=True)
        self._reader.start()
        arrays = {"x": x.detach().cpu().numpy(), "y": y.detach().cpu().numpy()}
        if grid_x is not None:
            arrays["grid_x"] = grid_x.detach().cpu().numpy()
        dtype = next((t.dtype for t in self.live if t.is_floating_point()), torch.float32)
        header = {"kind": "init", "graph": doc.to_dict(), "dtype": dtype_name(torch.empty(0, dtype=dtype)),
                  "device": str(self.device), "numerics": numerics(),
                  "after": after, "before": before, "gnorms": gnorms, "flat_index": index, "size": end,
                  "slots": self._paths[:self.slots], "ctrl": self._paths[self.slots], "threads": threads,
                  "max_channels": max_channels, "bins": bins, "grid": grid, "ranges": ranges or {},
                  "thresholds": thresholds or {}}
        try:
            write_frame(self.proc.stdin, header, encode_arrays(arrays, compress=False))
        except OSError as exc:
            self._lost(f"could not start it ({exc})")

    # -- messages from the helper -------------------------------------------------------------
    def _read(self) -> None:
        try:
            while True:
                self._inbox.put(read_frame(self.proc.stdout))
                self.mail = True  # after the put: poll clears it before it empties the inbox
        except Exception as exc:  # EOF or a broken frame: the helper is gone
            self._ended = True
            self._inbox.put(({"kind": "gone", "message": str(exc) or type(exc).__name__}, {}))
            self.mail = True

    def _handle(self, header: dict, rows: dict, out: list) -> None:
        kind = header.get("kind")
        if kind == "ready":
            self.ready = True
            self._unlink()  # both sides have them mapped: nothing is left behind after a kill
        elif kind == "mapped":
            self._unlink()
        elif kind in ("gone", "fatal"):
            self._lost(header.get("message", "it ended"))
        elif kind == "stats":
            answered = self._answered
            for group in header["groups"]:
                result = StatsResult(group["names"], decode_row(group["array"], rows[group["array"]]))
                if len(result.rows):
                    answered[0] = max(answered[0], int(result.rows[:, 0].max()))
                out.append(result)
            diagnostics = header.get("diagnostics")
            if diagnostics is not None:
                out.append(DiagnosticsResult(diagnostics.get("found") or [], diagnostics.get("loss_average")))
            for i, result in enumerate(header.get("results") or ()):
                self._captures_out -= 1
                out.append(Result(int(result["step"]), rows={n: rows[f"{i}:{n}"] for n in result["rows"]},
                                  ranges=result.get("ranges"), error=result.get("error"),
                                  seconds=float(result.get("seconds", 0.0)), mode="process",
                                  found=result.get("found") or []))
                answered[1] = max(answered[1], int(result["step"]))
            # The helper takes requests in order: one answered means those before it are done
            # (also one that came back with nothing); one of this step may still be on its way.
            asked, done = self._asked, max(answered)
            while asked and (asked[0][0] < done or (asked[0][0] == done and (not asked[0][1] or done <= answered[0])
                                                      and (not asked[0][2] or done <= answered[1]))):
                asked.popleft()

    def unanswered(self) -> tuple[list[int], list[int]]:
        """The steps whose statistics, and those whose captures, were asked of the helper
        and have not come back: lost if it has died (it holds results up to ~0.1 s before
        sending them, and a request may still sit in a pipe that nobody reads)."""
        stats, captures = self._answered
        done = max(stats, captures)
        return ([s for s, asked, _ in self._asked if asked and s > stats and s >= done],
                [s for s, _, asked in self._asked if asked and s > captures and s >= done])

    def _lost(self, why: str) -> None:
        if self.gone is None:
            self.gone = f"the helper process stopped ({why})"
        self.ready = False

    def poll(self, block: float | None = None) -> list:
        out: list = []
        if self._staged:
            self._send_staged(wait=False)
        self.mail = False
        if not block and self._inbox.empty():  # most steps: nothing came back
            return out
        while True:
            try:
                item = self._inbox.get(timeout=block) if block else self._inbox.get_nowait()
            except queue.Empty:
                return out
            block = None
            self._handle(*item, out)

    def waiting(self) -> bool:
        """Whether :meth:`poll` has anything to do: a message from the helper, a request
        held back until its weights left the GPU, or the helper gone."""
        return self.mail or bool(self._staged) or self.gone is not None

    def alive(self) -> bool:
        """False once the helper has ended: its end closes the pipe the reader thread reads
        (asked every measured step: a flag, where a waitpid would be a system call)."""
        if self._ended and self.gone is None:
            code = self.proc.poll()
            self._lost("it ended" if code is None else f"it exited with code {code}")
        return self.gone is None

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        end = time.monotonic() + timeout
        while not self.ready and self.gone is None and time.monotonic() < end:
            self.poll(block=0.05)
        return self.ready

    # -- slots ------------------------------------------------------------------------------------
    def free_slot(self) -> int | None:
        """The slot the next measured step fills if the helper is done with it, else None
        (the statistics of that step are then taken inline rather than waited for)."""
        seq = self._seq
        if int(self._done[0]) >= seq - self.slots:
            return seq % self.slots
        self._send_staged(wait=False)
        self._push()
        return None

    def reserve(self) -> int:
        """The slot the next measured step fills, once the helper is done with it."""
        seq = self._seq
        end = None
        if int(self._done[0]) < seq - self.slots:
            self._send_staged(wait=True)
            self._push()
        while int(self._done[0]) < seq - self.slots:
            if self.gone is not None or self.proc.poll() is not None:
                self._lost("it exited")
                raise HelperGone(self.gone)
            end = end or time.monotonic() + READY_TIMEOUT
            if time.monotonic() > end:
                self._lost("no answer for two minutes")
                raise HelperGone(self.gone)
            time.sleep(0.0002)
        return seq % self.slots

    def before_at(self, step: int) -> str:
        """Where the helper finds the weights before the update of ``step``: "previous"
        when it holds them already (the weights after ``step - 1``, the last ones sent:
        nothing but the optimizer changes the weights during a run), else "slot"."""
        return "previous" if self._after_step == step - 1 else "slot"

    def put_before(self, slot: int, before: str | None) -> None:
        """Before the update: the weights, when ``before`` is "slot". (``flat`` needs no
        autograd: no no_grad context, whose cost in the training loop is several of these
        copies'.)"""
        if before == "slot":
            torch._foreach_copy_(self._before[slot], self.flat)

    def acts_views(self, slot: int) -> dict[str, torch.Tensor] | None:
        """Where the layers' outputs of a step that fills ``slot`` go (None until the
        first outputs have set the layout): the statistics hooks copy into these."""
        return None if self._acts is None else self._acts[slot]

    def output_copies(self, acts: dict, slot: int) -> list | None:
        """The (slot view, output) copies still to make for these layer outputs (those the
        taps did not copy), or None when they do not go into the slots (other nodes,
        shapes or dtypes than the first outputs, which set the layout)."""
        if self._acts is None:
            return []  # the first: they set the layout (send allocates the slots)
        if tuple(acts) != self._acts_names:
            return None
        own, copies = self._acts[slot], []
        for n, a in acts.items():
            d = own[n]
            if a is not d:
                if a.shape != d.shape or a.dtype != d.dtype:
                    return None
                copies.append((d, a.detach()))
        return copies

    def send(self, slot: int, step: int, stats: dict | None, capture: bool, handover: dict | None,
             diagnose: bool = False, flush: bool = False) -> None:
        """After the update: the weights, the outputs; then the request (its results come
        back through :meth:`poll`). ``stats``:
        {"present": [...], "gnorms": their gradients' norms, "before": "slot", "previous" or None,
        "acts": {node: tensor}, "copies": what :meth:`output_copies` said for them, "loss": float
        or None}. ``diagnose``: the helper runs the diagnostics on what it measures."""
        if self.device.type == "cuda":  # captures only: the weights go through pinned memory
            header = {"kind": "step", "seq": self._seq, "slot": slot, "step": step, "capture": capture,
                      "handover": handover, "flush": flush, "diagnose": diagnose}
            pinned, staged = self._staging[slot]
            with torch.no_grad():
                for dst, src in zip(staged, self.live):
                    dst.copy_(src, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._staged.append((header, slot, event))
            self._asked.append((step, False, bool(capture)))
            self._seq += 1
            self._captures_out += bool(capture)
            self._send_staged(wait=False)
            return
        allocated = None
        dst, src = self._after[slot], self.live   # detached: no autograd, no no_grad context
        if stats is not None:
            acts = stats["acts"]
            if acts and self._acts is None:
                allocated = self._allocate(acts)
                stats["copies"] = self.output_copies(acts, slot)
            copies = stats["copies"]  # the taps copied the rest
            if copies:
                dst, src = dst + [d for d, _ in copies], src + [a for _, a in copies]
            present, own = stats["present"], self._gnorms[slot]
            dst = dst + (own if len(present) == len(own) else [own[i] for i in present])
            src = src + stats["gnorms"]
        torch._foreach_copy_(dst, src)
        now = time.perf_counter()
        push = capture or flush or now - self._sent_at >= SEND_EVERY_S
        try:
            if not handover and (stats is None or (allocated is None and tuple(acts) == self._acts_names
                                                   and len(stats["present"]) == len(self.params))):
                # what every measured step and capture sends: a JSON header costs the loop ~25 us
                write_step(self.proc.stdin, self._seq, step, slot, stats, diagnose, flush, push, capture)
            else:
                header = {"kind": "step", "seq": self._seq, "slot": slot, "step": step, "capture": capture,
                          "handover": handover, "flush": flush, "diagnose": diagnose, **(allocated or {})}
                if stats is not None:
                    header["stats"] = {"present": stats["present"], "before": stats["before"], "acts": list(acts),
                                       "loss": stats["loss"]}
                write_frame(self.proc.stdin, header, flush=push)
        except OSError as exc:
            self._lost(f"its pipe broke: {exc}")
            raise HelperGone(self.gone) from None
        if push:
            self._sent_at = now
        self._asked.append((step, stats is not None, bool(capture)))
        self._after_step = step
        self._seq += 1
        self._captures_out += bool(capture)

    def _send_staged(self, wait: bool) -> None:
        """Requests whose weights have left the GPU (all of them, waiting, when ``wait``)."""
        while self._staged and (wait or self._staged[0][2].query()):
            header, slot, event = self._staged.popleft()
            event.synchronize()
            self._flats[slot].copy_(self._staging[slot][0])
            try:
                write_frame(self.proc.stdin, header)
            except OSError as exc:
                self._lost(f"its pipe broke: {exc}")
                return

    def _push(self) -> None:
        try:
            self.proc.stdin.flush()
        except OSError as exc:
            self._lost(f"its pipe broke: {exc}")
        self._sent_at = time.perf_counter()

    def _allocate(self, acts: dict) -> dict:
        self._acts_names = tuple(acts)
        layout, end = layout_of(list(acts.items()))
        paths, self._acts = [], []
        for _ in range(self.slots):
            path, flat = shared_file(end, "acts")
            paths.append(path)
            self._acts.append(dict(zip(acts, views(flat, layout))))
        self._paths += paths
        self.created += paths
        return {"acts_layout": layout, "acts_files": paths, "acts_size": end}

    def flush(self, timeout: float = READY_TIMEOUT) -> list:
        """Every result still on its way (statistics held for batching included)."""
        self._send_staged(wait=True)
        out = self.poll()
        if self.gone is not None:
            return out
        try:
            write_frame(self.proc.stdin, {"kind": "flush", "seq": self._seq})
        except OSError as exc:
            self._lost(f"its pipe broke: {exc}")
            return out
        end = time.monotonic() + timeout
        while self.gone is None and time.monotonic() < end:
            item = None
            try:
                item = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if item[0].get("kind") == "flushed":
                return out
            self._handle(*item, out)
        return out

    def _unlink(self) -> None:
        for path in self._paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._paths = []

    def close(self) -> None:
        try:
            write_frame(self.proc.stdin, {"kind": "close"})
        except OSError:
            pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass  # a dead helper: the buffered bytes have nowhere to go
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._unlink()
