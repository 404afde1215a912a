"""The training worker: a separate process (multiprocessing, spawn) that runs one job and
obeys commands, and the parent-side handle that talks to it.

This module stays light (no torch, no numpy at import time) because the GUI imports it;
the child imports torch itself. Messages from the child are small dicts:

  {"kind": "status", "state": starting|running|paused|finished|failed|stopped|killed,
   "message": str, "details": str}                       (details: a traceback, or "")
  {"kind": "progress", "step", "epoch", "steps_total", "loss", "lr", "samples_per_s",
   "eta_s", "device"}                                     (throttled, about 10 per second)
  {"kind": "committed", "step": N}                        (records up to N are in the file)
  {"kind": "log", "text": str}
  {"kind": "validation", "step", "loss", "accuracy"}
  {"kind": "probes", "step", "settings": all probe settings}  (after "set_probes")
  {"kind": "capture_mode", "mode": inline|process|stream, "message": str}
                                                          (where heavy captures run now)

A job is a dict: {"graph": graph document dict, "overrides": {setting: value},
"record": session path or None, "start_paused": bool, "dataset": an ArrayDataset or None
(None: built from the graph's dataset entry), "progress_interval": seconds,
"probes": {ProbeSettings field: value} for the recorded run's probes, "base_dir": the graph
file's folder and "data_dirs": folders the user chose, the only places data is read from
(engine/data/paths.py), "stream": True for a remote engine's run, whose commits also go up
the pipe as {"kind": "rows", "seq", "table", "blobs"} (engine/remote/tap.py)}.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal

TERMINAL = ("finished", "failed", "stopped", "killed")


def _child_entry(conn, job: dict) -> None:
    # Before numpy loads in this process: numpy's BLAS threads would fight torch's.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Below the window's priority: the GUI is served first when both want the CPU.
    if hasattr(os, "nice"):
        try:
            os.nice(10)
        except OSError:
            pass  # not permitted here: train at the normal priority
    from engine.train.worker_child import run_job
    run_job(conn, job)


class RunCommands:
    """What a run can be told while it trains, each a message through ``send``: a local
    worker's pipe (WorkerHandle) or the link to a remote engine (engine/remote/RemoteRun).
    True when the message went out."""

    def send(self, cmd: str, **args) -> bool:
        raise NotImplementedError

    def pause(self) -> bool:
        return self.send("pause")

    def resume(self) -> bool:
        return self.send("resume")

    def step(self) -> bool:
        """Train one batch, then pause."""
        return self.send("step")

    def stop(self) -> bool:
        """Ask the worker to stop after the current batch (it records and reports "stopped")."""
        return self.send("stop")

    def set_lr(self, value: float) -> bool:
        return self.send("set_lr", value=float(value))

    def set_clipping(self, norm: float | None = None, value: float | None = None) -> bool:
        return self.send("set_clipping", norm=norm, value=value)

    def checkpoint_now(self) -> bool:
        return self.send("checkpoint_now")

    def set_probes(self, **changes) -> bool:
        """Change probe rates while running (engine.probes.ProbeSettings names, e.g.
        ``stats_every=10``, ``heavy_hz=2`` or ``heavy_every=50``); the worker answers with
        a "probes" message, or a "log" naming a bad value."""
        return self.send("set_probes", changes=changes)


class WorkerHandle(RunCommands):
    """Parent side of one training process. Nothing here blocks for long: commands are
    tiny writes, ``poll`` never waits, ``join``/``kill`` are bounded."""

    def __init__(self, job: dict):
        self.job = job
        self.state = "idle"
        self.message = ""
        self.exit_code: int | None = None
        self._proc = None
        self._conn = None

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("This worker was already started; make a new WorkerHandle.")
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_child_entry, args=(child, self.job), daemon=True,
                                 name="neurostudio-worker")
        # The child inherits the environment at spawn: cap BLAS threads before numpy loads.
        saved = os.environ.get("OPENBLAS_NUM_THREADS")
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        try:
            self._proc.start()
        finally:
            if saved is None:
                os.environ.pop("OPENBLAS_NUM_THREADS", None)
            else:
                os.environ["OPENBLAS_NUM_THREADS"] = saved
        child.close()
        self._conn = parent
        self.state = "starting"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    # -- commands -----------------------------------------------------------------------
    def send(self, cmd: str, **args) -> bool:
        """Send a command; False when the worker is gone (the command is dropped)."""
        if self._conn is None or self.state in TERMINAL:
            return False
        try:
            self._conn.send({"cmd": cmd, **args})
            return True
        except (BrokenPipeError, ConnectionResetError, OSError):
            return False

    # -- messages -----------------------------------------------------------------------
    def poll(self) -> list[dict]:
        """Every message received so far, without waiting. When the process has died
        without saying why, a final status "killed" (by a signal) or "failed" is added."""
        out: list[dict] = []
        conn = self._conn
        if conn is None:
            return out
        try:
            while conn.poll():
                msg = conn.recv()
                if msg.get("kind") == "status":
                    self.state, self.message = msg["state"], msg.get("message", "")
                out.append(msg)
        except (EOFError, OSError):
            pass
        if self.state not in TERMINAL and self._proc is not None and not self._proc.is_alive():
            out.extend(self._poll_after_exit())
        return out

    def _poll_after_exit(self) -> list[dict]:
        out = []
        try:  # the last words may still be in the pipe
            while self._conn.poll():
                msg = self._conn.recv()
                if msg.get("kind") == "status":
                    self.state, self.message = msg["state"], msg.get("message", "")
                out.append(msg)
        except (EOFError, OSError):
            pass
        self._proc.join(0.1)
        self.exit_code = self._proc.exitcode
        if self.state in TERMINAL:
            return out
        code = self.exit_code
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            state, text = "killed", f"The training process was killed ({name}, exit code {code})."
        else:
            state, text = "failed", f"The training process ended unexpectedly (exit code {code})."
        self.state, self.message = state, text
        out.append({"kind": "status", "state": state, "message": text, "details": ""})
        return out

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait at most ``timeout`` seconds for the process to end; True if it has."""
        if self._proc is None:
            return True
        self._proc.join(timeout)
        if not self._proc.is_alive():
            self.exit_code = self._proc.exitcode
            return True
        return False

    def kill(self) -> None:
        """End the process now (SIGKILL). The session file keeps every committed record."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(2.0)

    def close(self, timeout: float = 5.0) -> None:
        """Stop gracefully, wait up to ``timeout`` s, then kill; release the pipe."""
        if self.is_alive():
            self.stop()
            if not self.join(timeout):
                self.kill()
        self.poll()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
