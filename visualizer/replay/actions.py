"""The main window's replay extras, installed by one call: drag and drop of files, File >
Compare sessions…, the Sessions library dock, and Run > Fork from here…"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction

from engine.graph.settings import inherited_settings
from engine.session import SessionError

from .. import settings_store
from ..library.panel import LibraryPanel
from ..run.controller import sessions_dir
from .compare import CompareWindow
from .drop import install_file_drops
from .session_open import run_label


def install_replay_ui(window) -> None:
    window.file_drops = install_file_drops(window)
    window.compare_windows = []
    compare = QAction("Co&mpare Sessions…", window)
    compare.setStatusTip("Open two or more recorded runs side by side (with the one being replayed)")
    compare.triggered.connect(lambda *_: compare_dialog(window))
    window.file_menu.insertAction(window.recent_menu.menuAction(), compare)
    fork = QAction("&Fork from Here…", window)
    fork.setStatusTip("Start a new run from the recorded checkpoint at or before the shown step")
    fork.triggered.connect(lambda *_: fork_from_here(window))
    window.run_menu.addAction(fork)
    window.actions["compare"], window.actions["fork"] = compare, fork

    window.library = LibraryPanel(sessions_dir, lambda: _opened_sessions(window),
                                  lambda p: _is_busy(window, p))
    window.library.open_requested.connect(window.open_file)
    window.library.compare_requested.connect(lambda paths: compare_selected(window, paths))


def _opened_sessions(window) -> list[str]:
    return [f for f in settings_store.recent_files() if f.endswith(".session")]


def _is_busy(window, path) -> bool:
    """A run of this window records into ``path``, or it is the session on show."""
    target = Path(path).resolve()
    return any(Path(b.session_path).resolve() == target and (b is window.state.binding or
                                                             (b.run is not None and b.run.running))
               for b in [*window.state.runs.values(), *filter(None, [window.state.binding])])


# -- compare ----------------------------------------------------------------------------------
def compare_dialog(window):
    """Ask for sessions (the replayed one is included) and compare them."""
    paths = window.dialogs.open_paths(window, str(sessions_dir()))
    if not paths:
        return None
    if window.session_mode == "replay" and window.session_path is not None:
        paths = [str(window.session_path)] + [p for p in paths if Path(p) != Path(window.session_path)]
    return open_compare(window, paths)


def compare_selected(window, paths) -> CompareWindow | None:
    """The library's Compare: the selected runs, with the replayed one when one is selected."""
    if len(paths) == 1 and window.session_mode == "replay" and window.session_path is not None \
            and Path(paths[0]).resolve() != Path(window.session_path).resolve():
        paths = [str(window.session_path), *paths]
    return open_compare(window, paths)


def open_compare(window, paths, render_hidden: bool = False) -> CompareWindow | None:
    if len(paths) < 2:
        window.dialogs.error(window, "Cannot compare", "Pick two or more sessions to compare "
                             "(or open one and add others).")
        return None
    try:
        cw = CompareWindow(paths, render_hidden=render_hidden, dialogs=window.dialogs)
    except SessionError as exc:
        window.dialogs.error(window, "Cannot compare", str(exc))
        return None
    window.compare_windows.append(cw)
    cw.destroyed.connect(lambda *_: window.compare_windows.remove(cw) if cw in window.compare_windows else None)
    for p in paths:
        settings_store.add_recent(str(p))
    cw.show()
    return cw


# -- fork -------------------------------------------------------------------------------------
def fork_from_here(window, step: int | None = None) -> Path | None:
    """Fork the replayed run at the checkpoint at or before ``step`` (default: the shown
    step), after asking for the child's settings. Returns the child's session path."""
    if window.session_mode != "replay" or window.reader is None:
        window.statusBar().showMessage("Open a recorded session first, then fork it at a step.", 6000)
        return None
    reader = window.reader
    step = window.timeline.step if step is None else step
    at = reader.checkpoint_at_or_before(step)
    if at is None:
        steps = reader.checkpoint_steps()
        where = f"its first is at step {steps[0]}" if steps else "it saved none"
        window.dialogs.error(window, "Cannot fork", f"{Path(reader.path).name} has no checkpoint at or "
                             f"before step {step} ({where}).")
        return None
    edits = window.dialogs.fork_settings(window, run_label(reader), at, reader.settings, reader.last_step)
    if edits is None:
        return None
    overrides = inherited_settings(reader.settings, edits)
    name = f"{run_label(reader)}-fork{at}"
    parent = {"path": str(Path(reader.path).resolve()), "step": at}
    return window.start_training(overrides=overrides, fork=parent, name=name)

