"""Crash safety and live reading, with a real writer in another process.

The child writer commits numbered steps and prints each step only after commit() has
returned; the parent SIGKILLs it at random instants. Every printed step must be in the
file afterwards, every record intact.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from engine.session import SessionReader

ROOT = Path(__file__).resolve().parents[2]

WRITER = r"""
import sys
import numpy as np
from engine.session import SessionWriter

path, mode = sys.argv[1], sys.argv[2]
if sys.stdin.readline().strip() != "go":  # lets the parent start us early; EOF: give up
    sys.exit(0)
w = SessionWriter(path, {"name": "crash"}, {"lr": 0.1})
w.probe_batch(np.arange(6.0).reshape(2, 3), np.array([0, 1]))
step = 0
while True:
    for k in range(5):
        w.scalar(f"s{k}", step, step * 10.0 + k)
    w.tensor("small", step, np.full(7, step, np.int32))
    # 64 KiB: spans many pages, so a kill can land in the middle of writing it
    w.tensor("big", step, np.arange(16384, dtype=np.float32) + step, compress=step % 2 == 0)
    if step % 7 == 0:
        w.event("tick", step, f"step {step}", {"step": step})
    if step % 11 == 0:
        w.checkpoint(step, {"w": np.full((3, 3), step, np.float64)}, {"state": {0: {"step": np.array(step)}}})
    print(w.commit(), flush=True)
    if mode == "stepwise" and sys.stdin.readline().strip() != "next":
        break
    step += 1
w.close()
"""


def start_writer(tmp_path: Path, path: Path, mode: str) -> subprocess.Popen:
    # -c, not a script file: rewriting a shared file while an earlier child is still
    # reading it once handed that child half a program.
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def check_intact(path: Path, committed: list[int]) -> None:
    with SessionReader(path) as r:
        assert r.last_step >= (committed[-1] if committed else -1)
        steps = np.arange(r.last_step + 1)
        for k in range(5):
            got_steps, values = r.scalar(f"s{k}")
            np.testing.assert_array_equal(got_steps, steps)
            np.testing.assert_array_equal(values, steps * 10.0 + k)
        for step in committed:
            assert r.tensor("small", step, exact=True)[1].tolist() == [step] * 7
        for step in r.tensor_steps("big"):
            np.testing.assert_array_equal(r.tensor("big", step)[1],
                                          np.arange(16384, dtype=np.float32) + step)
        assert [e.step for e in r.events("tick")] == list(range(0, r.last_step + 1, 7))
        for step in r.checkpoint_steps():
            weights, opt = r.checkpoint(step)
            assert weights["w"][0, 0] == step and opt["state"][0]["step"] == step
        if r.last_step >= 0:
            x, y = r.probe_batch()
            assert x.tolist() == [[0, 1, 2], [3, 4, 5]] and y.tolist() == [0, 1]


def test_killed_writer_leaves_every_committed_step(tmp_path):
    rng = random.Random(1234)
    total_committed = 0
    rounds, ahead = 25, 2
    paths = [tmp_path / f"run{i}.session" for i in range(rounds)]
    # Children pay their imports while earlier rounds write; each waits for "go".
    waiting = [start_writer(tmp_path, p, "free") for p in paths[:ahead]]
    try:
        for round_, path in enumerate(paths):
            child = waiting.pop(0)
            if round_ + ahead < rounds:
                waiting.append(start_writer(tmp_path, paths[round_ + ahead], "free"))
            child.stdin.write("go\n")
            child.stdin.flush()
            # Wait until the file exists, then kill at a random instant of the writing.
            deadline = time.monotonic() + 10
            while not path.exists() and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=10)
            assert child.returncode == -signal.SIGKILL, err
            committed = [int(line) for line in out.split()]
            total_committed += len(committed)
            if not path.exists():
                continue
            check_intact(path, committed)
    finally:
        for child in waiting + [child]:  # only if a round failed: no child outlives the test
            if child.returncode is None:
                child.kill()
                child.communicate()
    assert total_committed > 25          # the kills did land after real progress


def test_reader_sees_new_commits_of_a_live_writer(tmp_path):
    path = tmp_path / "live.session"
    child = start_writer(tmp_path, path, "stepwise")
    child.stdin.write("go\n")
    child.stdin.flush()
    try:
        assert child.stdout.readline().strip() == "0"
        with SessionReader(path) as r:
            assert r.last_step == 0 and r.scalars_at(0)["s1"] == 1.0
            for expected in range(1, 4):
                child.stdin.write("next\n")
                child.stdin.flush()
                assert child.stdout.readline().strip() == str(expected)
                assert r.refresh() == expected
                assert r.scalars_at(expected)["s3"] == expected * 10.0 + 3
                step, big = r.tensor("big", 100)
                assert step == expected and big[0] == expected
            assert r.events("tick")[0].data == {"step": 0}
        out, err = child.communicate("stop\n", timeout=10)
        assert child.returncode == 0, err
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    check_intact(path, [0, 1, 2, 3])
