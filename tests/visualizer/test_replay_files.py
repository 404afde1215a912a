"""Opening sessions through every route (File > Open, drag and drop, recent files, the
command line), bad files (foreign, truncated, corrupt, empty) that give one sentence and
leave the document alone, and a file left by a writer killed mid-run, which opens up to its
last commit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from visualizer import settings_store
from tests.visualizer.test_replay import ROOT, open_replay, record, seek, view_key_of


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay-files")
    return {"lstm": record(folder / "lstm.session", "anbn_lstm", steps=4),
            "mlp": record(folder / "mlp.session", "playground_mlp",
                          {"name": "spiral", "params": {"samples": 300}}, steps=4)}


# -- the routes in --------------------------------------------------------------------------------
def test_file_open_drop_and_recent_files(window, dialogs, runs, qtbot):
    dialogs.answers["open_path"] = [str(runs["mlp"])]
    assert window.open_dialog()
    assert window.session_path == runs["mlp"] and window.session_mode == "replay"

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(runs["lstm"]))])
    target = window.view.viewport()
    # Qt delivers a drop to the widget that accepted the drag's enter event
    enter = QDragEnterEvent(QPoint(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: window.session_path == runs["lstm"], timeout=3000)
    assert window.model.doc.has_node("lstm") and window.read_only

    assert str(runs["mlp"]) in settings_store.recent_files()
    window.fill_recent_menu()
    action = next(a for a in window.recent_menu.actions() if a.toolTip() == str(runs["mlp"]))
    action.trigger()
    assert window.session_path == runs["mlp"]
    assert dialogs.errors() == []


def test_command_line_opens_a_session(runs, tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "visualizer", str(runs["lstm"]), "--screenshot", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000


# -- bad files --------------------------------------------------------------------------------------
def damaged_copies(src: Path, folder: Path) -> dict[str, Path]:
    data = src.read_bytes()
    out = {}
    out["foreign"] = folder / "foreign.session"
    out["foreign"].write_text("step,loss\n1,0.5\n")
    out["truncated"] = folder / "truncated.session"
    out["truncated"].write_bytes(data[: len(data) // 3])
    corrupt = bytearray(data)
    rng = np.random.default_rng(0)
    corrupt[100:16384 * 3] = rng.integers(0, 256, 16384 * 3 - 100, dtype=np.uint8).tobytes()
    out["corrupt"] = folder / "corrupt.session"
    out["corrupt"].write_bytes(bytes(corrupt))
    out["empty"] = folder / "empty.session"
    out["empty"].write_bytes(b"")
    return out


def test_bad_files_give_one_sentence_and_leave_the_replay_alone(window, dialogs, runs, tmp_path):
    reader = open_replay(window, runs["lstm"])
    seek(window, 3)
    for kind, path in damaged_copies(runs["lstm"], tmp_path).items():
        assert not window.open_file(str(path)), kind
        text = dialogs.errors()[-1]
        assert str(path) in text and "\n" not in text and text.endswith("."), (kind, text)
        assert window.reader is reader and window.session_path == runs["lstm"]
        assert window.timeline.step == 3 and window.model.doc.has_node("lstm")
    assert len(dialogs.errors()) == 4


def test_bad_file_leaves_an_edited_graph_alone(window, dialogs, tmp_path):
    before = window.model.doc.to_dict()
    path = tmp_path / "x.session"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    assert not window.open_file(str(path))
    assert window.model.doc.to_dict() == before and window.session_mode is None
    assert len(dialogs.errors()) == 1


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from engine.session import SessionWriter
    from engine.templates import load_template
    w = SessionWriter(sys.argv[1], load_template("playground_mlp").to_dict(), {})
    for step in range(1, 41):
        w.scalar("train/loss", step, 1.0 / step)
        w.tensor("act_hist/h1", step, np.arange(12, dtype=np.float32) + step)
        if step % 10 == 0:
            w.commit()
    print("committed", flush=True)
    for step in range(41, 60):   # never committed: the kill comes first
        w.scalar("train/loss", step, 9.0)
    time.sleep(60)
""")


def test_a_file_left_by_a_killed_run_opens_up_to_its_last_commit(window, dialogs, tmp_path):
    path = tmp_path / "killed.session"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "committed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    reader = open_replay(window, path)
    assert dialogs.errors() == []
    assert reader.last_step == 40 and window.timeline.head == 40
    steps, values = reader.scalar("train/loss")
    assert steps.tolist() == list(range(1, 41)) and values[-1] == pytest.approx(1 / 40)
    curves = window.views[view_key_of("Curves")]
    window.hub.render_now()
    assert curves.curves["train/loss"].xData[-1] == 40
