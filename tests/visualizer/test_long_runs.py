"""A long run costs the live views no more per frame, and no more memory, than a short one:
the Curves keep a bounded envelope of each series (every spike kept), maps over training keep
a bounded number of records, the timeline's marks are read incrementally. Checked on a
session written directly with the session writer: 60,000 steps, 3,000 tensor records."""
from __future__ import annotations

import numpy as np
import pytest

from engine.session import SessionReader, SessionWriter
from engine.templates import load_template
from visualizer.replay.events import MarkTracker, timeline_marks
from visualizer.views.bptt import GradientsThroughTimeView
from visualizer.views.curves import CurvesView
from visualizer.views.envelope import CAP
from visualizer.views.records import CAP as RECORDS_CAP
from visualizer.views.records import MAX_COLUMNS

STEPS, EVERY, T = 60_000, 20, 12


def loss(step: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(3)
    y = 2.0 * np.exp(-np.asarray(step) / 20_000) + 0.05 * rng.standard_normal(len(step))
    y[[7_777, 41_003]] = [9.0, 11.0]  # two spikes a long run must not smooth away
    return y


def write_run(writer: SessionWriter, start: int, stop: int, values: np.ndarray) -> None:
    for s in range(start, stop):
        writer.scalars(s, {"train/loss": float(values[s]), "lr": 0.01})
        if s % EVERY == 0:
            writer.tensor("bptt/lstm/grad_norm_t", s, np.full(T, 1.0 + s, np.float32))
        if s % 500 == 499:
            writer.scalar("val/loss", s, float(values[s]) + (1.0 if s != 30_499 else -5.0))
        if s % 10_000 == 9_999:
            writer.event("lr_change", s, f"lr changed at {s}")


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.nsession"
    values = loss(np.arange(STEPS))
    with SessionWriter(path, load_template("anbn_lstm").to_dict(), {}, None) as w:
        for start in range(0, STEPS, 5_000):
            write_run(w, start, start + 5_000, values)
            w.commit()
    return path, values


def test_curves_of_a_long_run_are_a_bounded_envelope_with_every_spike(qtbot, long_run):
    path, values = long_run
    reader = SessionReader(path)
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.set_smoothing(0)
    view.set_reader(reader)
    view.show_step(reader.last_step)
    x, y = view.curves["train/loss"].xData, view.curves["train/loss"].yData  # as set, not per pixel
    assert len(x) <= 4 * CAP + STEPS // CAP  # not 60,000
    assert x[0] == 0 and x[-1] == STEPS - 1 and np.all(np.diff(x) > 0)
    np.testing.assert_array_equal(y, values[x.astype(np.int64)])  # recorded values, none invented
    assert {7_777, 41_003} <= set(x.astype(np.int64).tolist())
    lo, hi = view.plots["Loss"].getViewBox().viewRange()[1]
    assert lo <= values.min() and hi >= 11.0
    # the export is the series as recorded, every step, not the envelope
    header, rows = view.table()
    assert header == ["step", "lr", "train/loss", "val/loss"] and len(rows) == STEPS
    assert rows[41_003][2] == 11.0
    # the pointer's readout reads the session: the record at or before the step
    assert reader.scalar_near("val/loss", 1_000) == (999, pytest.approx(values[999] + 1.0))
    assert reader.scalar_near("val/loss", 10) == (499, pytest.approx(values[499] + 1.0))  # none before: the first after
    # smoothing again re-reads the session and smooths all of it (the view keeps no raw copy)
    before = view.curves["train/loss"].yData
    view.smooth.setValue(50)
    view.smooth.setValue(90)  # a drag: smoothed once it stops
    qtbot.waitUntil(lambda: view.curves["train/loss"].yData is not before)
    x, y = view.curves["train/loss"].xData, view.curves["train/loss"].yData
    assert x[-1] == STEPS - 1 and len(x) <= 4 * CAP + STEPS // CAP
    assert y.max() < 11.0 * 0.2  # the spike smoothed
    reader.close()


def test_a_live_long_run_keeps_a_bounded_number_of_records_and_marks_incrementally(qtbot, tmp_path):
    path = tmp_path / "live.nsession"
    values = loss(np.arange(STEPS))
    writer = SessionWriter(path, load_template("anbn_lstm").to_dict(), {}, None)
    writer.commit()
    reader = SessionReader(path)
    bptt = GradientsThroughTimeView()
    qtbot.addWidget(bptt)
    bptt.resize(900, 650)
    bptt.growing = True
    bptt.set_reader(reader)
    bptt.set_node("lstm", "LSTM")
    tracker = MarkTracker(reader)
    kept = []
    for start in range(0, STEPS, 3_000):
        write_run(writer, start, start + 3_000, values)
        writer.commit()
        reader.refresh()
        bptt.show_step(reader.last_step)
        kept.append(len(bptt.series.arrays))
        assert tracker.update() == timeline_marks(reader)  # incremental = read from scratch
    writer.close()
    assert max(kept) <= RECORDS_CAP < STEPS // EVERY
    steps = bptt.series.steps
    assert steps[-1] == STEPS - EVERY and steps[0] == 0  # the newest record and the first
    # every column of the map over training shows a record from its own stretch of steps
    assert len(bptt.column_steps) == MAX_COLUMNS and bptt.column_steps[-1] == STEPS - EVERY
    width = STEPS / MAX_COLUMNS
    ends = np.arange(1, MAX_COLUMNS + 1) * width
    assert np.all(bptt.column_steps <= ends) and np.all(bptt.column_steps > ends - 2 * width)
    assert bptt.note.text().startswith(f"lstm (LSTM) · step {STEPS - EVERY}")
    marks = tracker.update()
    assert [m.step for m in marks if m.kind == "lr_change"] == list(range(9_999, STEPS, 10_000))
    assert [(m.step, m.kind) for m in marks if m.kind == "best_val"] == [(30_499, "best_val")]
    reader.close()


def test_layer_health_lists_the_diagnostics_up_to_the_shown_step_reading_only_new_ones(qtbot, tmp_path):
    from visualizer.views.health import LayerHealthView

    path = tmp_path / "health.nsession"
    writer = SessionWriter(path, load_template("anbn_lstm").to_dict(), {}, None)
    reader = None
    view = LayerHealthView()
    qtbot.addWidget(view)
    view.resize(900, 400)
    shown = []
    for start in range(0, 3_000, 1_000):
        for s in range(start, start + 1_000):
            writer.scalars(s, {"layer/lstm/grad_norm": 0.5, "train/loss": 1.0})
            if s % 250 == 0:
                writer.event("diagnostic", s, f"warned at {s}", {"severity": "warning", "node": "lstm"})
            if s % 500 == 0:
                writer.event("lr_change", s, "not a diagnostic")
        writer.commit()
        if reader is None:
            reader = SessionReader(path)
            view.set_reader(reader)
        reader.refresh()
        view.show_step(reader.last_step)
        shown.append([view.events.item(i).text() for i in range(view.events.count())])
    writer.close()
    every = [f"⚠ step {s} · lstm: warned at {s}" for s in range(0, 3_000, 250)][::-1]  # newest first
    assert shown[-1] == every and shown[0] == every[-4:]
    view.show_step(1_100)  # scrubbed back: only what had happened by then
    assert [view.events.item(i).text() for i in range(view.events.count())] == every[-5:]
    view.show_step(reader.last_step)
    assert [view.events.item(i).text() for i in range(view.events.count())] == every
    reader.close()
