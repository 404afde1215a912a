"""The sessions library: runs in the sessions folder (and opened ones) with their graph,
dataset, final metrics, duration, size and notes; rename and notes written into the
session's meta; delete to the trash with undo; double-click opens the run. Also the fork
from the window: a live child run that starts from the parent's checkpoint."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.session import SessionError, SessionReader, SessionWriter
from engine.session.notes import set_meta_value, set_notes, set_title
from tests.visualizer.test_replay import record
from visualizer.library.catalog import summarize
from visualizer.library.panel import COLUMNS
from visualizer.run.controller import sessions_dir

SPIRAL = {"name": "spiral", "params": {"samples": 300}}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return record(tmp_path_factory.mktemp("library") / "mlp.session", "playground_mlp", SPIRAL, steps=8)


def cell(panel, row, column):
    return panel.table.item(row, COLUMNS.index(column)).text()


def test_library_lists_runs_with_metrics_and_opens_on_double_click(window, recorded, tmp_path):
    own = sessions_dir() / "spiral-run.session"
    shutil.copy(recorded, own)
    broken = sessions_dir() / "broken.session"
    broken.write_text("garbage")
    panel = window.library
    panel.refresh()
    assert panel.table.rowCount() == 2
    row = panel.row_of(own)
    with SessionReader(own) as r:
        loss = r.scalar("train/loss")[1][-1]
        best = r.scalar("val/accuracy")[1].max()
        events = r.events()
        assert cell(panel, row, "Steps") == str(r.last_step) == "8"
        graph_name = r.graph["name"]
    assert cell(panel, row, "Graph") == graph_name and graph_name
    assert cell(panel, row, "Dataset") == "spiral"
    assert cell(panel, row, "Train loss") == f"{loss:.4g}"
    assert cell(panel, row, "Best val acc") == f"{100 * best:.1f} %"
    assert cell(panel, row, "Status") == "finished"
    s = summarize(own)
    assert s.duration_s >= events[-1].wall - events[0].wall > 0
    assert s.size_bytes == own.stat().st_size
    bad = panel.row_of(broken)
    assert cell(panel, bad, "Status") == "unreadable" and "is not a Neurostudio session" in cell(panel, bad, "Notes")

    panel.table.cellDoubleClicked.emit(row, 0)
    assert window.session_mode == "replay" and window.session_path.resolve() == own.resolve()


def test_rename_notes_and_delete_with_undo(window, recorded):
    path = sessions_dir() / "run.session"
    shutil.copy(recorded, path)
    panel = window.library
    panel.refresh()
    before = panel.summaries[panel.row_of(path)]
    panel.refresh()  # an unchanged file is not read again
    assert panel.summaries[panel.row_of(path)] is before
    panel.rename(path, "ReLU vs tanh")
    panel.set_notes(path, "lr 0.01; converges by step 6")
    with SessionReader(path) as r:
        assert r.meta["title"] == "ReLU vs tanh" and r.meta["notes"] == "lr 0.01; converges by step 6"
    row = panel.row_of(path)
    assert cell(panel, row, "Run") == "ReLU vs tanh" and cell(panel, row, "Notes").startswith("lr 0.01")
    panel.undo_stack.undo()  # the notes
    with SessionReader(path) as r:
        assert "notes" not in r.meta and r.meta["title"] == "ReLU vs tanh"

    panel.delete(path)
    assert not path.exists() and panel.row_of(path) == -1
    trashed = list((sessions_dir() / ".trash").glob("*run.session"))
    assert len(trashed) == 1
    panel.undo_stack.undo()
    assert path.exists() and panel.row_of(path) >= 0
    with SessionReader(path) as r:
        assert r.meta["title"] == "ReLU vs tanh"
    panel.undo_stack.redo()
    assert not path.exists()
    panel.undo_stack.undo()

    # The run being replayed cannot be deleted from under the window.
    assert window.open_session(str(path))
    panel.delete(path)
    assert path.exists() and "is open" in panel.message.text()


def test_notes_api_refuses_reserved_keys_and_strangers(recorded, tmp_path):
    path = tmp_path / "n.session"
    shutil.copy(recorded, path)
    set_title(path, "  A title ")
    set_notes(path, "some notes")
    with SessionReader(path) as r:
        assert r.meta["title"] == "A title" and r.meta["notes"] == "some notes"
        last = r.last_step
    with pytest.raises(SessionError, match="reserved"):
        set_meta_value(path, "last_step", 3)
    other = tmp_path / "other.session"
    other.write_text("x")
    with pytest.raises(SessionError, match="is not a Neurostudio session"):
        set_notes(other, "x")
    # While a writer appends, notes still go in and the run's records are intact.
    live = tmp_path / "live.session"
    w = SessionWriter(live, {}, {})
    w.scalar("train/loss", 1, 0.5)
    w.commit()
    set_notes(live, "written while recording")
    w.scalar("train/loss", 2, 0.25)
    w.close()
    with SessionReader(live) as r:
        assert r.meta["notes"] == "written while recording" and r.last_step == 2
    with SessionReader(path) as r:
        assert r.last_step == last


class ForkAnswers:
    def __init__(self, edits):
        self.edits, self.asked = edits, []

    def __call__(self, parent, name, step, settings, last_step):
        self.asked.append((name, step))
        return self.edits


def test_fork_from_here_starts_a_live_run_from_the_checkpoint(window, dialogs, recorded, qtbot):
    assert window.open_session(str(recorded))
    window.timeline.seek(6)
    dialogs.fork_settings = ForkAnswers({"clip_norm": 1.0, "steps": 10})
    window.actions["fork"].trigger()
    qtbot.waitUntil(lambda: window.controller.state in ("finished", "failed"), timeout=60_000)
    assert window.controller.state == "finished", window.controller.message
    assert dialogs.fork_settings.asked == [("mlp", 4)]  # the checkpoint at or before step 6
    child = window.controller.session_path
    assert window.session_mode == "live" and child.parent == sessions_dir()
    with SessionReader(child) as r, SessionReader(recorded) as p:
        assert r.parent == {"path": str(recorded.resolve()), "step": 4}
        assert r.settings["clip_norm"] == 1.0 and r.last_step == 10
        w_child, _ = r.checkpoint(4)
        w_parent, _ = p.checkpoint(4)
        for name, arr in w_parent.items():
            np.testing.assert_array_equal(w_child[name], arr)
    window.library.refresh()  # the library shows the child
    assert window.library.row_of(child) >= 0


def test_compare_the_runs_selected_in_the_library(window, recorded, qtbot):
    a, b = sessions_dir() / "a.session", sessions_dir() / "b.session"
    shutil.copy(recorded, a)
    shutil.copy(recorded, b)
    panel = window.library
    panel.refresh()
    from PySide6.QtCore import QItemSelectionModel
    for path in (a, b):
        panel.table.selectionModel().select(panel.table.model().index(panel.row_of(path), 0),
                                            QItemSelectionModel.Select | QItemSelectionModel.Rows)
    assert sorted(panel.selected_paths()) == sorted([str(a), str(b)])
    panel.buttons["compare"].click()
    [cw] = window.compare_windows
    qtbot.addWidget(cw)
    assert sorted(str(r.path) for r in cw.readers) == sorted([str(a), str(b)])
    cw.close()
    # one selected while another is replayed: the two are compared
    assert window.open_session(str(a))
    panel.table.clearSelection()
    panel.table.selectRow(panel.row_of(b))
    panel.buttons["compare"].click()
    cw = window.compare_windows[-1]
    qtbot.addWidget(cw)
    assert [str(r.path) for r in cw.readers] == [str(a), str(b)]
    cw.close()
