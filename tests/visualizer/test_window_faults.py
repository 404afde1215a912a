"""The window under faults (issue: reliability): a worker stopped with SIGSTOP, a session
file deleted or replaced while it is open, a second window on a session another window is
still recording, a sessions folder that cannot be written. The window stays responsive and
says what happened; every step reported committed is in the file."""
from __future__ import annotations

import os
import shutil
import signal

from PySide6.QtCore import QTimer

from engine.session import SessionReader
from tests.visualizer.conftest import ScriptedDialogs
from visualizer.editor import edits

SPAWN = 60_000


def responsive(qtbot) -> None:
    ticks = []
    QTimer.singleShot(10, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: bool(ticks), timeout=2000)


def start(window, qtbot, steps: int, template="playground_mlp"):
    window.open_template(template)
    edits.set_training(window.model, "steps", steps)
    assert window.start_training() is not None
    window.model.undo_stack.setClean()
    run = window.controller
    reported = []
    run.committed.connect(reported.append)
    return run, reported


def test_a_stopped_worker_is_reported_and_stop_ends_it(window, qtbot):
    run, reported = start(window, qtbot, 100_000)
    qtbot.waitUntil(lambda: bool(run.state == "running" and reported), timeout=SPAWN)
    run.STALL_S = 1.5
    os.kill(run.handle.pid, signal.SIGSTOP)
    try:
        qtbot.waitUntil(lambda: "No word from the training process" in window.run_panel.state_label.status,
                        timeout=10_000)
        responsive(qtbot)
        os.kill(run.handle.pid, signal.SIGCONT)  # it goes on: the warning goes away
        qtbot.waitUntil(lambda: "No word" not in window.run_panel.state_label.status, timeout=10_000)
        os.kill(run.handle.pid, signal.SIGSTOP)
        qtbot.waitUntil(lambda: "No word" in window.run_panel.state_label.status, timeout=10_000)
        window.run_panel.stop_btn.click()  # a stopped process cannot read "stop": it is killed
        qtbot.waitUntil(lambda: run.state == "killed", timeout=10_000)
    finally:
        if run.handle.exit_code is None:
            os.kill(run.handle.pid, signal.SIGKILL)
    responsive(qtbot)
    with SessionReader(window.session_path) as reader:  # every step reported committed is there
        assert reader.last_step >= max(reported)
        steps, _ = reader.scalar("train/loss")
        assert steps[-1] >= max(reported)


def test_a_session_deleted_or_replaced_while_open_is_said_and_shown_as_read(window, qtbot, dialogs, tmp_path):
    run, _ = start(window, qtbot, 40)
    qtbot.waitUntil(lambda: run.state == "finished", timeout=SPAWN + 30_000)
    recorded = tmp_path / "kept.session"
    shutil.copy(window.session_path, recorded)
    other = tmp_path / "other.session"
    shutil.copy(window.session_path, other)
    assert window.open_session(str(recorded))
    window.timeline.seek(20)
    window.hub.render_now()
    recorded.unlink()
    qtbot.waitUntil(lambda: any("was deleted" in e for e in dialogs.errors()), timeout=5000)
    assert "was deleted" in window.statusBar().currentMessage()
    window.timeline.seek(10)  # the views go on showing what the open file holds
    window.hub.render_now()
    curves = window.views_by_title["Curves"]
    assert len(curves.curves["train/loss"].getData()[0]) == 40
    responsive(qtbot)
    # a file replaced under the same name
    assert window.open_session(str(other))
    shutil.copy(window.session_path, tmp_path / "swap.session")
    os.replace(tmp_path / "swap.session", other)
    qtbot.waitUntil(lambda: any("was replaced" in e for e in dialogs.errors()), timeout=5000)


def test_a_second_window_follows_a_session_another_window_records(window, qtbot):
    from visualizer.main_window import MainWindow
    run, reported = start(window, qtbot, 500)
    qtbot.waitUntil(lambda: bool(reported) and max(reported) > 0, timeout=SPAWN)
    second = MainWindow(dialogs=ScriptedDialogs(), restore_layout=False)
    second.show()
    try:
        assert second.open_session(str(window.session_path))
        assert second.session_mode == "replay" and second.read_only
        first_head = second.timeline.head
        qtbot.waitUntil(lambda: run.state == "finished", timeout=120_000)
        with SessionReader(window.session_path) as reader:
            last = reader.last_step
        qtbot.waitUntil(lambda: second.timeline.head == last, timeout=5000)  # it followed the file as it grew
        assert last >= first_head and last == 500
    finally:
        second.model.undo_stack.setClean()
        second.close()


def test_a_sessions_folder_that_cannot_be_written_is_one_sentence(window, dialogs, tmp_path, monkeypatch):
    data = tmp_path / "elsewhere"
    data.mkdir()
    (data / "sessions").write_text("a file where the sessions folder should be")
    monkeypatch.setenv("NEUROSTUDIO_DATA_DIR", str(data))
    window.open_template("playground_mlp")
    assert window.start_training() is None
    assert window.controller.handle is None
    [message] = dialogs.errors()
    assert message.startswith("Runs cannot be recorded in") and "sessions" in message
    window.workbench.left.show_tab("library")
    window.library.refresh()  # the library lists nothing instead of failing
