"""Fork: a child run starts from exactly the parent's recorded weights and optimizer state,
with edited settings in force, records its parent, and keeps the parent's step axis —
through the API, the headless CLI and a real worker process."""
from __future__ import annotations

import numpy as np
import pytest

from engine.session import SessionReader
from engine.train import Callback, Trainer, TrainError
from engine.train.fork import load_fork, parse_fork_ref, parse_setting_edits
from engine.train.recorder import SessionRecorder, open_writer
from engine.worker import WorkerHandle
from tests.engine.test_cli_train import train as cli_train
from tests.engine.test_trainer import mlp_doc
from tests.engine.test_worker import Watch

MID = 6


class CheckpointAt(Callback):
    def __init__(self, recorder, step):
        self.recorder, self.at = recorder, step

    def on_step_end(self, trainer, step, metrics):
        if step == self.at:
            self.recorder.checkpoint(trainer)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    path = tmp_path_factory.mktemp("fork") / "parent.session"
    doc = mlp_doc(units=16, training={"steps": 12, "val_every": 4, "momentum": 0.5})
    trainer = Trainer(doc)
    recorder = SessionRecorder(open_writer(path, doc, trainer.settings, trainer.dataset.info))
    trainer.callbacks += [recorder, CheckpointAt(recorder, MID)]
    trainer.run()
    recorder.close()
    return path


def model_arrays(trainer):
    return {k: v.detach().numpy().copy() for k, v in trainer.model.state_dict().items()}


def test_the_child_starts_from_the_parents_weights_and_optimizer_state(parent, tmp_path):
    fork = load_fork(parent, 9)  # nearest checkpoint at or before step 9
    assert fork.step == MID
    with SessionReader(parent) as r:
        weights, opt = r.checkpoint(MID)
    doc = fork.document()
    child = Trainer(doc, overrides=fork.overrides({"clip_norm": 1.0, "steps": 10, "lr": 0.002}))
    fresh = model_arrays(child)
    fork.apply(child)
    got = model_arrays(child)
    assert set(got) == set(weights)
    for name in weights:
        np.testing.assert_array_equal(got[name], weights[name])
    assert any(not np.array_equal(fresh[n], weights[n]) for n in weights)  # the load changed something
    # Adam's moments are the parent's, parameter by parameter; the step count continues.
    state = child.optimizer.state_dict()["state"]
    for i, saved in opt["state"].items():
        np.testing.assert_array_equal(state[int(i)]["exp_avg"].numpy(), saved["exp_avg"])
        np.testing.assert_array_equal(state[int(i)]["exp_avg_sq"].numpy(), saved["exp_avg_sq"])
    assert child.step == MID
    # The edits are in force, not the parent's values carried by the optimizer state.
    assert child.optimizer.param_groups[0]["lr"] == pytest.approx(0.002)
    assert child.clip_norm == 1.0

    path = tmp_path / "child.session"
    recorder = SessionRecorder(open_writer(path, doc, child.settings, child.dataset.info, parent=fork.parent))
    child.callbacks.append(recorder)
    fork.record_start(recorder, child)
    summary = child.run()
    recorder.close()
    assert summary["steps"] == 10
    with SessionReader(path) as r:
        assert r.parent == {"path": str(parent.resolve()), "step": MID}
        assert r.settings["clip_norm"] == 1.0 and r.settings["lr"] == 0.002
        first = r.checkpoint_steps()[0]
        assert first == MID
        w0, _ = r.checkpoint(first)
        for name in weights:
            np.testing.assert_array_equal(w0[name], weights[name])
        steps, _ = r.scalar("train/loss")
        assert steps.tolist() == list(range(MID + 1, 11))
        assert [e.kind for e in r.events()][:2] == ["fork", "checkpoint"]


def test_changed_hyperparameters_and_optimizer(parent):
    fork = load_fork(parent)  # no step: the last checkpoint
    assert fork.step == 12
    sgd = Trainer(fork.document(), overrides=fork.overrides({"optimizer": "sgd", "lr": 0.1, "steps": 20}))
    fork.apply(sgd)
    assert sgd.optimizer.state_dict()["state"] == {}  # Adam moments are not SGD momentum
    assert sgd.optimizer.param_groups[0]["momentum"] == 0.5 and sgd.optimizer.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(model_arrays(sgd)["n0.weight"], fork.weights["n0.weight"])
    adam = Trainer(fork.document(), overrides=fork.overrides({"weight_decay": 0.25, "steps": 20}))
    fork.apply(adam)
    assert adam.optimizer.param_groups[0]["weight_decay"] == 0.25
    assert adam.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


def test_bad_forks_say_what_is_wrong(parent, tmp_path):
    with pytest.raises(TrainError, match="no checkpoint at or before step 3 .its first is at step 6"):
        load_fork(parent, 3)
    fork = load_fork(parent, MID)
    short = Trainer(fork.document(), overrides=fork.overrides({"steps": 5}))
    with pytest.raises(TrainError, match="starts at step 6 .* set steps above 6"):
        fork.apply(short)
    (tmp_path / "x.session").write_text("hello")
    with pytest.raises(TrainError, match="is not a Neurostudio session"):
        load_fork(tmp_path / "x.session")
    assert parse_fork_ref("a/b.session:120") == ("a/b.session", 120)
    assert parse_fork_ref("a/b.session") == ("a/b.session", None)
    assert parse_setting_edits(["clip_norm=1.0", "optimizer=sgd", "val_every=null"]) == \
        {"clip_norm": 1.0, "optimizer": "sgd", "val_every": None}
    with pytest.raises(TrainError, match="'clip' is unknown"):
        parse_setting_edits(["clip=1"])


def test_headless_cli_fork(parent, tmp_path):
    child = tmp_path / "cli-child.session"
    out = cli_train("--fork", f"{parent}:{MID + 2}", "--steps", 9, "--set", "clip_norm=0.5",
                    "--record", child, "--json")
    assert out.returncode == 0, out.stderr
    with SessionReader(child) as r, SessionReader(parent) as p:
        assert r.parent["step"] == MID and r.settings["clip_norm"] == 0.5
        w_child, _ = r.checkpoint(MID)
        w_parent, _ = p.checkpoint(MID)
        for name in w_parent:
            np.testing.assert_array_equal(w_child[name], w_parent[name])
        assert r.scalar("train/loss")[0].tolist() == [7, 8, 9]
    out = cli_train("--fork", parent, "playground_mlp")
    assert out.returncode == 1 and "not both" in out.stderr


def test_worker_job_forks(parent, tmp_path):
    path = tmp_path / "worker-child.session"
    fork = load_fork(parent, MID)
    h = WorkerHandle({"graph": fork.graph, "overrides": fork.overrides({"steps": 8, "device": "cpu"}),
                      "record": str(path), "fork": {"path": str(parent), "step": MID}})
    h.start()
    try:
        Watch(h).status("finished")
    finally:
        h.close(timeout=5)
    with SessionReader(path) as r:
        assert r.parent == fork.parent
        w, _ = r.checkpoint(MID)
        np.testing.assert_array_equal(w["n2.weight"], fork.weights["n2.weight"])
        assert r.last_step == 8

