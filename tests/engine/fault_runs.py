"""Recorded training runs in a real worker process, hit by a signal at a chosen instant,
and the check of the session they leave: shared by tests/engine/test_faults.py (a few
instants, in CI) and bench/faults.py (at least 20 instants per model and signal)."""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.session import SessionReader
from engine.templates import load_template
from engine.worker import WorkerHandle

# The two models of the issue: a CNN and an LSTM, recorded with the window's probes.
MODELS = {"lenet": "lenet", "lstm": "anbn_lstm"}
START_TIMEOUT = 90.0


@dataclass
class Outcome:
    model: str
    signal: str
    delay: float
    committed: int = -1              # the last step the worker reported committed
    last_step: int = -1              # the last step the reopened file holds
    records: int = 0                 # array records decoded from the reopened file
    open_ms: list = field(default_factory=list)   # open + check times while stopped (ms)


def job(model: str, path: Path) -> dict:
    doc = load_template(MODELS[model])
    device = os.environ.get("NEUROSTUDIO_FAULT_DEVICE", "cpu")   # "cuda" on a GPU machine
    return {"graph": doc.to_dict(), "overrides": {"device": device, "steps": 1_000_000, "threads": 1},
            "record": str(path), "progress_interval": 0.1}


def _drain(handle: WorkerHandle, outcome: Outcome) -> None:
    for msg in handle.poll():
        if msg.get("kind") == "committed":
            outcome.committed = max(outcome.committed, int(msg["step"]))


def _wait(handle: WorkerHandle, outcome: Outcome, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _drain(handle, outcome)
        time.sleep(0.01)


def _first_commit(handle: WorkerHandle, outcome: Outcome) -> None:
    end = time.monotonic() + START_TIMEOUT
    while outcome.committed < 0:
        assert handle.is_alive(), f"{outcome}: the worker ended before its first commit ({handle.poll()})"
        assert time.monotonic() < end, f"{outcome}: no commit within {START_TIMEOUT} s"
        _wait(handle, outcome, 0.02)


def kill_at(model: str, folder: Path, delay: float, from_start: bool = False) -> Outcome:
    """Start a recorded run and SIGKILL its worker ``delay`` seconds after its first
    commit (or after its start: the instant may then fall before the file exists); then
    check what the file holds."""
    path = folder / f"{model}-kill-{delay:.3f}{'-start' if from_start else ''}.session"
    outcome = Outcome(model, "SIGKILL" + (" from start" if from_start else ""), delay)
    handle = WorkerHandle(job(model, path))
    handle.start()
    try:
        if not from_start:
            _first_commit(handle, outcome)
        _wait(handle, outcome, delay)
        assert handle.is_alive(), f"{outcome}: the worker ended by itself ({handle.poll()})"
        os.kill(handle.pid, signal.SIGKILL)
        handle.join(10)
        _drain(handle, outcome)   # "committed" messages sent before the kill count
    finally:
        handle.close(timeout=1)
    check(path, outcome)
    return outcome


def stop_at(model: str, folder: Path, delays: list[float], kill_after: float) -> Outcome:
    """One recorded run SIGSTOPped at each of ``delays`` (seconds after its first commit,
    then after each resume): while it is stopped a reader opens the live file and finds
    every step reported committed; then SIGCONT. ``kill_after`` seconds after the last
    resume the worker is SIGKILLed and the file checked once more."""
    path = folder / f"{model}-stop-{len(list(folder.glob(f'{model}-stop-*.session')))}.session"
    outcome = Outcome(model, "SIGSTOP", sum(delays))
    handle = WorkerHandle(job(model, path))
    handle.start()
    try:
        _first_commit(handle, outcome)
        for delay in delays:
            _wait(handle, outcome, delay)
            os.kill(handle.pid, signal.SIGSTOP)
            try:
                _wait(handle, outcome, 0.05)   # the last messages sent before the stop
                t0 = time.perf_counter()
                check(path, outcome)
                outcome.open_ms.append(1000 * (time.perf_counter() - t0))
            finally:
                os.kill(handle.pid, signal.SIGCONT)
        _wait(handle, outcome, kill_after)
        os.kill(handle.pid, signal.SIGKILL)
        handle.join(10)
        _drain(handle, outcome)
    finally:
        handle.close(timeout=1)
    check(path, outcome)
    return outcome


def check(path: Path, outcome: Outcome) -> None:
    """The file opens, holds every step reported committed, and every record in it is
    whole: per-step series have no gaps up to the head, every array decodes."""
    if not path.exists():
        assert outcome.committed == -1, f"{outcome}: steps were reported committed but there is no file"
        return
    with SessionReader(path) as r:
        outcome.last_step = r.last_step
        assert r.last_step >= outcome.committed, outcome
        steps, losses = r.scalar("train/loss")
        if outcome.committed >= 1:
            assert steps[-1] >= outcome.committed, outcome
        np.testing.assert_array_equal(steps, np.arange(1, len(steps) + 1))  # no step missing
        assert np.isfinite(losses).all()
        assert not len(steps) or steps[-1] <= r.last_step
        for name in r.scalar_names():
            r.scalar(name)
        count = 0
        for name in r.tensor_names():
            for step in r.tensor_steps(name):
                got = r.tensor(name, int(step), exact=True)
                assert got is not None and got[0] == step
                count += 1
        for step in r.checkpoint_steps():
            weights, _ = r.checkpoint(step)
            assert weights
        r.events()
        if r.last_step >= 0:
            assert r.probe_batch() is not None
        outcome.records = max(outcome.records, count)


# ---- disks that fill up or cannot be written ------------------------------------------------

def mount_tmpfs(folder: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` on ``folder`` if this process may (root with mount rights)."""
    import subprocess
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


def unmount(folder: Path) -> None:
    import subprocess
    subprocess.run(["umount", str(folder)], capture_output=True)


def remount_readonly(folder: Path) -> None:
    import subprocess
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)


class FileSizeLimit:
    """RLIMIT_FSIZE for the processes started inside the block (they inherit it): writes
    past ``nbytes`` fail with EFBIG, as on a full disk. Python ignores SIGXFSZ already."""

    def __init__(self, nbytes: int):
        import resource
        self.resource, self.nbytes = resource, nbytes

    def __enter__(self):
        r = self.resource
        self.saved = r.getrlimit(r.RLIMIT_FSIZE)
        r.setrlimit(r.RLIMIT_FSIZE, (self.nbytes, self.saved[1]))

    def __exit__(self, *exc):
        self.resource.setrlimit(self.resource.RLIMIT_FSIZE, self.saved)


def run_until_failed(model: str, path: Path, limit: FileSizeLimit | None = None) -> tuple[Outcome, str]:
    """A recorded run until its worker reports failure; (outcome, the failure's message)."""
    outcome = Outcome(model, "disk full", 0.0)
    handle = WorkerHandle(job(model, path))
    if limit is None:
        handle.start()
    else:
        with limit:
            handle.start()
    try:
        end = time.monotonic() + START_TIMEOUT + 60
        while time.monotonic() < end:
            for msg in handle.poll():
                if msg.get("kind") == "committed":
                    outcome.committed = max(outcome.committed, int(msg["step"]))
                if msg.get("kind") == "status" and msg["state"] in ("failed", "killed", "finished", "stopped"):
                    handle.join(10)
                    return outcome, f"{msg['state']}: {msg['message']}"
            time.sleep(0.02)
        raise AssertionError(f"{outcome}: the run did not fail within its time")
    finally:
        handle.close(timeout=2)
