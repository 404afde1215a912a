"""The worker really spawned: it obeys every command, records to a session file, pauses on
a NaN with the diagnosis, and a SIGKILLed worker is reported without hanging the parent."""
from __future__ import annotations

import os
import signal
import time

import pytest

from engine.session import SessionReader
from engine.worker import WorkerHandle
from tests.engine.test_trainer import chain_doc, mlp_doc

TIMEOUT = 60.0  # spawning imports torch; the shared machine can be slow


class Watch:
    """Collects a handle's messages and waits for one that matches."""

    def __init__(self, handle: WorkerHandle):
        self.h = handle
        self.seen: list[dict] = []

    def until(self, pred, what: str, timeout: float = TIMEOUT) -> dict:
        end = time.monotonic() + timeout
        start = len(self.seen)
        while time.monotonic() < end:
            self.seen.extend(self.h.poll())
            for msg in self.seen[start:]:
                if pred(msg):
                    return msg
            time.sleep(0.02)
        raise AssertionError(f"no {what} within {timeout} s; last messages: {self.seen[-5:]}")

    def status(self, state: str, timeout: float = TIMEOUT) -> dict:
        return self.until(lambda m: m["kind"] == "status" and m["state"] == state, f"status {state}", timeout)

    def progress(self, pred=lambda m: True) -> dict:
        return self.until(lambda m: m["kind"] == "progress" and pred(m), "progress")


@pytest.fixture
def handles():
    made = []
    yield made
    for h in made:
        h.close(timeout=5)


def job(doc, **kw):
    return {"graph": doc.to_dict(), "overrides": {"device": "cpu"}, **kw}


def test_worker_obeys_every_command_and_records(tmp_path, handles):
    path = tmp_path / "run.session"
    doc = mlp_doc(training={"steps": 100000, "val_every": 50})
    h = WorkerHandle(job(doc, record=str(path), start_paused=True))
    handles.append(h)
    h.start()
    w = Watch(h)
    w.status("starting")
    w.status("paused")
    assert w.seen[-1]["message"].startswith("Paused at step 0")

    h.step()
    w.until(lambda m: m["kind"] == "status" and m["state"] == "paused" and "one step" in m["message"],
            "pause after one step")
    assert [m for m in w.seen if m["kind"] == "progress"][-1]["step"] == 1

    h.set_lr(0.0123)
    p = w.progress(lambda m: m["lr"] == pytest.approx(0.0123))
    assert p["step"] == 1 and p["device"] == "cpu" and p["steps_total"] == 100000
    h.set_clipping(norm=0.5)
    w.until(lambda m: m["kind"] == "log" and "norm 0.5" in m["text"], "clipping log")
    h.step()
    w.until(lambda m: m["kind"] == "status" and m["state"] == "paused" and "step 2" in m["message"],
            "second single step")

    h.resume()
    w.status("running")
    w.progress(lambda m: m["step"] > 30 and m["lr"] == pytest.approx(0.0123))
    h.pause()
    paused = w.status("paused")
    at = int(paused["message"].split("step ")[1].rstrip("."))
    # Pausing commits first, so the records up to the paused step are in the file.
    committed = [m for m in w.seen if m["kind"] == "committed"][-1]
    assert committed["step"] == at
    h.checkpoint_now()
    w.until(lambda m: m["kind"] == "log" and f"Checkpoint saved at step {at}" in m["text"], "checkpoint log")

    h.stop()
    final = w.status("stopped")
    assert "Stopped at step" in final["message"]
    assert h.join(10)
    assert h.exit_code == 0

    with SessionReader(path) as r:
        kinds = [e.kind for e in r.events()]
        for kind in ("start", "pause", "resume", "lr_change", "clipping", "checkpoint", "stop"):
            assert kind in kinds, kinds
        assert at in r.checkpoint_steps()
        steps, losses = r.scalar("train/loss")
        assert steps[0] == 1 and steps[-1] >= at
        lr_steps, lrs = r.scalar("lr")
        assert lrs[-1] == pytest.approx(0.0123)
        assert "val/loss" in r.scalar_names() and "grad_norm" in r.scalar_names()


def test_nan_pauses_with_the_diagnosis_and_stop_ends_it(handles):
    doc = chain_doc([("Dense", {"units": 16}), ("Tanh", {}), ("Dense", {"units": 1})],
                    {"steps": 10000, "optimizer": "sgd", "lr": 10.0}, input_shape=(1,), loss="MSE",
                    dataset={"name": "sine", "params": {}})
    h = WorkerHandle(job(doc))
    handles.append(h)
    h.start()
    w = Watch(h)
    paused = w.status("paused")
    assert "became" in paused["message"] and "Lower the learning rate" in paused["message"]
    assert "clipping" in paused["message"]
    assert h.is_alive()
    h.stop()
    w.status("stopped")
    assert h.join(10)


def test_bad_graph_fails_with_a_sentence_and_details(handles):
    doc = mlp_doc(classes=3, training={"steps": 10})  # spiral has 2 classes
    h = WorkerHandle(job(doc))
    handles.append(h)
    h.start()
    failed = Watch(h).status("failed")
    assert failed["message"].startswith("Dataset 'spiral' has 2 classes")
    assert "Traceback" in failed["details"]
    assert h.join(10)


def test_sigkilled_worker_is_reported_as_killed_without_hanging(handles):
    h = WorkerHandle(job(mlp_doc(training={"steps": 1000000})))
    handles.append(h)
    h.start()
    w = Watch(h)
    w.status("running")
    os.kill(h.pid, signal.SIGKILL)
    t0 = time.monotonic()
    killed = w.status("killed", timeout=10)
    assert "SIGKILL" in killed["message"] and h.exit_code == -signal.SIGKILL
    assert not h.is_alive()
    assert h.send("pause") is False  # commands to a dead worker are dropped, not hung on
    h.close(timeout=1)
    assert time.monotonic() - t0 < 10
