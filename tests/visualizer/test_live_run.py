"""Training from the window, live: a real worker process trains a small template while the
window follows the session file. The views' drawn data is compared with the session's
records, and the run panel's controls (pause, step, resume, learning rate, probe rates,
stop) are driven by clicking them. A run that goes NaN, a worker killed with SIGKILL and
a dataset that fails to load in the worker are reported in the run panel.

The machine is a loaded 2-core box where spawning a worker takes seconds: waits are long,
runs are short."""
from __future__ import annotations

import os
import signal

import numpy as np
from PySide6.QtCore import Qt, QTimer

from engine.session import SessionReader
from visualizer.editor import edits
from visualizer.views.health import COLUMNS

SPAWN_S = 60_000   # ms: a worker spawn imports torch on a busy machine
RUN_S = 60_000


def train(window, template: str, **training):
    window.open_template(template)
    for name, value in training.items():
        edits.set_training(window.model, name, value)
    window.start_training()
    assert window.controller.handle is not None, "Train did not start a worker"


def wait_state(qtbot, window, *states, timeout=SPAWN_S):
    qtbot.waitUntil(lambda: window.controller.state in states, timeout=timeout)


def label(window) -> str:
    return window.run_panel.state_label.status


def show_view(window, key: str):
    view = window.views[key]
    window.show_view(view.title)
    window.hub.render_now()
    assert view.isVisible()
    return view


def test_a_live_run_draws_what_the_session_records(qtbot, window):
    window.views["view_curves"].set_smoothing(0)  # raw values: comparable to the records
    shown_live = []

    def snapshot(step):  # what the Curves view drew at a step the window showed mid-run
        if window.controller.state == "running" and not shown_live:
            x, y = window.views["view_curves"].curves["train/loss"].getData()
            if x is not None and len(x):
                shown_live.append((step, np.array(x), np.array(y)))

    window.hub.rendered.connect(snapshot)
    train(window, "playground_mlp", steps=300, val_every=50)
    assert window.run_panel.session_label.text().startswith("Recording to ")
    wait_state(qtbot, window, "finished", timeout=SPAWN_S + RUN_S)
    qtbot.waitUntil(lambda: window.timeline.step == 300, timeout=5000)
    assert "Finished" in label(window) and window.run_panel.bar.format() == "finished · step 300"
    assert not window.run_panel.pause_btn.isEnabled() and window.actions["train"].isEnabled()
    # The ended process is collected in the background (the window never waits on it).
    qtbot.waitUntil(lambda: window.controller.handle.exit_code == 0, timeout=10_000)

    reader = SessionReader(window.session_path)
    try:
        if shown_live:  # the run may finish between two frames on a fast machine
            # Curves draw everything committed so far (the head may be past the frame's step,
            # with the cursor at the step): what was drawn live is exactly the session's first points.
            _, x, y = shown_live[0]
            steps, values = reader.scalar("train/loss")
            assert 0 < len(x) <= len(steps)  # a fast machine can commit the whole run before a frame
            np.testing.assert_array_equal(x, steps[:len(x)])
            np.testing.assert_array_equal(y, values[:len(x)])

        curves = show_view(window, "view_curves")
        for name in ("train/loss", "val/loss", "val/accuracy", "lr", "grad_norm"):
            steps, values = reader.scalar(name)
            x, y = curves.curves[name].getData()
            np.testing.assert_array_equal(x, steps, err_msg=name)
            np.testing.assert_array_equal(y, values, err_msg=name)
        assert reader.scalar("val/loss")[0].tolist() == [50, 100, 150, 200, 250, 300]
        # The run is over: plots over training fit their steps (live, they kept room to grow).
        for plot in curves.plots.values():
            assert plot.getViewBox().viewRange()[0] == [0.0, 300.0]

        health = show_view(window, "view_layer_health")
        nodes = [n for n, _ in health.model.nodes]
        assert {"fc1", "fc2", "logits"} <= set(nodes)
        for row, node in enumerate(nodes):
            for col, (_, suffix, _, _) in enumerate(COLUMNS, start=2):
                _, values = reader.scalar(f"layer/{node}/{suffix}", upto=300)
                assert health.model.value(row, col) == (values[-1] if len(values) else None), (node, suffix)

        boundary = show_view(window, "view_decision_boundary")
        steps = reader.tensor_steps("boundary/probs")
        probs = reader.tensor("boundary/probs", int(steps[-1]), exact=True)[1]
        np.testing.assert_array_equal(boundary.field, probs.astype(np.float32))
        np.testing.assert_array_equal(boundary.image.image, probs[..., 1].astype(np.float32))

        window.scene.select_nodes(["act1"])  # the activations view follows the canvas
        acts = show_view(window, "view_activations")
        hist_steps = reader.tensor_steps("act_hist/act1")
        assert acts.column_steps[-1] == hist_steps[-1]
        lo, hi = acts.heat.plot.getViewBox().viewRange()[0]
        assert (lo, hi) == (hist_steps[0] - 0.5, hist_steps[-1] + 0.5)
    finally:
        reader.close()


def test_pause_step_lr_probe_rates_and_stop_from_the_run_panel(qtbot, window):
    panel = window.run_panel
    train(window, "playground_mlp", steps=100_000, val_every=100_000)
    wait_state(qtbot, window, "running")
    qtbot.waitUntil(lambda: window.timeline.head > 0, timeout=RUN_S)

    qtbot.mouseClick(panel.pause_btn, Qt.LeftButton)
    wait_state(qtbot, window, "paused")
    assert "Paused" in label(window) and panel.pause_btn.text() == "Resume"
    assert panel.step_btn.isEnabled()
    s0 = window.controller.last_progress["step"]
    qtbot.waitUntil(lambda: window.timeline.head == s0, timeout=10_000)

    qtbot.mouseClick(panel.step_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: f"Paused after one step (step {s0 + 1})" in label(window), timeout=10_000)
    assert window.controller.last_progress["step"] == s0 + 1
    qtbot.waitUntil(lambda: window.timeline.head == s0 + 1, timeout=10_000)

    # While paused: a new learning rate and new probe rates, applied from the next step.
    panel.lr.setValue(0.0005)
    panel.lr.editingFinished.emit()
    qtbot.waitUntil(lambda: window.controller.last_progress.get("lr") == 0.0005, timeout=10_000)
    assert panel.heavy_unit.currentText() == "steps"  # by step is the default: reproducible captures
    panel.heavy_rate.setValue(25)
    panel.stats_every.setValue(10)
    with qtbot.waitSignal(window.controller.probes_changed, timeout=10_000) as sig:
        panel.heavy_rate.editingFinished.emit()
        panel.stats_every.editingFinished.emit()
    qtbot.waitUntil(lambda: "statistics every 10 steps, captures every 25 steps" in panel.note.text(),
                    timeout=10_000)
    assert sig.args[0]["heavy_every"] == 25

    qtbot.mouseClick(panel.pause_btn, Qt.LeftButton)  # Resume
    qtbot.waitUntil(lambda: window.timeline.head >= s0 + 200, timeout=RUN_S)
    qtbot.mouseClick(panel.stop_btn, Qt.LeftButton)
    wait_state(qtbot, window, "stopped", timeout=RUN_S)
    assert "Stopped" in label(window) and not panel.stop_btn.isEnabled()
    assert window.actions["train"].isEnabled()

    with SessionReader(window.session_path) as reader:
        end = reader.last_step
        steps, lrs = reader.scalar("lr", since=s0 + 2)
        assert len(steps) == end - s0 - 1 and np.all(lrs == 0.0005)
        assert reader.scalar("lr", upto=s0 + 1)[1][-1] == 0.01  # the template's rate before
        # Heavy captures: exactly every 25 steps after the change (a step count has no
        # budget), plus the final state at the stop.
        heavy = reader.tensor_steps("act_hist/fc1")
        after = heavy[(heavy > s0 + 1) & (heavy < end)]
        first = (s0 + 2 + 24) // 25 * 25
        assert after.tolist() == list(range(first, end, 25)) and heavy[-1] == end
        # Cheap statistics: only on multiples of 10 after the change (a wall-time budget
        # may skip some), where before they were taken on other steps too. The step after
        # the change was already armed for statistics under the old rate.
        stats, _ = reader.scalar("layer/fc1/grad_norm")
        assert np.all(stats[stats > s0 + 2] % 10 == 0) and len(stats[stats > s0 + 2]) >= 1
        assert np.any(stats[stats <= s0] % 10 != 0)
        probes = [e for e in reader.events(["probes"])]
        assert [e.step for e in probes] == [s0 + 1] * len(probes) and probes


def test_a_run_that_goes_nan_shows_the_diagnosis(qtbot, window):
    train(window, "autoencoder_transpose", steps=200, optimizer="sgd", lr=10.0)
    qtbot.waitUntil(lambda: window.controller.state == "paused" and "infinite" in label(window)
                    or "NaN" in label(window), timeout=SPAWN_S + RUN_S)
    text = label(window)
    assert "Paused" in text and "Lower the learning rate" in text, text
    assert window.run_panel.pause_btn.text() == "Resume"
    qtbot.mouseClick(window.run_panel.stop_btn, Qt.LeftButton)
    wait_state(qtbot, window, "stopped", "failed", timeout=RUN_S)
    with SessionReader(window.session_path) as reader:
        assert [e.kind for e in reader.events(["nan"])] == ["nan"]


def test_a_killed_worker_is_reported_and_the_window_stays_responsive(qtbot, window):
    train(window, "playground_mlp", steps=100_000)
    wait_state(qtbot, window, "running")
    qtbot.waitUntil(lambda: window.timeline.head > 0, timeout=RUN_S)
    os.kill(window.controller.handle.pid, signal.SIGKILL)
    wait_state(qtbot, window, "killed", timeout=10_000)
    assert "Killed" in label(window) and "SIGKILL" in label(window)
    assert window.actions["train"].isEnabled() and not window.run_panel.stop_btn.isEnabled()
    ticks = []
    QTimer.singleShot(10, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: bool(ticks), timeout=1000)  # the event loop still runs
    with SessionReader(window.session_path) as reader:  # what was committed is there to see
        head = reader.last_step
        assert head == window.timeline.head > 0
        steps, _ = reader.scalar("train/loss")
    curves = show_view(window, "view_curves")
    assert curves.curves["train/loss"].getData()[0][-1] == steps[-1] == head


def test_a_dataset_that_fails_in_the_worker_shows_its_message_and_details(qtbot, window, tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"this is not a zip file")
    window.open_template("playground_mlp")
    window.allow_data_folder(tmp_path)  # as choosing the file in a dialog does
    edits.set_dataset(window.model, {"path": str(bad), "format": "npz"})
    # The check before Train reads the file first: one sentence on the Input, no worker.
    problems = window.model.flush_analysis().problems
    assert [p.node for p in problems] == ["x"] and "broken.npz" in str(problems[0])
    assert window.start_training() is None and window.controller.handle is None
    # A file that was fine when checked and broke before the worker read it: the worker's
    # failure reaches the run strip.
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    np.savez(bad, x=x, y=(x[:, 0] > 0).astype(np.int64))
    window.model.schedule_analysis()
    assert window.model.flush_analysis().ok
    bad.write_bytes(b"this is not a zip file")
    window.start_training()
    wait_state(qtbot, window, "failed", timeout=SPAWN_S)
    assert "Failed" in label(window) and "broken.npz" in label(window)
    assert "Traceback" not in label(window)
    assert window.run_panel.details_btn.isVisible()
    assert "Traceback" in window.controller.details
    asked = []
    window.dialogs.details = lambda parent, title, message, details: asked.append((message, details))
    qtbot.mouseClick(window.run_panel.details_btn, Qt.LeftButton)
    assert asked and "broken.npz" in asked[0][0] and "Traceback" in asked[0][1]
