"""The window as a workbench, with real documents and real short runs: a view never shows a
run of another document, a run goes on in the background and comes back bound to its
document, themes restyle every plot without a restart, the timeline goes where it is
clicked and lights Live only at the head, exports write what the views show."""
from __future__ import annotations

import csv

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyle, QStyleOptionSlider

from engine.session import SessionReader
from visualizer.editor import edits
from visualizer.theme import DARK, LIGHT

SPAWN = 60_000
RUN = 90_000


def train(window, qtbot, template: str, steps: int, wait: bool = True, **training):
    window.open_template(template)
    edits.set_training(window.model, "steps", steps)
    for name, value in training.items():
        edits.set_training(window.model, name, value)
    path = window.start_training()
    assert path is not None, window.statusBar().currentMessage()
    window.model.undo_stack.setClean()  # switching documents later asks nothing
    if wait:
        qtbot.waitUntil(lambda: window.controller.state == "finished", timeout=SPAWN + RUN)
        qtbot.waitUntil(lambda: window.timeline.step == steps, timeout=5000)
    return path


def drawn(view) -> dict:
    """What a view would draw: the data of its images and lines, and its texts."""
    out = {"images": [], "lines": [], "texts": []}
    for gv in view.findChildren(pg.GraphicsView):
        for item in gv.scene().items():
            if isinstance(item, pg.ImageItem) and item.image is not None and item.image.size:
                out["images"].append(item.image.shape)
            elif isinstance(item, pg.PlotDataItem):
                x, _ = item.getData()
                if x is not None and len(x):
                    out["lines"].append(len(x))
            elif isinstance(item, pg.TextItem) and item.toPlainText():
                out["texts"].append(item.toPlainText())
    return out


def test_views_run_panel_and_timeline_follow_the_open_document(window, qtbot):
    spiral = train(window, qtbot, "playground_mlp", 120, val_every=40)
    window.set_workspace("watch")
    window.hub.render_now()
    boundary = window.views_by_title["Decision boundary"]
    assert window.reader is not None and boundary.reader is window.reader
    assert window.run_panel.session_label.text() == f"Session {spiral.name}"
    assert window.timeline.head == 120

    # Open B: nothing of A's run may show anywhere
    window.open_template("anbn_lstm")
    assert window.state.binding is None and window.reader is None and window.hub.reader is None
    for view in window.views.values():
        assert view.reader is None
    for pane in window.grid.panes:  # each pane says what to do instead of an empty plot
        assert pane.hint.isVisibleTo(window) and "press Train" in pane.hint.text()
    assert window.run_panel.session_label.text() == ""
    assert window.run_panel.state_label.status.endswith("Ready: press Train to start.")
    assert not window.run_panel.stop_btn.isEnabled()
    assert (window.timeline.head, window.timeline.step) == (0, 0)
    assert not window.timeline_bar.live_btn.isVisible()
    assert window.timeline_bar.step_label.text() == "step 0 / 0"

    # B trains: its views show B's run, and Predictions holds B's symbols only
    anbn = train(window, qtbot, "anbn_lstm", 60, val_every=30)
    assert window.state.binding.session_path == anbn
    predictions = window.views_by_title["Predictions"]
    window.show_view("Predictions")
    window.hub.render_now()
    with SessionReader(anbn) as reader:
        b_names = [str(c) for c in reader.dataset_info["class_names"]]
    with SessionReader(spiral) as reader:
        a_names = [str(c) for c in reader.dataset_info["class_names"]]
    text = predictions.text.text()
    assert any(symbol in text for symbol in ("a", "b"))
    assert not any(f"class {n}" in text for n in a_names)
    assert set(b_names) != set(a_names)
    boundary_hint = window.views_by_title["Decision boundary"].stack.hint_text
    assert boundary_hint is None or "anbn" in boundary_hint  # names B's dataset, never A's

    # Back to A: bound to A's finished run again, at its head
    window.open_template("playground_mlp")
    assert window.state.binding.session_path == spiral
    assert window.timeline.head == 120 and window.timeline.step == 120
    assert window.run_panel.session_label.text() == f"Session {spiral.name}"
    assert "Finished" in window.run_panel.state_label.status
    window.show_view("Curves")
    window.hub.render_now()
    curves = window.views_by_title["Curves"]
    with SessionReader(spiral) as reader:
        steps, _ = reader.scalar("train/loss")
    x, _ = curves.curves["train/loss"].getData()
    np.testing.assert_array_equal(x, steps)


def test_a_run_goes_on_in_the_background_and_comes_back_bound(window, qtbot):
    path = train(window, qtbot, "playground_mlp", 2000, wait=False)
    qtbot.waitUntil(lambda: window.controller.state == "running", timeout=SPAWN)
    run = window.controller
    window.open_template("lenet")  # switched away mid-run
    assert window.controller is not run and window.controller.state == "idle"
    assert run.running or run.state == "finished"
    assert [b.session_path for b in window.state.background_runs()] == [path]
    qtbot.waitUntil(lambda: run.state == "finished", timeout=RUN)  # it finished unseen
    window.fill_runs_menu()
    [entry] = window.runs_menu.actions()
    assert entry.text().startswith("MLP") or "finished" in entry.text()
    entry.trigger()  # Runs > the run: its document opens, bound to it
    assert window.state.document.key == "template:playground_mlp"
    assert window.controller is run and window.session_path == path
    assert window.timeline.head == 2000 and window.timeline.step == 2000
    with SessionReader(path) as reader:
        assert reader.last_step == 2000


def test_theme_switch_restyles_every_plot_at_once(window, qtbot):
    train(window, qtbot, "playground_mlp", 40)
    window.set_workspace("watch")
    window.hub.render_now()
    views = list(window.views.values())

    def colours(theme):
        bg = QColor(theme.base)
        fg = QColor(theme.text)
        for view in views:
            for gv in view.findChildren(pg.GraphicsView):
                assert gv.backgroundBrush().color() == bg, view.title
                for item in gv.scene().items():
                    if isinstance(item, pg.AxisItem):
                        assert item.pen().color() == fg, (view.title, item.orientation)
                        assert item.textPen().color() == fg

    colours(LIGHT)
    window.set_theme("dark")
    colours(DARK)
    # a plot the view builds later (the gates of an LSTM) is dark from the start
    train(window, qtbot, "anbn_lstm", 30)
    window.scene.select_nodes(["lstm"])
    window.show_view("Gates")
    window.hub.render_now()
    gates = window.views_by_title["Gates"]
    assert gates.maps and all(hm.plot.getAxis("left").pen().color() == QColor(DARK.text) for hm in gates.maps.values())
    # the canvas follows too
    assert window.scene.theme is DARK
    window.set_theme("light")
    colours(LIGHT)


def slider_x(slider, value: int) -> int:
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    groove = slider.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderGroove, slider)
    handle = slider.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderHandle, slider)
    span = groove.width() - handle.width()
    return groove.left() + handle.width() // 2 + QStyle.sliderPositionFromValue(
        slider.minimum(), slider.maximum(), value, span)


def test_timeline_click_goes_to_the_step_under_the_pointer_and_live_lights_at_the_head(window, qtbot):
    train(window, qtbot, "playground_mlp", 300)
    bar = window.timeline_bar
    slider = bar.slider
    window.set_workspace("watch")
    qtbot.wait(50)
    assert bar.live_btn.isChecked() and bar.live_btn.text() == "Live"
    y = slider.height() // 2
    for target in (75, 222, 10):
        QTest.mouseClick(slider, Qt.LeftButton, Qt.NoModifier, QPoint(slider_x(slider, target), y))
        # one pixel of the slider covers about head / width steps
        assert abs(window.timeline.step - target) <= max(1, 300 // slider.width() + 1), target
        assert not bar.live_btn.isChecked() and bar.live_btn.text() == "Go live"
    # drag from one place to another
    QTest.mousePress(slider, Qt.LeftButton, Qt.NoModifier, QPoint(slider_x(slider, 50), y))
    QTest.mouseMove(slider, QPoint(slider_x(slider, 150), y))
    QTest.mouseRelease(slider, Qt.LeftButton, Qt.NoModifier, QPoint(slider_x(slider, 150), y))
    assert abs(window.timeline.step - 150) <= 2
    bar.live_btn.click()
    assert window.timeline.step == 300 and bar.live_btn.isChecked()


def test_every_view_exports_a_picture_and_its_data(window, qtbot, dialogs, tmp_path):
    train(window, qtbot, "anbn_lstm", 60, val_every=30)
    window.scene.select_nodes(["lstm"])
    window.hub.render_hidden = True
    window.hub.render_now()
    exported = 0
    for title, view in window.views_by_title.items():
        window.show_view(title)
        window.hub.render_now()
        png, table = tmp_path / f"{title}.png", tmp_path / f"{title}.csv"
        dialogs.answers["export_path"] = [str(png)]
        assert window.export_view(title, "png")
        img = QImage(str(png))
        assert img.width() > 100 and img.height() > 100
        colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
        assert len(colours) > 3, f"{title}: a blank picture"
        svg = tmp_path / f"{title}.svg"
        dialogs.answers["export_path"] = [str(svg)]
        assert window.export_view(title, "svg")
        text = svg.read_text(encoding="utf-8")
        assert "<svg" in text
        if getattr(getattr(view, "stack", None), "hint_text", None) is None:  # it shows data
            vectors = text.count("<path") + text.count("<polyline") + text.count("<text")
            assert vectors > 20, (title, vectors)  # axes, ticks and lines drawn as vectors
        if view.table() is not None:
            dialogs.answers["export_path"] = [str(table)]
            assert window.export_view(title, "csv")
            with open(table, newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
            header, data = view.table()
            assert rows[0] == header and len(rows) == len(data) + 1
            exported += 1
    assert exported >= 3  # curves, layer health, gates at least
    # the whole workspace, and the session's scalars as the CLI writes them
    whole = tmp_path / "workspace.png"
    dialogs.answers["export_path"] = [str(whole)]
    assert window.export_workspace()
    assert QImage(str(whole)).width() == window.workbench.width()
    scalars = tmp_path / "scalars.csv"
    dialogs.answers["export_path"] = [str(scalars)]
    assert window.export_scalars()
    with open(scalars, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with SessionReader(window.session_path) as reader:
        steps, values = reader.scalar("train/loss")
    got = [(int(r["step"]), float(r["train/loss"])) for r in rows if r["train/loss"]]
    assert got == [(int(a), float(b)) for a, b in zip(steps, values)]
    # File > Export lists the views on show
    window.fill_export_menu()
    titles = [a.text() for a in window.export_menu.actions()]
    assert set(window.grid.titles()) <= set(titles) and "Session Scalars (CSV)…" in titles


def test_controls_look_like_what_they_are(window, qtbot):
    """Disabled buttons look disabled, number fields have their stepper arrows, the
    templates have pictures: checked in the pixels the window paints."""
    from PySide6.QtWidgets import QPushButton, QSpinBox

    def ink(widget) -> set:
        img = widget.grab().toImage()
        return {img.pixel(x, y) for x in range(img.width()) for y in range(img.height())}

    on, off = QPushButton("Pause"), QPushButton("Pause")
    off.setEnabled(False)
    for b in (on, off):
        b.resize(80, 28)
    assert QColor(LIGHT.text).rgb() in ink(on) or any(QColor(p).lightness() < 80 for p in ink(on))
    assert min(QColor(p).lightness() for p in ink(off)) > min(QColor(p).lightness() for p in ink(on)) + 30

    spin = QSpinBox()
    spin.resize(90, 28)
    spin.show()
    qtbot.wait(10)
    img = spin.grab().toImage()
    # the arrows: dark pixels in the right-hand 16 px, where the stepper buttons sit
    arrows = [img.pixel(x, y) for x in range(img.width() - 16, img.width()) for y in range(img.height())]
    assert sum(QColor(p).lightness() < 90 for p in arrows) >= 6

    window.workbench.left.show_tab("templates")
    window.templates.draw_all()
    icons = [window.templates.list.item(i).icon() for i in range(window.templates.list.count())]
    assert icons and all(not icon.isNull() for icon in icons)
    # a picture of the graph: more than the background colour in it
    picture = icons[0].pixmap(window.templates.list.iconSize()).toImage()
    assert len({picture.pixel(x, y) for x in range(picture.width()) for y in range(picture.height())}) > 2


def test_checkpoints_by_policy_and_on_request_are_marked_on_the_timeline(window, qtbot):
    window.open_template("playground_mlp")
    for name, value in {"steps": 100_000, "checkpoint_every": 100, "keep_checkpoints": 3}.items():
        edits.set_training(window.model, name, value)
    window.start_training()
    window.model.undo_stack.setClean()
    run = window.controller
    qtbot.waitUntil(lambda: run.last_progress.get("step", 0) >= 230, timeout=SPAWN + RUN)
    window.run_panel.pause_btn.click()
    qtbot.waitUntil(lambda: run.state == "paused", timeout=10_000)
    assert window.run_panel.checkpoint_btn.isEnabled()
    window.run_panel.checkpoint_btn.click()        # checkpoint now, at the paused step s
    window.run_panel.step_btn.click()              # one more batch: s + 1
    qtbot.wait(300)
    window.run_panel.stop_btn.click()              # the end of the run saves s + 1
    qtbot.waitUntil(lambda: run.state in ("stopped", "finished"), timeout=20_000)
    with SessionReader(window.session_path) as r:
        kept = r.checkpoint_steps()
        taken = sorted({e.step for e in r.events() if e.kind == "checkpoint"})
    s = taken[-2]
    assert taken[-1] == s + 1 and s >= 230
    assert [t for t in taken if t % 100 == 0 and t < s][:2] == [100, 200]  # the policy's, before the pause
    assert kept == taken[-3:]  # keep the last 3: older ones are gone from the file
    window.timeline_bar.refresh_marks()
    assert [m.step for m in window.timeline_bar.marks if m.kind == "checkpoint"] == kept


def test_the_run_strip_says_where_captures_run(window, qtbot):
    train(window, qtbot, "playground_mlp", 60)
    run = window.controller
    assert run.capture is not None  # the worker said where captures run
    mode, _ = run.capture
    assert window.run_panel.capture_label.text() == f"Captures {window.run_panel.CAPTURE_WORDS[mode]}"
    with SessionReader(window.session_path) as r:  # the session records the same
        recorded = [e.data["mode"] for e in r.events() if e.kind == "capture_mode"]
    assert recorded and recorded[-1] == mode
    # The strip's texts give way when the window narrows (they set its minimum width, 1008
    # pixels after a run, 1290 in presentation mode), the whole of each still there.
    panel = window.run_panel
    panel.on_capture_mode("process", "a spare CPU core is free")
    panel._show_note("Probes: statistics every 1000 steps, captures every 1000 steps.")
    assert panel.minimumSizeHint().width() < 900
    window.set_presentation(True)
    assert panel.minimumSizeHint().width() < 1150
    window.set_presentation(False)
    panel.resize(600, panel.height())
    assert panel.capture_label.text() == "Captures beside training (a helper process)"
    assert panel.capture_label.toolTip() == "a spare CPU core is free"
    assert panel.stats.text().endswith("CPU") and "samples/s" in panel.stats.text()


def test_a_long_state_message_never_widens_the_window_past_1280(window, qtbot):
    window.open_template("anbn_lstm")
    reason = "Cannot train yet: " + "a reason that goes on and on, " * 12
    window.run_panel.on_state("idle", reason, "")
    for workspace in ("build", "watch"):
        window.set_workspace(workspace)
        qtbot.wait(10)
        assert window.minimumSizeHint().width() <= 1280, workspace
    label = window.run_panel.state_label
    assert label.status == f"Idle — {reason}" and reason.strip() in label.toolTip()
    assert label.text().endswith("…") and len(label.text()) < len(reason)  # elided where it is shown


def test_the_style_sheet_parses_from_a_data_folder_with_spaces(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication, QSpinBox

    from visualizer.theme import THEMES, apply_theme
    monkeypatch.setenv("NEUROSTUDIO_DATA_DIR", str(tmp_path / "Application Support" / "<Neuro (studio)>"))
    messages = []
    previous = qInstallMessageHandler(lambda mode, ctx, msg: messages.append(msg))
    try:
        box = QSpinBox()
        qtbot.addWidget(box)
        box.show()
        for theme in THEMES.values():
            apply_theme(QApplication.instance(), theme)
            box.style().unpolish(box)
            box.style().polish(box)
            qtbot.wait(10)
    finally:
        qInstallMessageHandler(previous)
        apply_theme(QApplication.instance(), THEMES["light"])
    assert not [m for m in messages if "style" in m.lower()], messages
    assert list((tmp_path / "Application Support" / "<Neuro (studio)>" / "style").glob("arrow-up-*.svg"))
