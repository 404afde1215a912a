"""The data dialog, driven as a user would: a real IDX pair, CSV, text file and image folder
written in the test's folder are chosen (the file dialog answered by ScriptedDialogs), read
in the dialog's worker thread and previewed (compared with the files), the graph is fitted
(the check's fixes, one undo step that undo restores exactly), and the fitted graph trains a
few steps in a real worker from the window. A graph saved beside its data names it by a
relative path, and trains when opened from another working directory."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.data.preview import preview_file
from engine.session import SessionReader
from engine.worker import TERMINAL
from visualizer.editor import edits
from visualizer.panels import data_dialog
from visualizer.panels.data_dialog import DataDialog

from ..user_files import csv_table, idx_pair, image_folder, text_file

READ_MS = 30_000     # reading a file in the dialog's thread on a busy machine
RUN_MS = 90_000      # a worker spawn imports torch on a busy 2-core machine


def dialog(window) -> DataDialog:
    [dlg] = [d for d in window.findChildren(DataDialog) if d.isVisible()]
    return dlg


def wait_read(qtbot, dlg) -> None:
    qtbot.waitUntil(lambda: not dlg.reading() and (dlg.preview is not None or dlg.error is not None),
                    timeout=READ_MS)


def choose(qtbot, window, dialogs, path, folder=False, from_panel=False) -> DataDialog:
    """Open the data dialog (File > Open Data…, or the panel's button) and choose ``path``."""
    dialogs.answers["data_path"] = [str(path)]
    if from_panel:
        window.settings_panel.choose_data.click()
    else:
        window.actions["open_data"].trigger()
    dlg = dialog(window)
    qtbot.mouseClick(dlg.folder_btn if folder else dlg.file_btn, Qt.LeftButton)
    assert dialogs.asked[-1][0] == "data_path" and dialogs.asked[-1][1][1] is folder
    wait_read(qtbot, dlg)
    assert dlg.error is None, dlg.error
    return dlg


def accept_as_one_undo_step(window, dlg) -> dict:
    """Click "Use These Data"; return the document as it was before."""
    before = window.model.doc.to_dict()
    count = window.model.undo_stack.count()
    assert dlg.ok.isEnabled()
    dlg.ok.click()
    assert window.model.undo_stack.count() == count + 1
    return before


def undo_restores_exactly(window, before: dict) -> None:
    fitted = window.model.doc.to_dict()
    window.model.undo_stack.undo()
    assert window.model.doc.to_dict() == before
    window.model.undo_stack.redo()
    assert window.model.doc.to_dict() == fitted


def train_a_few_steps(qtbot, window, steps=5) -> SessionReader:
    edits.set_training(window.model, "steps", steps)
    assert window.model.flush_analysis().ok, window.model.analysis.problems
    path = window.start_training()
    assert path is not None, window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.controller.state in TERMINAL, timeout=RUN_MS)
    assert window.controller.state == "finished", window.run_panel.state_label.status
    reader = SessionReader(path)
    assert reader.scalar("train/loss")[0][-1] == steps
    return reader


def plain(label) -> str:
    """A rich-text label's text as the user reads it."""
    from PySide6.QtGui import QTextDocument
    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText()


def table(widget) -> list[list[str]]:
    return [[widget.item(r, c).text() for c in range(widget.columnCount())] for r in range(widget.rowCount())]


def test_an_idx_pair(qtbot, window, dialogs, tmp_path, monkeypatch):
    images, labels, x, y = idx_pair(tmp_path / "mnist", n=120, classes=4)
    window.open_template("lenet")
    threads = []

    def read_and_note_the_thread(*args):  # the real read, noting where it ran
        threads.append(threading.current_thread())
        return preview_file(*args)
    monkeypatch.setattr(data_dialog, "preview_file", read_and_note_the_thread)
    dlg = choose(qtbot, window, dialogs, labels)  # either half of the pair finds the other
    assert threads and all(t is not threading.main_thread() for t in threads)  # the window is never held
    assert (dlg.path, dlg.labels) == (images.absolute(), labels.absolute())
    assert "not been saved yet, so the path is kept absolute" in dlg.where.text()
    f = dlg.findings
    assert f.summary.text() == "120 samples of (1, 28, 28) float; 4 classes; 96 to train on, 24 to validate."
    assert table(f.classes) == [[str(c), f"{n}", f"{100 * n / 120:.1f} %"] for c, n in enumerate(np.bincount(y))]
    assert f.thumbnail_count() == 24  # 6 per class
    assert "Dense 'logits': units 8 → 4" in plain(dlg.fit_list)
    dlg.val.setValue(25)  # the split is a training setting, set in the same step
    assert f.summary.text().endswith("90 to train on, 30 to validate.")
    before = accept_as_one_undo_step(window, dlg)
    doc = window.model.doc
    assert doc.dataset == {"path": str(images.resolve()), "labels": str(labels.resolve())}
    assert doc.node("logits").params["units"] == 4 and doc.training["val_fraction"] == 0.25
    assert window.model.flush_analysis().ok
    assert images.parent.resolve() in window.model.data_access.allowed
    undo_restores_exactly(window, before)
    reader = train_a_few_steps(qtbot, window)
    info = reader.dataset_info
    assert info["input_shape"] == [1, 28, 28] and info["class_names"] == ["0", "1", "2", "3"]


def test_a_csv_with_its_label_column(qtbot, window, dialogs, tmp_path):
    path, x, species = csv_table(tmp_path / "iris.csv", n=80)
    window.open_template("playground_mlp")
    dlg = choose(qtbot, window, dialogs, path, from_panel=True)
    assert dlg.label_column.currentText() == "species"  # the one column of text
    f = dlg.findings
    assert f.summary.text() == "80 samples of (4,) float; 3 classes; 64 to train on, 16 to validate."
    assert table(f.classes) == [[n, str(species.count(n)), f"{100 * species.count(n) / 80:.1f} %"]
                                for n in ("setosa", "versicolor", "virginica")]
    header = [f.rows.horizontalHeaderItem(c).text() for c in range(f.rows.columnCount())]
    assert header == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    assert [float(v) for v in table(f.rows)[0][:4]] == pytest.approx(list(x[0]), abs=1e-3)
    assert table(f.rows)[0][4] == species[0]
    # the wrong label column: the file's problem as one sentence, and nothing to accept
    dlg.label_column.setCurrentIndex(4)
    dlg.label_column.activated.emit(4)
    wait_read(qtbot, dlg)
    assert dlg.problem.text().endswith("row 2, column 'species': 'setosa' is not a number.")
    assert "\n" not in dlg.problem.text() and not dlg.ok.isEnabled()
    dlg.label_column.setCurrentIndex(0)
    dlg.label_column.activated.emit(0)
    wait_read(qtbot, dlg)
    # standardising off and on again: shown at once, no second read
    dlg.normalise.setChecked(False)
    assert dlg.reference()["normalise"] is False and "standardised" not in f.details.text()
    dlg.normalise.setChecked(True)
    assert "normalise" not in dlg.reference() and "standardised" in f.details.text()
    assert "Input 'x': shape (N, 2) → (N, 4)" in plain(dlg.fit_list)
    before = accept_as_one_undo_step(window, dlg)
    doc = window.model.doc
    assert doc.dataset == {"path": str(path.resolve()), "label_column": "species"}
    assert doc.node("x").params["shape"] == [4] and doc.node("logits").params["units"] == 3
    undo_restores_exactly(window, before)
    train_a_few_steps(qtbot, window)


WIDE = "The quick brown fox jumps over the lazy dog. PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS!\n" * 8


def test_a_text_whose_symbols_outgrow_the_embedding(qtbot, window, dialogs, tmp_path):
    path = text_file(tmp_path / "pangrams.txt", WIDE)
    symbols = sorted(set(WIDE))
    window.open_template("char_lstm")
    dlg = choose(qtbot, window, dialogs, path)
    assert dlg.seq_len.value() == 32  # the graph's own sequence length
    f = dlg.findings
    n = len(symbols)
    assert f.summary.text().startswith(f"{(len(WIDE) - 32 + 31) // 32} samples of (32,) token ids; {n} characters")
    assert f.classes_title.text().startswith(f"Vocabulary: {n} characters")
    assert f.lines.toPlainText().splitlines()[0] == WIDE[:32].replace(" ", "␣").replace("\n", "⏎")
    # without fitting: the too-small Embedding is a sentence before training, and Train waits
    dlg.fit.setChecked(False)
    dlg.ok.click()
    problems = {p.node: str(p) for p in window.model.flush_analysis().problems}
    assert problems["embed"] == (f"Embedding 'embed' holds 34 token ids, but Dataset 'pangrams.txt' uses {n} "
                                 f"symbols (ids 0..{n - 1}).")
    assert window.start_training() is None and window.controller.handle is None
    # the dialog opens on the document's file; another sequence length, and fitting fixes all three
    window.actions["open_data"].trigger()
    dlg = dialog(window)
    wait_read(qtbot, dlg)
    assert dlg.path == path.absolute() and dlg.preview.info.input_shape == (32,)
    dlg.seq_len.setValue(24)
    wait_read(qtbot, dlg)
    assert dlg.findings.summary.text().startswith(f"{(len(WIDE) - 24 + 23) // 24} samples of (24,) token ids")
    text = plain(dlg.fit_list)
    for change in ("Input 'x': shape (N, 32) → (N, 24)", f"Embedding 'embed': vocab 34 → {n}",
                   f"Dense 'logits': units 34 → {n}"):
        assert change in text
    before = accept_as_one_undo_step(window, dlg)
    doc = window.model.doc
    assert (doc.node("x").params["shape"], doc.node("embed").params["vocab"], doc.node("logits").params["units"]) \
        == ([24], n, n)
    undo_restores_exactly(window, before)
    reader = train_a_few_steps(qtbot, window)
    assert reader.dataset_info["class_names"] == symbols


def test_an_image_folder_beside_a_saved_graph_trains_from_another_directory(qtbot, window, dialogs, tmp_path,
                                                                           monkeypatch):
    project = tmp_path / "project"
    folder, counts = image_folder(project / "pics", per_class=30, size=16)
    window.open_template("lenet")
    dialogs.answers["save_path"] = [str(project / "lenet_pics.json")]
    assert window.save_as()
    dlg = choose(qtbot, window, dialogs, folder, folder=True)
    assert "Stored as “pics”, relative to the graph's folder" in dlg.where.text()
    f = dlg.findings
    assert f.summary.text() == "60 samples of (1, 16, 16) float; 2 classes; 48 to train on, 12 to validate."
    assert table(f.classes) == [["bars", "30", "50.0 %"], ["dots", "30", "50.0 %"]]
    assert f.thumbnail_count() == 24
    before = accept_as_one_undo_step(window, dlg)
    doc = window.model.doc
    assert doc.dataset == {"path": "pics"}
    assert doc.node("x").params["shape"] == [1, 16, 16] and doc.node("logits").params["units"] == 2
    assert window.model.data_access.allowed == ()  # inside the graph's folder: nothing more to allow
    undo_restores_exactly(window, before)
    assert window.save()
    # a fresh window, from another working directory: the relative path is the graph's folder's
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    from visualizer.main_window import MainWindow

    from .conftest import ScriptedDialogs
    other = MainWindow(dialogs=ScriptedDialogs(), restore_layout=False)
    try:
        other.show()
        assert other.open_file(str(project / "lenet_pics.json"))
        assert other.model.doc.dataset == {"path": "pics"} and other.model.flush_analysis().ok
        reader = train_a_few_steps(qtbot, other)
        assert reader.dataset_info["class_names"] == ["bars", "dots"]
    finally:
        other.shutdown_run()
        other.model.undo_stack.setClean()
        other.close()
        other.deleteLater()


def test_the_dialog_fits_a_screen_smaller_than_it_would_like(qtbot, window, dialogs, tmp_path):
    """Its buttons stay on the screen: it opened at 1040 x 700 whatever the screen."""
    free = window.screen().availableGeometry()
    assert free.width() < 1040  # the offscreen screen (800 x 800)
    path = tmp_path / "two.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    dlg = choose(qtbot, window, dialogs, path)
    assert dlg.width() <= free.width() and dlg.height() <= free.height()
    dlg.reject()
