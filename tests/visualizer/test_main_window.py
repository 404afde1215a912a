"""Document safety and the window's panels: save/load, bad files, autosave recovery,
problems on the right node, clipboard, recent files, the screenshot command."""
import json
import os
import subprocess
import sys
from pathlib import Path


from engine.graph.document import load_graph
from engine.templates import load_template
from visualizer import settings_store
from visualizer.autosave import pending_recoveries, recovery_dir
from visualizer.editor import edits

ROOT = Path(__file__).resolve().parents[2]


def test_opens_with_the_default_template_ready_to_train(window):
    window.open_default()
    template = load_template("playground_mlp")
    assert [(n.id, n.params) for n in window.model.doc.nodes] == [(n.id, n.params) for n in template.nodes]
    assert window.model.doc.edges == template.edges and window.model.doc.dataset == template.dataset
    assert window.model.flush_analysis().ok
    assert window.actions["train"].isEnabled()
    assert not window.isWindowModified()
    k = template.node("logits").params["units"]
    expected = (2 * 16 + 16) + (16 * 16 + 16) + (16 * k + k)  # weights and biases, 2 -> 16 -> 16 -> k
    assert window.totals.text().startswith(f"7 nodes  ·  {expected:,} params")


def test_save_and_reopen_round_trip(window, dialogs, tmp_path):
    window.open_default()
    fc1 = "fc1"
    edits.set_param(window.model, fc1, "units", 24)
    assert window.isWindowModified() and "[*]" in window.windowTitle()
    target = tmp_path / "mine.json"
    dialogs.answers["save_path"] = [str(target)]
    assert window.save()
    assert not window.isWindowModified()
    saved = load_graph(target)
    assert saved == window.model.doc
    assert saved.node(fc1).params["units"] == 24
    assert settings_store.recent_files()[0] == str(target.resolve())
    # reopen into a fresh document
    window.new_document()
    assert window.model.doc.nodes == []
    assert window.open_file(str(target))
    assert window.model.doc == saved
    assert window.path == str(target.resolve())
    assert window.windowTitle().startswith("mine.json")


def test_a_malformed_file_leaves_the_document_untouched(window, dialogs, tmp_path):
    window.open_default()
    edits.set_param(window.model, "fc1", "units", 5)
    before = window.model.doc.to_dict()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "neurostudio.graph", "version": 1,
                               "nodes": [{"id": "a", "type": "Dense", "params": {"units": -3}}]}))
    assert not window.open_file(str(bad))
    assert dialogs.errors() == ["Node 'a' (Dense): param 'units' must be at least 1, got -3."]
    assert window.model.doc.to_dict() == before
    assert window.model.undo_stack.canUndo()  # history kept too
    (tmp_path / "broken.json").write_text("{ nope")
    assert not window.open_file(str(tmp_path / "broken.json"))
    assert "is not valid JSON" in dialogs.errors()[-1]
    assert window.model.doc.to_dict() == before


def test_validation_message_on_the_right_node_and_problems_click(window, qtbot):
    window.open_default()
    conv = edits.add_node(window.model, "Conv2d", (200, 400))
    # re-route fc1 -> act1 through the Conv2d, which cannot take (N, 16)
    edits.delete(window.model, [], [e for e in window.model.doc.edges if e.dst == "act1"])
    edits.connect(window.model, "fc1", "out", conv, "in")
    edits.connect(window.model, conv, "out", "act1", "in")
    analysis = window.model.flush_analysis()
    expected = "Conv2d 'conv1' expects (N, C, H, W); got (N, 16) from Dense 'fc1'."
    assert [str(p) for p in analysis.problems] == [expected]
    items = window.scene.node_items
    assert items[conv].problem == expected and expected in items[conv].toolTip()
    assert all(it.problem is None for nid, it in items.items() if nid != conv)
    train = window.actions["train"]
    assert not train.isEnabled() and expected in train.toolTip()
    assert window.problems.item(0).text() == expected
    window.problems.itemClicked.emit(window.problems.item(0))
    assert window.scene.selected_node_ids() == [conv]
    assert window.inspector.node_id == conv
    assert window.inspector.problem.text() == expected
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(items[conv].sceneBoundingRect().center())
    for _ in range(4):
        window.model.undo_stack.undo()
    assert window.model.flush_analysis().ok
    assert conv not in items and all(it.problem is None for it in items.values())
    assert window.problems.item(0).text() == "No problems: the graph is ready to train."
    assert window.actions["train"].isEnabled()


def test_inspector_form_edits_params_with_validation(window):
    window.open_default()
    window.scene.select_nodes(["fc1"])
    field = window.inspector.fields["units"]
    field.widget.setValue(40)
    assert window.model.doc.node("fc1").params["units"] == 40
    window.model.flush_analysis()
    assert "(N, 40)" in window.inspector.facts.text()
    window.model.undo_stack.undo()
    assert field.widget.value() == 16  # the form follows the model
    window.scene.select_nodes(["x"])
    shape = window.inspector.fields["shape"]
    shape.widget.setText("3, 0")
    shape.widget.editingFinished.emit()
    assert window.model.doc.node("x").params["shape"] == [2]   # rejected, not committed
    assert shape.widget.property("invalid") and "at least 1" in shape.widget.toolTip()


def test_clipboard_duplicate_delete(window):
    window.open_default()
    n0 = len(window.model.doc.nodes)
    window.scene.select_nodes(["fc1", "act1"])
    window.copy()
    new = window.paste()
    assert len(new) == 2 and window.scene.selected_node_ids() == new
    doc = window.model.doc
    assert [(e.src, e.dst) for e in doc.edges if e.src in new] == [(new[0], new[1])]
    assert doc.node(new[0]).params == {"units": 16}
    assert doc.node(new[0]).pos == (doc.node("fc1").pos[0] + 32, doc.node("fc1").pos[1] + 32)
    dup = window.duplicate()
    assert len(dup) == 2 and len(doc.nodes) == n0 + 4
    window.delete_selection()
    assert len(doc.nodes) == n0 + 2
    window.scene.select_nodes(new)
    window.cut()
    assert len(doc.nodes) == n0
    assert len(window.paste()) == 2
    for _ in range(5):
        window.model.undo_stack.undo()
    assert len(doc.nodes) == n0 and window.model.undo_stack.index() == 0


def test_autosave_and_recovery_after_a_crash(qtbot, tmp_path):
    from tests.visualizer.conftest import ScriptedDialogs
    from visualizer.main_window import MainWindow

    first = MainWindow(dialogs=ScriptedDialogs(), restore_layout=False)
    first.open_default()
    edits.set_param(first.model, "fc2", "units", 7)
    assert first.autosaver.save_now()
    edited = first.model.doc.to_dict()
    # "crash": the file stays, under the id of a process that is no longer running
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    first.autosaver.file.rename(recovery_dir() / f"{dead.pid}.json")
    first.model.undo_stack.setClean()
    first.close()
    assert len(pending_recoveries()) == 1

    dialogs = ScriptedDialogs(confirm=[True])
    second = MainWindow(dialogs=dialogs, restore_layout=False)
    assert second.offer_recovery()
    assert "did not close properly" in dialogs.asked[0][1]
    assert second.model.doc.to_dict() == edited
    assert second.isWindowModified()
    assert pending_recoveries() == []
    # closing asks about the recovered, unsaved work
    dialogs.answers["save_changes"] = ["cancel", "discard"]
    assert not second.close()
    assert second.close()
    assert list(recovery_dir().glob("*.json")) == []


def test_each_workspace_layout_and_the_theme_are_remembered_exactly(qtbot, dialogs):
    from visualizer.main_window import MainWindow

    w = MainWindow(dialogs=dialogs, restore_layout=False)
    w.show()
    w.resize(1280, 720)
    qtbot.wait(50)
    w.open_template("anbn_lstm")
    w.set_theme("dark")
    w.set_part_visible("problems", False)
    wb = w.workbench
    wb.split.setSizes([330, 620, 0, 320])
    build = wb.split.sizes()
    w.set_workspace("watch")
    assert not wb.left.isVisible() and wb.grid.isVisible() and w.run_panel.isVisible()
    w.set_grid_shape(2, 3)
    pane = w.grid.panes[0]
    pane.view_chosen.emit(pane, "Predictions")  # the user's choice for this kind of graph
    watch_titles = w.grid.titles()
    wb.split.setSizes([0, 400, 870, 0])
    watch = wb.split.sizes()
    w.set_workspace("build")
    assert wb.split.sizes() == build and not w.problems_box.isVisible()
    w.set_workspace("watch")
    assert wb.split.sizes() == watch and w.grid.titles() == watch_titles and w.grid.shape == (2, 3)
    w.model.undo_stack.setClean()
    assert w.close()
    assert settings_store.theme_name() == "dark"

    w2 = MainWindow(dialogs=dialogs)
    w2.resize(1280, 720)  # the offscreen screen is 800 x 600: restoreGeometry clamped the size to it
    w2.show()
    qtbot.wait(50)
    assert w2.theme.name == "dark" and w2.state.workspace == "watch"
    w2.open_template("anbn_lstm")
    # to the pixel, but for the width of the one splitter handle Qt shows or hides lazily
    assert all(abs(a - b) <= 3 for a, b in zip(w2.workbench.split.sizes(), watch)), (w2.workbench.split.sizes(), watch)
    assert w2.grid.shape == (2, 3) and w2.grid.titles() == watch_titles
    w2.set_workspace("build")
    assert all(abs(a - b) <= 3 for a, b in zip(w2.workbench.split.sizes(), build)), (w2.workbench.split.sizes(), build)
    assert not w2.problems_box.isVisible()
    w2.set_theme("light")
    w2.close()
    assert Path(os.environ["NEUROSTUDIO_CONFIG_DIR"], "neurostudio.ini").is_file()


def test_screenshot_command_writes_a_png(tmp_path):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "visualizer", "--screenshot", str(out), "--size", "1000x700",
                           str(ROOT / "assets/templates/lenet.json")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 700)
