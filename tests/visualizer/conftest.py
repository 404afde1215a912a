import gc

import pytest


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Preferences and recovery files go to a temporary folder, never the user's own."""
    monkeypatch.setenv("NEUROSTUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NEUROSTUDIO_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(autouse=True)
def gui_thread_collection(qapp):
    """As in the app (visualizer/heap.py): garbage is collected on the GUI thread only, and
    each test's leftovers are deleted and collected there when it ends."""
    from visualizer import heap
    heap.collect_on_gui_thread()
    yield
    from PySide6.QtWidgets import QDialog, QMainWindow

    from visualizer.main_window import MainWindow
    # Windows and dialogs a test left open (compare windows, pop-outs): alive, each made every
    # later window slower to build. Main windows are the tests' own to close; a parentless
    # widget may be a pane a main window holds back, so only whole windows go.
    for widget in qapp.topLevelWidgets():
        if isinstance(widget, (QMainWindow, QDialog)) and not isinstance(widget, MainWindow):
            widget.deleteLater()
    flush_deletes()
    gc.collect()


class ScriptedDialogs:
    """Answers the app's questions from a script; an unexpected question fails the test."""

    def __init__(self, **answers):
        self.answers = {k: list(v) for k, v in answers.items()}
        self.asked = []

    def _next(self, kind, text):
        self.asked.append((kind, text))
        queue = self.answers.get(kind)
        if not queue:
            raise AssertionError(f"unexpected {kind} dialog: {text}")
        return queue.pop(0)

    def error(self, parent, title, text):
        self.asked.append(("error", text))

    def confirm(self, parent, title, text):
        return self._next("confirm", text)

    def save_changes(self, parent, name):
        return self._next("save_changes", name)

    def open_path(self, parent, directory):
        return self._next("open_path", directory)

    def save_path(self, parent, suggested):
        return self._next("save_path", suggested)

    def export_path(self, parent, suggested, kind):
        return self._next("export_path", suggested)

    def data_path(self, parent, start_dir, folder):
        return self._next("data_path", (start_dir, folder))

    def text(self, parent, title, label, value):
        return self._next("text", value)

    def errors(self):
        return [t for k, t in self.asked if k == "error"]


@pytest.fixture
def dialogs():
    return ScriptedDialogs()


@pytest.fixture
def window(qtbot, dialogs):
    from visualizer.main_window import MainWindow

    w = MainWindow(dialogs=dialogs, restore_layout=False)
    w.show()
    yield w
    w.model.undo_stack.setClean()  # no close prompt at teardown
    w.close()
    w.deleteLater()
    flush_deletes()


def flush_deletes():
    """Delete what deleteLater marked now: processEvents leaves deferred deletes alone, and
    each window left alive (2,500 widgets) made every later window slower to build."""
    from PySide6.QtCore import QCoreApplication, QEvent
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
