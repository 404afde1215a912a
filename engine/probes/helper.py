"""The capture helper process: ``python -m engine.probes.helper``, started by
:class:`engine.probes.process.ProcessHelper`, never by a person.

It reads frames (:mod:`.protocol`) on stdin: one "init" (the graph document, the probe
batch, the shared-memory slots and their layout), then one "step" per measured training
step (which slot, whether to take the statistics and/or a capture, the histogram ranges
when they were handed over), "flush" and "close". It computes exactly what the training
process would inline, with the same code on its own copy of the network, and writes the
results on stdout: capture rows at once, statistics in batches. Its stdin closing (the
training process ended, however it ended) ends it too.
"""
from __future__ import annotations

import os
import select
import sys
import time
import traceback

# Statistics and capture results go back in batches at most this old: each batch costs the
# training loop a wake-up and its parsing, and the worker commits only every 0.2 s anyway.
STATS_EVERY_S = 0.1
POLL_S = 0.0005        # how often the helper looks for requests while they come often
IDLE_S = 0.1           # ... and after how long without one it waits to be woken instead


class PolledInput:
    """The helper's stdin, read so that writing a request seldom wakes the helper.

    A write to a pipe whose reader sleeps in read() wakes that reader, and the wake-up is
    paid by the writer, the training loop (measured ~25 µs a request on a 2-core virtual
    machine, against ~4 µs for the write itself). While requests come often, the helper
    sleeps between looks instead (its own core pays for the timer); after ``IDLE_S``
    without one (training paused, or probing rarely) it blocks until woken. Where pipes
    cannot be polled (Windows) it always blocks. ``on_wait(idle)`` is called while it
    waits (with ``idle`` True before it blocks): results held for batching go out then."""

    def __init__(self, stream, on_wait=lambda idle: None):
        self._stream = stream
        self._on_wait = on_wait
        self._fd = stream.fileno()
        self._buf = bytearray()
        self._last = time.monotonic()
        self._select = select.select if os.name == "posix" else None

    def read(self, n: int) -> bytes:
        if self._select is None:
            self._on_wait(True)
            return self._stream.read(n)
        while len(self._buf) < n:
            if not self._buf:
                self._wait()
            chunk = os.read(self._fd, max(n - len(self._buf), 1 << 16))
            if not chunk:
                break
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _wait(self) -> None:
        while not self._select([self._fd], [], [], 0)[0]:
            if time.monotonic() - self._last > IDLE_S:
                self._on_wait(True)
                self._select([self._fd], [], [])
                break
            self._on_wait(False)
            time.sleep(POLL_S)
        self._last = time.monotonic()


class Helper:
    def __init__(self, header: dict, rows: dict):
        import torch

        from ..graph.document import GraphDocument
        from .diagnostics import Diagnostician, Thresholds
        from .offpath import CaptureModel
        from .protocol import decode_row
        from .shared_memory import views
        from .stats import StepStats
        torch.set_num_threads(max(1, int(header.get("threads", 1))))
        if header.get("numerics"):
            from .numerics import apply_numerics
            apply_numerics(header["numerics"])
            if header["numerics"]["deterministic"]:
                import warnings  # kernels without a deterministic version only warn (warn_only)
                warnings.simplefilter("ignore")
        doc = GraphDocument.from_dict(header["graph"])
        device = torch.device(header.get("device", "cpu"))
        x = torch.from_numpy(decode_row("x", rows["x"])).to(device)
        y = torch.from_numpy(decode_row("y", rows["y"])).to(device)
        grid_x = torch.from_numpy(decode_row("grid_x", rows["grid_x"])).to(device) if "grid_x" in rows else None
        after = header["after"]
        self.cm = CaptureModel(doc, device, getattr(torch, header["dtype"]), x, y, int(header["max_channels"]),
                               int(header["bins"]), grid_x, int(header.get("grid", 0)), [e[0] for e in after])
        self.cm.capture.load_ranges(header.get("ranges") or {})
        self.stats = StepStats(self.cm.targets)
        # The per-step diagnostics run here, on the values where they are computed.
        self.diagnostician = Diagnostician.for_targets(self.cm.targets, Thresholds(**header.get("thresholds", {})))
        self.found: list = []          # [step, Diagnostic dict] not yet sent
        self.diagnosed = False         # a step has been diagnosed since the last batch
        size = int(header["size"])
        self.after, self.before, self.gnorms, self.flat = [], [], [], []
        for path in header["slots"]:
            flat = torch.from_file(path, shared=True, size=size, dtype=torch.uint8)
            a = views(flat, after)
            self.after.append(a)
            self.before.append(views(flat, header["before"]))
            self.gnorms.append(views(flat, header["gnorms"]))
            self.flat.append([a[i] for i in header["flat_index"]])
        self.done = torch.from_file(header["ctrl"], shared=True, size=64, dtype=torch.uint8)[:8].view(torch.int64)
        # The network's tensors a recompute loads: the trained weights (from the weights before
        # the update), and the rest (buffers, untrained weights) from a slot.
        trained = set(header["flat_index"])
        rest = [i for i in range(len(self.cm.tensors)) if i not in trained]
        self.trained = [self.cm.tensors[i] for i in header["flat_index"]]
        self.untrained = [self.cm.tensors[i] for i in rest]
        self.untrained_in = [[a[i] for i in rest] for a in self.after]
        self.acts, self.act_names = None, []
        # The weights after the last step received: the weights before the next update,
        # which the training loop then need not copy (statistics are measured on a CPU only).
        self.previous = [t.clone() for t in self.flat[0]] if device.type == "cpu" else None
        self.pending: list[tuple[int, dict]] = []   # statistics not yet sent
        self.results: list[tuple[dict, dict]] = []  # capture results (header, rows) not yet sent
        self.last_sent = time.monotonic()

    def step(self, header: dict, out) -> None:
        import torch

        from ..train.metrics import batch_accuracy
        from .diagnostics import diagnose_capture
        from .process import ACCURACY_PRED, ACCURACY_TARGET, REPLAY_INPUT
        from .protocol import encode_arrays, write_frame
        k, step = int(header["slot"]), int(header["step"])
        if "acts_layout" in header:
            from .shared_memory import views
            self.act_names = [e[0] for e in header["acts_layout"]]
            self.acts = [dict(zip([e[0] for e in header["acts_layout"]],
                                  views(torch.from_file(p, shared=True, size=int(header["acts_size"]),
                                                        dtype=torch.uint8), header["acts_layout"])))
                         for p in header["acts_files"]]
            write_frame(out, {"kind": "mapped"})
        stats, diagnose = header.get("stats"), bool(header.get("diagnose"))
        error = None
        if stats is not None:
            try:
                st = self.stats
                names = self.act_names if stats["acts"] == "all" else stats["acts"]
                acts = self.acts[k] if names else {}
                before = stats["before"]
                weights_before = self.previous if before == "previous" else self.before[k]
                if REPLAY_INPUT in names:
                    outs, pred = self.replay(k, acts[REPLAY_INPUT], weights_before)
                else:
                    outs = {n: acts[n] for n in names if n not in (ACCURACY_PRED, ACCURACY_TARGET)}
                    pred = acts.get(ACCURACY_PRED)
                st._outs = outs
                present = range(len(self.flat[k])) if stats["present"] == "all" else stats["present"] or []
                st._gpresent = present
                st._gnorms = [self.gnorms[k][i] for i in present] or None
                st._flat = self.flat[k]
                st._before = weights_before
                st._have_before = before in ("previous", "slot")
                layout, values = st.finish()
                named = st.named(layout, values.values())
                if ACCURACY_TARGET in names and pred is not None:
                    named["train/accuracy"] = float(batch_accuracy(pred, acts[ACCURACY_TARGET]))
                self.pending.append((step, named))
                if diagnose:
                    self.found += [[step, d.to_dict()] for d in
                                   self.diagnostician.check_step(step, stats.get("loss"), named)]
                    self.diagnosed = True
            except Exception as exc:
                error = f"statistics at step {step}: {type(exc).__name__}: {exc}"
        if self.previous is not None:
            torch._foreach_copy_(self.previous, self.flat[k])
        start = time.perf_counter()
        rows, reply = {}, None
        if header.get("capture"):
            try:
                self.cm.take_over(header.get("handover"))
                self.cm.load(self.after[k])
                self.done[0] = int(header["seq"])  # the slot may be refilled from here
                arrays = self.cm.run()
                found = diagnose_capture(self.diagnostician, self.cm.targets, step, arrays.get) if diagnose else []
                rows = encode_arrays(arrays)
                reply = {"kind": "result", "step": step, "slot": k, "ranges": self.cm.capture.ranges(),
                         "found": [[step, d.to_dict()] for d in found]}
            except Exception as exc:  # a probe bug: the recorder reports it and stops captures
                reply = {"kind": "result", "step": step, "slot": k, "error": f"{type(exc).__name__}: {exc}",
                         "details": traceback.format_exc()}
            reply["seconds"] = time.perf_counter() - start
        self.done[0] = int(header["seq"])
        if error is not None:
            write_frame(out, {"kind": "fatal", "message": error})
            raise SystemExit(1)
        if reply is not None:
            self.results.append((reply, rows))
        if header.get("flush") or time.monotonic() - self.last_sent >= STATS_EVERY_S:
            self.send_stats(out)

    def replay(self, k: int, x, weights_before: list) -> tuple[dict, object]:
        """The layers' outputs of a training step, recomputed: the network as it was before
        the step's update (buffers and untrained weights as in slot ``k``), in training mode,
        on the step's batch ``x``. Returns (node -> output, the network's output).

        With autograd on, as in training, though nothing goes backward: torch's CPU LSTM
        takes another kernel for an input that needs no gradient (char_lstm's second LSTM
        then differed in the last bits)."""
        import torch
        cm, st = self.cm, self.stats
        dst = self.untrained + self.trained
        if dst:
            with torch.no_grad():
                torch._foreach_copy_(dst, self.untrained_in[k] + list(weights_before))
        st.attach()
        st.armed = True
        try:
            cm.model.train()
            pred = cm.model(x).detach()
        finally:
            st.armed = False
            st.detach()
        return st.take_outputs(), pred

    def waiting(self, out, idle: bool) -> None:
        """Between requests: what was measured goes out once ``STATS_EVERY_S`` old, or
        before the helper waits to be woken (nothing is held back while training pauses)."""
        if (self.pending or self.results) and (idle or time.monotonic() - self.last_sent >= STATS_EVERY_S):
            self.send_stats(out)

    def send_stats(self, out) -> None:
        """Everything measured since the last batch, in one frame: each frame wakes the
        training process's reader thread, whose Python then competes for the training
        loop's GIL."""
        import numpy as np

        from .protocol import encode_arrays, write_frame
        if self.pending or self.results:
            groups: dict[tuple, list] = {}
            for step, values in self.pending:
                groups.setdefault(tuple(values), []).append([step, *values.values()])
            # Each group's rows as one float64 array: the training process's reader thread
            # then parses no numbers, and its writer turns the array into rows off the loop.
            arrays = encode_arrays({f"g{j}": np.array(r, dtype=np.float64) for j, r in enumerate(groups.values())},
                                   compress=False)
            frame = {"kind": "stats", "groups": [{"names": list(n), "array": f"g{j}"} for j, n in enumerate(groups)],
                     "results": []}
            if self.diagnosed:
                frame["diagnostics"] = {"found": self.found, "loss_average": self.diagnostician.loss_average}
                self.found, self.diagnosed = [], False
            for i, (reply, rows) in enumerate(self.results):  # capture results, rows named "i:name"
                frame["results"].append({**reply, "rows": list(rows)})
                arrays.update((f"{i}:{name}", row) for name, row in rows.items())
            write_frame(out, frame, arrays)
            self.pending, self.results = [], []
        self.last_sent = time.monotonic()


def _yield_to_training() -> None:
    """Do not preempt the training process when a request wakes the helper: the batch
    scheduling policy (no wake-up preemption) where the system has it. The priority
    stays the training process's: a helper starved by other programs stalls training."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH"):
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except OSError:
            pass


def main() -> int:
    _yield_to_training()
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the frames
    from .protocol import read_frame, write_frame
    helper = None
    inp = PolledInput(sys.stdin.buffer, lambda idle: helper is not None and helper.waiting(out, idle))
    try:
        helper = Helper(*read_frame(inp))
    except Exception as exc:
        write_frame(out, {"kind": "fatal", "message": f"{type(exc).__name__}: {exc}",
                          "details": traceback.format_exc()})
        return 1
    write_frame(out, {"kind": "ready", "pid": os.getpid()})
    while True:
        try:
            header, _ = read_frame(inp)
            kind = header.get("kind")
            if kind == "step":
                helper.step(header, out)
            elif kind == "flush":
                helper.send_stats(out)
                write_frame(out, {"kind": "flushed"})
            else:
                return 0
        except (EOFError, BrokenPipeError, OSError):
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
