"""Checkpoints by policy: every N steps, every epoch, at each new best validation loss, keeping
the last K (and the best); a fork from a middle checkpoint starts from the parent's weights
at that step. Real recorded runs, checked against what the session file holds."""
from __future__ import annotations

import math

import numpy as np

from engine.session import SessionReader
from engine.train import Trainer
from engine.train.checkpoint_policy import CheckpointPolicy
from engine.train.fork import load_fork
from engine.train.recorder import SessionRecorder, open_writer
from tests.engine.test_trainer import mlp_doc


def record(path, **training):
    doc = mlp_doc(units=16, training=training)
    trainer = Trainer(doc)
    recorder = SessionRecorder(open_writer(path, doc, trainer.settings, trainer.dataset.info))
    trainer.callbacks.append(recorder)
    trainer.run()
    recorder.close()
    return trainer


def test_policy_decides_when_and_what_to_keep():
    p = CheckpointPolicy(every=10, keep=2)
    assert [s for s in range(1, 41) if p.due_after_step(s, None)] == [10, 20, 30, 40]
    assert [p.taken(s) for s in (10, 20, 30, 40)] == [[], [], [10], [20]]
    assert p.kept == [30, 40]
    epochs = CheckpointPolicy(each_epoch=True)  # 4 steps an epoch: due when epoch 1, 2 begin
    assert [s for s in range(1, 10) if epochs.due_after_step(s, s / 4)] == [4, 8]
    best = CheckpointPolicy(best=True, keep=1)
    assert [best.due_after_validation(s, loss) for s, loss in ((5, 1.0), (10, 0.5), (15, 0.7), (20, float("nan")))] \
        == [True, True, False, False]
    assert best.best_step == 10
    assert best.taken(10) == [] and best.taken(30) == [] and best.taken(40) == [30]  # the best stays
    assert best.kept == [10, 40]


def test_checkpoints_land_on_their_steps_though_the_recorder_sleeps_between(tmp_path):
    # The recorder is called only on its detail steps (1, 10, 20, ...) and those it asks for
    # (Callback.quiet_until): every 7 steps and every epoch of 12 are none of those.
    p = CheckpointPolicy(every=7, each_epoch=True)
    assert [p.next_due(s, 5) for s in (0, 4, 5, 6, 7, 13)] == [5, 5, 7, 7, 10, 14]
    assert CheckpointPolicy(best=True).next_due(3, 5) == math.inf
    path = tmp_path / "odd.session"
    trainer = record(path, steps=40, batch_size=64, val_every=1000, checkpoint_every=7, checkpoint_each_epoch=True)
    assert trainer.steps_per_epoch == 12
    with SessionReader(path) as r:
        taken = sorted({e.step for e in r.events() if e.kind == "checkpoint"})
    assert taken == [7, 12, 14, 21, 24, 28, 35, 36, 40]  # the last: the end of the run


def test_a_recorded_run_keeps_the_last_k_and_the_best(tmp_path):
    path = tmp_path / "run.session"
    record(path, steps=160, val_every=20, checkpoint_every=40, checkpoint_best=True, keep_checkpoints=2)
    with SessionReader(path) as r:
        kept = r.checkpoint_steps()
        steps, losses = r.scalar("val/loss")
        events = [e.step for e in r.events() if e.kind == "checkpoint"]
    best = int(steps[int(np.argmin(losses))])
    taken = sorted(set(events))
    assert {40, 80, 120, 160, best} <= set(taken)  # every 40 steps, each new best, the end
    assert kept == sorted({best, *taken[-2:]})


def test_a_fork_from_a_middle_checkpoint_starts_from_the_parents_weights_there(tmp_path):
    parent = tmp_path / "parent.session"
    record(parent, steps=120, val_every=40, checkpoint_every=30)
    with SessionReader(parent) as r:
        assert r.checkpoint_steps() == [30, 60, 90, 120]
        weights, _ = r.checkpoint(60)
    fork = load_fork(parent, 75)
    assert fork.step == 60
    child_path = tmp_path / "child.session"
    child = Trainer(fork.document(), overrides=fork.overrides({"steps": 80}))
    fork.apply(child)
    recorder = SessionRecorder(open_writer(child_path, fork.document(), child.settings, child.dataset.info,
                                           parent=fork.parent))
    fork.record_start(recorder, child)
    recorder.commit()
    recorder.close()
    with SessionReader(child_path) as r:
        start, _ = r.checkpoint(60)
        assert r.checkpoint_steps()[0] == 60
    assert set(start) == set(weights)
    for name in weights:
        np.testing.assert_array_equal(start[name], weights[name])
