"""The session recorder's training scalars, read back from the file: every step's loss and
learning rate (buffered, handed to the writer when it commits), and every 10 steps the
gradients' norm before clipping and the batch accuracy, against values computed here in
float64 from the gradients and predictions themselves."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from engine.session import SessionReader
from engine.train import Callback, Trainer
from engine.train.metrics import predicted_classes
from engine.train.recorder import SessionRecorder, open_writer
from tests.engine.test_trainer import mlp_doc, spiral


class Truth(Callback):
    """What the recorder should have written, measured independently of it."""

    def __init__(self):
        self.losses, self.lrs, self.raw_norm, self.accuracy = {}, {}, {}, {}

    def on_after_backward(self, trainer, step):  # before clipping and the update
        grads = [p.grad.double() for p in trainer.model.parameters() if p.grad is not None]
        self.raw_norm[step] = float(torch.sqrt(sum((g * g).sum() for g in grads)))

    def on_step_end(self, trainer, step, metrics):
        self.losses[step], self.lrs[step] = metrics["loss"], metrics["lr"]
        pred, target = trainer._last_pred, trainer._last_target
        self.accuracy[step] = float((predicted_classes(pred) == target).double().mean())


def record(tmp_path, name, steps=25, **training):
    doc = mlp_doc(training={"steps": steps, "optimizer": "sgd", "lr": 0.5, "val_every": 1000, **training})
    truth = Truth()
    trainer = Trainer(doc, spiral(400), callbacks=[truth])
    recorder = SessionRecorder(open_writer(tmp_path / f"{name}.session", doc, trainer.settings, trainer.dataset.info),
                               commit_every=0.0)  # a commit after every step: hand-overs of one row too
    trainer.callbacks.append(recorder)
    trainer.run()
    recorder.close()
    return SessionReader(tmp_path / f"{name}.session"), truth


@pytest.mark.parametrize("clipping", [{}, {"clip_norm": 0.05}, {"clip_norm": 0.05, "clip_value": 0.01}],
                         ids=["none", "norm", "value-then-norm"])
def test_gradient_norm_is_before_clipping_and_losses_are_every_step(tmp_path, clipping):
    reader, truth = record(tmp_path, "clip", **clipping)
    with reader as r:
        steps, loss = r.scalar("train/loss")
        assert steps.tolist() == list(range(1, 26))
        assert loss.tolist() == [truth.losses[s] for s in range(1, 26)]   # exactly what the trainer returned
        steps, lr = r.scalar("lr")
        assert steps.tolist() == list(range(0, 26)) and lr.tolist() == [0.5] * 26
        steps, norm = r.scalar("grad_norm")
        assert steps.tolist() == [1, 10, 20]
        np.testing.assert_allclose(norm, [truth.raw_norm[s] for s in (1, 10, 20)], rtol=1e-5)
        if "clip_norm" in clipping:
            assert min(norm) > 0.05  # the clip had work to do, and the norm recorded is the one before it
        steps, acc = r.scalar("train/accuracy")
        assert steps.tolist() == [1, 10, 20]
        np.testing.assert_allclose(acc, [truth.accuracy[s] for s in (1, 10, 20)], rtol=1e-6)
        walls = r._db.execute("SELECT wall FROM scalars JOIN series ON series.id = scalars.series "
                              "WHERE series.name = 'train/loss' ORDER BY step").fetchall()
        assert [w for (w,) in walls] == sorted(w for (w,) in walls)  # each step its own time


def attached(path, steps, recorder=SessionRecorder, gate=None, **kwargs):
    """A trainer of ``steps`` steps with a recorder (of class ``recorder``) writing to ``path``."""
    doc = mlp_doc(training={"steps": steps, "val_every": 1000})
    trainer = Trainer(doc, spiral(400), gate=gate)
    trainer.callbacks.append(recorder(open_writer(path, doc, trainer.settings, trainer.dataset.info), **kwargs))
    return trainer, trainer.callbacks[-1]


def test_steps_since_the_last_commit_are_written_by_close(tmp_path):
    # A run stopped from outside (no on_end): closing the recorder still writes every step.
    trainer, recorder = attached(tmp_path / "cut.session", 100, commit_every=3600.0)
    recorder.on_start(trainer)
    trainer._t_last = time.perf_counter()  # (what run() sets before the first step)
    for _ in range(7):
        trainer.train_step()
    recorder.close()
    with SessionReader(tmp_path / "cut.session") as r:
        assert r.scalar("train/loss")[0].tolist() == list(range(1, 8))
        assert r.last_step == 7


class CalledAt(SessionRecorder):
    """The recorder itself, noting the steps the trainer called it at."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.called = []

    def on_step_end(self, trainer, step, metrics):
        self.called.append(step)
        super().on_step_end(trainer, step, metrics)


def test_the_recorder_is_called_on_its_detail_steps_and_records_every_step(tmp_path):
    # The trainer appends every step's loss and learning rate to the recorder's buffer
    # (Trainer.step_log); the recorder asks for a call on its detail steps alone.
    trainer, recorder = attached(tmp_path / "quiet.session", 45, CalledAt, commit_every=3600.0)
    trainer.run()
    recorder.close()
    assert recorder.called == [1, 10, 20, 30, 40]
    with SessionReader(tmp_path / "quiet.session") as r:
        steps, loss, walls = r.scalar("train/loss", with_wall=True)
        assert steps.tolist() == list(range(1, 46)) and np.isfinite(loss).all()
        assert r.scalar("lr")[0].tolist() == list(range(0, 46))
        wall = dict(zip(steps.tolist(), walls.tolist()))
        rate_steps, rate = r.scalar("samples_per_s")
        step_time = dict(zip(*(a.tolist() for a in r.scalar("step_time"))))
    assert rate_steps.tolist() == [1, 10, 20, 30, 40]
    # samples over the steps since the previous value, by the times their loss rows have
    expected = [32 / step_time[1]] + [(s - p) * 32 / (wall[s] - wall[p])
                                      for p, s in zip([1, 10, 20, 30], [10, 20, 30, 40])]
    np.testing.assert_allclose(rate, expected, rtol=1e-12)


def test_a_recorder_whose_steps_outlast_its_commit_interval_commits_every_step(tmp_path):
    committed = []
    trainer, recorder = attached(tmp_path / "slow.session", 6, CalledAt, gate=lambda t: time.sleep(0.03),  # >= 30 ms
                                 commit_every=0.02, on_commit=committed.append)
    trainer.run()
    recorder.close()
    assert recorder.called == [1, 2, 3, 4, 5, 6]
    assert committed[:6] == [1, 2, 3, 4, 5, 6]
