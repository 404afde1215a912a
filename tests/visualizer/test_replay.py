"""Replaying a recorded session in the main window: short runs recorded headlessly (Trainer +
ProbeSet + SessionWriter) are opened, the timeline is moved to several steps, and every view
is checked against the records at those steps; keyboard steps and event jumps (routes in
and bad files: test_replay_files.py)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from engine.data import load_dataset
from engine.probes import ProbeSet, ProbeSettings
from engine.templates import load_template
from engine.train import Trainer
from engine.train.recorder import SessionRecorder, open_writer
from visualizer.replay.events import timeline_marks
from visualizer.views.health import COLUMNS
from visualizer.window_run import view_key

ROOT = Path(__file__).resolve().parents[2]
STEPS = 8
CHECK_STEPS = (1, 4, 6, STEPS)


def record(path, template: str, dataset: dict | None = None, steps: int = STEPS, training=None):
    """A short real run recorded like the worker does (scalars, events, probes, a checkpoint
    at the end and one at step 4)."""
    doc = load_template(template)
    if dataset is not None:
        doc.dataset = dataset
    ds = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    trainer = Trainer(doc, ds, overrides={"steps": steps, "val_every": 2, "device": "cpu", **(training or {})})
    writer = open_writer(path, doc, trainer.settings, dataclasses.asdict(ds.info))
    recorder = SessionRecorder(writer)
    mid = _CheckpointAt(recorder, steps // 2)
    trainer.callbacks += [recorder, ProbeSet(writer, ProbeSettings(heavy_every=2, probe_size=4),
                                             basic_scalars=False), mid]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores: one thread is faster here
    try:
        trainer.run()
    finally:
        torch.set_num_threads(threads)
        recorder.close()
    return Path(path)


class _CheckpointAt:
    def __init__(self, recorder, step):
        self.recorder, self.at = recorder, step

    def __getattr__(self, name):  # every other callback hook: nothing to do
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_step_end(self, trainer, step, metrics):
        if step == self.at:
            self.recorder.checkpoint(trainer)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay")
    return {"lstm": record(folder / "lstm.session", "anbn_lstm"),
            "mlp": record(folder / "mlp.session", "playground_mlp", {"name": "spiral", "params": {"samples": 300}}),
            "cnn": record(folder / "cnn.session", "lenet")}


def at_or_before(reader, name, step):
    steps = reader.tensor_steps(name)
    s = int(steps[steps <= step].max())
    return s, reader.tensor(name, s, exact=True)[1]


def seek(window, step):
    window.timeline.seek(step)
    window.hub.render_now()
    assert window.timeline.step == step


def select(window, node_id):
    window.scene.select_nodes([node_id])
    window.hub.render_now()


# -- every view at several steps ----------------------------------------------------------------
def check_common(window, reader, step):
    v = window.views
    curves = v[view_key_of("Curves")]
    for name, curve in curves.curves.items():
        if name in reader.scalar_names():
            steps, values = reader.scalar(name)
            np.testing.assert_array_equal(curve.xData, steps)
            np.testing.assert_allclose(curve.yData, values)  # smoothing is off in these tests
    assert all(c.value() == step for c in curves.cursors)
    health = v[view_key_of("Layer health")]
    for row, (node, _) in enumerate(health.model.nodes):
        for col, (_, suffix, _, _) in enumerate(COLUMNS, start=2):
            _, values = reader.scalar(f"layer/{node}/{suffix}", upto=step)
            assert health.model.value(row, col) == (values[-1] if len(values) else None), (step, node, suffix)


def view_key_of(title):
    from visualizer.views.registry import VIEWS
    return view_key(next(c for c in VIEWS if c.title == title))


def open_replay(window, path):
    assert window.open_session(str(path)), window.dialogs.errors()
    window.hub.render_hidden = True  # the tabbed docks are hidden: render them anyway
    window.views[view_key_of("Curves")].set_smoothing(0)
    return window.reader


def test_lstm_run_every_view_at_several_steps(window, runs):
    reader = open_replay(window, runs["lstm"])
    assert window.read_only and window.session_mode == "replay"
    assert window.add_layer("Dense", QPointF(0, 0)) is None  # the graph is read-only
    assert window.timeline.head == STEPS and window.timeline.step == STEPS
    select(window, "lstm")
    v = window.views
    for step in CHECK_STEPS:
        seek(window, step)
        check_common(window, reader, step)
        gates = v[view_key_of("Gates")]
        k = gates.sample.value()
        for gate in "ifgoc":
            _, rec = at_or_before(reader, f"lstm/lstm/{gate}", step)
            np.testing.assert_array_equal(gates.maps[gate].values, rec[k].T.astype(np.float32))
        bptt = v[view_key_of("Gradients through time")]
        _, norm = at_or_before(reader, "bptt/lstm/grad_norm_t", step)
        np.testing.assert_array_equal(bptt.profile.yData, np.maximum(norm.astype(np.float64), 1e-30))
        pred = v[view_key_of("Predictions")]
        _, p = at_or_before(reader, "predictions", step)
        np.testing.assert_array_equal(pred.predicted, p.argmax(-1))


def test_mlp_and_cnn_runs_every_view_at_several_steps(window, runs):
    reader = open_replay(window, runs["mlp"])
    v = window.views
    hidden = "act1"
    select(window, hidden)
    for step in CHECK_STEPS:
        seek(window, step)
        check_common(window, reader, step)
        _, probs = at_or_before(reader, "boundary/probs", step)
        np.testing.assert_array_equal(v[view_key_of("Decision boundary")].field, probs.astype(np.float32))
        s, rec = at_or_before(reader, f"act_hist/{hidden}", step)
        acts = v[view_key_of("Activations")]
        counts, bad = rec[1][:-1], rec[1][-1]
        np.testing.assert_allclose(acts.bars.opts["height"], counts / (counts.sum() + bad))
        assert acts.column_steps[-1] == s

    reader = open_replay(window, runs["cnn"])  # replacing one replay by another
    select(window, "c1")
    fm_view = v[view_key_of("Feature maps")]
    for step in CHECK_STEPS:
        seek(window, step)
        check_common(window, reader, step)
        _, fm = at_or_before(reader, "feature_maps/c1", step)
        k = fm_view.sample.value()
        for c in range(fm.shape[1]):
            np.testing.assert_array_equal(fm_view.channel(c), fm[k, c].astype(np.float32))
        if step >= 2:  # validated every 2 steps
            _, conf = at_or_before(reader, "val/confusion", step)
            np.testing.assert_array_equal(v[view_key_of("Predictions")].matrix, conf)


def test_keyboard_steps_and_event_jumps_incl_best_validation_loss(window, runs, qtbot):
    reader = open_replay(window, runs["lstm"])
    bar = window.timeline_bar
    seek(window, 0)
    bar.setFocus()
    qtbot.keyClick(bar, Qt.Key_Right)
    qtbot.keyClick(bar, Qt.Key_Right)
    assert window.timeline.step == 2
    qtbot.keyClick(bar, Qt.Key_Left)
    assert window.timeline.step == 1
    steps, values = reader.scalar("val/loss")
    best = int(steps[np.nanargmin(values)])
    marks = timeline_marks(reader)
    assert any(m.kind == "best_val" and m.step == best for m in marks)
    assert any(m.kind == "checkpoint" and m.step == STEPS // 2 for m in marks)
    seek(window, 0)
    visited = []
    for _ in range(len(marks)):
        qtbot.keyClick(bar, Qt.Key_Right, Qt.ShiftModifier)
        visited.append(window.timeline.step)
    assert best in visited and visited == sorted(visited)
    qtbot.keyClick(bar, Qt.Key_Home)
    assert window.timeline.step == 0
    qtbot.keyClick(bar, Qt.Key_End)
    assert window.timeline.step == STEPS
