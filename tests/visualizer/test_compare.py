"""Comparing recorded runs: a vanilla RNN, an LSTM and a GRU on the adding problem, recorded
headlessly with different lengths. Curves overlaid with one legend entry per run, one
timeline by step or by relative progress, any view once per run, node choice by id."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from engine.session import SessionReader
from tests.visualizer.test_replay import at_or_before, record
from visualizer.replay.actions import open_compare
from visualizer.replay.compare import PROGRESS_TICKS, run_step
from visualizer.views.bptt import GradientsThroughTimeView
from visualizer.views.gates import GatesView

ADDING = {"name": "adding", "params": {"length": 30, "samples": 256}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    return {"rnn": record(folder / "rnn.session", "rnn_classifier", ADDING, steps=6),
            "lstm": record(folder / "lstm.session", "lstm_classifier", ADDING, steps=12),
            "gru": record(folder / "gru.session", "gru_classifier", ADDING, steps=6)}


def test_curves_overlaid_with_a_legend_per_run_and_one_timeline(window, dialogs, runs, qtbot, tmp_path):
    cw = open_compare(window, [runs["rnn"], runs["lstm"]], render_hidden=True)
    qtbot.addWidget(cw)
    assert dialogs.errors() == []
    plot = cw.curves.plots["Training loss"]
    key = cw.curves.key.text  # one key of the runs' colours above the plots, none on the data
    assert key.index("rnn") < key.index("lstm") and plot.legend is None
    for i, name in enumerate(("rnn", "lstm")):
        with SessionReader(runs[name]) as r:
            steps, values = r.scalar("val/loss")
            curve = cw.curves.curves[(i, "val/loss")]
            np.testing.assert_array_equal(curve.xData, steps)
            np.testing.assert_allclose(curve.yData, values)
    # One timeline by step: the short run stops at its last step.
    assert cw.timeline.head == 12
    cw.timeline.seek(9)
    cw.render_now()
    assert cw.run_steps() == [6, 9]
    assert cw.curves.cursors[0].value() == 9
    # By relative progress: both at the same fraction of their runs, the curves in %.
    cw.set_mode("progress")
    assert cw.timeline.head == PROGRESS_TICKS and cw.timeline.step == 750
    cw.render_now()
    assert cw.run_steps() == [round(0.75 * 6), 9]
    np.testing.assert_allclose(cw.curves.curves[(0, "val/loss")].xData[-1], 100.0)
    assert run_step("progress", 500, 12) == 6 and run_step("step", 20, 12) == 12
    # the curves export every run they show
    out = tmp_path / "curves.csv"
    assert cw.export("curves", "csv", str(out))
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["run"] for r in rows} == {"rnn", "lstm"}
    lstm_val = [float(r["value"]) for r in rows if r["run"] == "lstm" and r["series"] == "val/loss"]
    with SessionReader(runs["lstm"]) as r:
        np.testing.assert_allclose(lstm_val, r.scalar("val/loss")[1], rtol=1e-6)
    assert cw.export("curves", "svg", str(tmp_path / "curves.svg")) and cw.export("window", "png", str(tmp_path / "w.png"))
    cw.close()


def test_gradients_through_time_of_an_rnn_beside_an_lstm(window, runs, qtbot):
    cw = open_compare(window, [runs["rnn"], runs["lstm"]], render_hidden=True)
    qtbot.addWidget(cw)
    cw.set_view(GradientsThroughTimeView)
    # Each column starts on its own recurrent layer (ids differ: rnn vs lstm).
    assert [c.view.node_id for c in cw.columns] == ["rnn", "lstm"]
    for pos in (2, 6, 12):
        cw.timeline.seek(pos)
        cw.render_now()
        for col, step, name in zip(cw.columns, cw.run_steps(), ("rnn", "lstm")):
            _, norm = at_or_before(col.reader, f"bptt/{name}/grad_norm_t", step)
            np.testing.assert_array_equal(col.view.profile.yData, np.maximum(norm.astype(np.float64), 1e-30))
    # Selecting a shared id maps to every run that has it; "lstm" only exists in one.
    cw.select_node("head")
    assert [c.view.node_id for c in cw.columns] == ["head", "head"]
    cw.columns[0].select("rnn")
    cw.select_node("lstm")
    assert [c.view.node_id for c in cw.columns] == ["rnn", "lstm"]
    cw.close()


def test_gates_of_an_lstm_beside_a_gru_and_bad_input(window, dialogs, runs, qtbot, tmp_path):
    cw = open_compare(window, [runs["lstm"], runs["gru"]], render_hidden=True)
    qtbot.addWidget(cw)
    cw.set_view(GatesView)
    cw.set_mode("progress")
    cw.timeline.seek(PROGRESS_TICKS)
    cw.render_now()
    lstm, gru = cw.columns
    assert lstm.view.kind == "lstm" and gru.view.kind == "gru"
    _, f = at_or_before(lstm.reader, "lstm/lstm/f", 12)
    np.testing.assert_array_equal(lstm.view.maps["f"].values, f[0].T.astype(np.float32))
    _, z = at_or_before(gru.reader, "gru/gru/z", 6)
    np.testing.assert_array_equal(gru.view.maps["z"].values, z[0].T.astype(np.float32))
    cw.close()

    bad = tmp_path / "bad.session"
    bad.write_text("nope")
    assert open_compare(window, [runs["lstm"], bad]) is None
    assert "bad.session is not a Neurostudio session" in dialogs.errors()[-1]
    assert open_compare(window, [runs["lstm"]]) is None
    assert "two or more" in dialogs.errors()[-1]
