"""Fault injection at the engine level (issue 22): the worker of a recorded LeNet and LSTM
run is SIGKILLed and SIGSTOPped at random instants; the disk fills up during a run; the
session folder is read-only; the file is deleted or replaced under an open reader. A
reopened session holds every step reported committed and nothing half-written.

CI runs a few instants per model (fault_runs.py); bench/faults.py runs at least 20 per
model and signal and reports them in bench/results/faults.txt."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.session import SessionError, SessionReader, SessionWriter
from engine.session.notes import set_title

from .fault_runs import (FileSizeLimit, Outcome, check, kill_at, mount_tmpfs, remount_readonly,
                         run_until_failed, stop_at, unmount)
from .test_session_crash import ROOT, start_writer


@pytest.mark.timeout(300)
@pytest.mark.parametrize("model", ["lenet", "lstm"])
def test_worker_killed_and_stopped_at_random_instants(tmp_path, model):
    rng = random.Random(f"faults-{model}")
    killed = kill_at(model, tmp_path, rng.uniform(0.0, 2.0))
    stopped = stop_at(model, tmp_path, [rng.uniform(0.0, 1.0) for _ in range(5)], rng.uniform(0.0, 1.0))
    assert killed.committed >= 1 and stopped.committed >= 1       # the signals landed mid-run
    assert killed.records > 0 and stopped.records > 0             # with probe records to check
    assert len(stopped.open_ms) == 5                              # a reader opened at every stop


@pytest.fixture
def small_disk(tmp_path):
    """(folder, how): a 3 MB tmpfs where this process may mount one (said so), else a
    folder with a 3 MB RLIMIT_FSIZE for the worker (the same EFBIG/ENOSPC path in SQLite)."""
    folder = tmp_path / "disk"
    if mount_tmpfs(folder, "3m"):
        yield folder, None
        unmount(folder)
    else:
        yield folder, FileSizeLimit(3 << 20)


@pytest.mark.timeout(300)
def test_disk_full_during_a_run(small_disk):
    folder, limit = small_disk
    path = folder / "run.session"
    outcome, message = run_until_failed("lenet", path, limit)
    assert message.startswith(f"failed: could not write to {path}: "), message
    assert "\n" not in message and message.endswith(".")
    assert outcome.committed >= 1
    check(path, outcome)          # everything reported committed is there, nothing half-written
    assert outcome.last_step == outcome.committed


@pytest.fixture
def readonly_folder(tmp_path):
    """A folder holding a finished and a crashed session, then made read-only: a tmpfs
    remounted read-only where this process may mount, else permissions (skipped as root
    without mount rights, where permissions do not bind)."""
    import os
    folder = tmp_path / "ro"
    mounted = mount_tmpfs(folder, "16m")
    if not mounted and os.geteuid() == 0:
        pytest.skip("root without mount rights: a read-only folder cannot be made here")
    finished = folder / "finished.session"
    with SessionWriter(finished, {"name": "g"}, {}) as w:
        w.probe_batch(np.zeros((2, 3)), np.zeros(2))
        for step in range(5):
            w.scalar("train/loss", step + 1, 1.0 / (step + 1))
        w.tensor("big", 5, np.arange(100_000, dtype=np.float32))
    crashed = folder / "crashed.session"
    code = ("import os, numpy as np\nfrom engine.session import SessionWriter\n"
            f"w = SessionWriter({str(crashed)!r}, {{}}, {{}})\nw.probe_batch(np.zeros(2), np.zeros(2))\n"
            "for s in range(1, 6):\n    w.scalar('train/loss', s, 1.0 / s); w.commit()\nos._exit(0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert Path(str(crashed) + "-wal").exists()       # the log a crashed run leaves
    if mounted:
        remount_readonly(folder)
    else:
        folder.chmod(0o555)
    yield folder
    if mounted:
        unmount(folder)
    else:
        folder.chmod(0o755)


def test_read_only_session_folder(readonly_folder):
    for name in ("finished", "crashed"):
        outcome = Outcome("any", "read-only", 0.0, committed=5)
        check(readonly_folder / f"{name}.session", outcome)   # opens and reads every record
        assert outcome.last_step == 5
    with pytest.raises(SessionError) as err:                  # recording there: one sentence
        SessionWriter(readonly_folder / "new.session", {}, {})
    assert str(err.value).startswith(f"could not create {readonly_folder / 'new.session'}: ")
    with pytest.raises(SessionError, match="could not write"):
        set_title(readonly_folder / "finished.session", "renamed")


@pytest.mark.timeout(120)
def test_session_deleted_or_replaced_under_a_reader_of_a_live_run(tmp_path):
    """The reader goes on reading the file it opened (the writer too), says what happened,
    and never raises anything but a SessionError sentence."""
    path = tmp_path / "live.session"
    child = start_writer(tmp_path, path, "stepwise")
    child.stdin.write("go\n")
    child.stdin.flush()
    try:
        assert child.stdout.readline().strip() == "0"
        with SessionReader(path) as r:
            path.unlink()
            for expected in (1, 2):
                child.stdin.write("next\n")
                child.stdin.flush()
                assert child.stdout.readline().strip() == str(expected)
                assert r.refresh() == expected                      # still the live file
                assert r.tensor("big", expected)[1][0] == expected
            assert "was deleted while it was open" in r.check_file()
            other = tmp_path / "other.session"
            with SessionWriter(other, {}, {}) as w:
                w.scalar("s0", 0, 99.0)
            other.replace(path)                                     # another session in its place
            assert "was replaced by another file" in r.check_file()
            child.stdin.write("next\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "3"
            assert r.refresh() == 3 and r.scalar("s0")[1][-1] == 30.0
        child.communicate("stop\n", timeout=10)
        # Opening the path anew: the live run's log still lies beside it, and SQLite applies
        # a log to whatever file bears its name (docs/session-format.md: replace a session
        # only with its -wal and -shm files gone). What the reader gives is one of the two
        # sessions, or a sentence: never another exception.
        try:
            with SessionReader(path) as fresh:
                assert fresh.scalar("s0")[1].tolist() in ([99.0], [0.0, 10.0, 20.0, 30.0])
        except SessionError as err:
            assert "\n" not in str(err)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
