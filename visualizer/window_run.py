"""The main window's training and replay side: the run panel, the views in docks, the
timeline along the bottom, the graph overlay, and opening recorded sessions.

A live run and a replay share one path: the views read the session file through the
ViewHub at the timeline's step; live just means the timeline follows the head as the
worker commits."""
from __future__ import annotations

import re
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar

from engine.graph.errors import GraphError
from engine.session import SessionError, SessionReader
from engine.worker import TERMINAL

from . import settings_store
from .editor.overlay import apply_overlay
from .replay.actions import install_replay_ui
from .replay.session_open import graph_document, open_checked
from .replay.timeline import Timeline
from .replay.timeline_bar import TimelineBar
from .run.controller import RunController
from .run.run_panel import RunPanel
from .views.base import ViewHub
from .views.registry import VIEWS

MARKS_REFRESH_S = 1.0  # re-read the event marks at most this often during a live run


def view_key(view_cls) -> str:
    return "view_" + re.sub(r"[^a-z0-9]+", "_", view_cls.title.lower()).strip("_")


class RunMixin:
    reader = None
    session_path: Path | None = None
    session_mode: str | None = None  # None (editing), "live" or "replay"

    def _setup_run(self) -> None:
        self.timeline = Timeline(self)
        self.hub = ViewHub(self.timeline, parent=self)
        self.controller = RunController(self)
        self.run_panel = RunPanel(self.controller, show_train=False)
        self.timeline_bar = TimelineBar(self.timeline)
        self.views = {}
        for cls in VIEWS:
            view = cls()
            key = view_key(cls)
            self.views[key] = view
            self.hub.add(view)
            view.node_selected.connect(self.show_node)
            self._dock(key, cls.title, view, Qt.BottomDockWidgetArea)
            self.tab_with("problems", key)
        self._dock("run", "Run", self.run_panel, Qt.TopDockWidgetArea)
        bar = QToolBar("Timeline", self)
        bar.setObjectName("toolbar_timeline")
        bar.addWidget(self.timeline_bar)
        self.addToolBar(Qt.BottomToolBarArea, bar)
        self.resizeDocks([self.docks["problems"], self.docks["run"]], [280, 56], Qt.Vertical)
        self._marks_at = 0.0
        install_replay_ui(self)  # drops, compare, fork, sessions library

        self._add_run_actions()
        self.controller.committed.connect(self._on_committed)
        self.controller.state_changed.connect(self._on_run_state)
        self.run_panel.details_requested.connect(
            lambda msg, details: self.dialogs.details(self, "Training failed", msg, details))
        self.hub.rendered.connect(self._on_rendered)
        self.hub.failed.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.scene.selectionChanged.connect(self._follow_selection)
        self.run_panel.set_settings(self.model.doc.training)
        for signal in (self.model.settings_changed, self.model.reset):
            signal.connect(lambda *_: self.run_panel.set_settings(self.model.doc.training))

    def _add_run_actions(self) -> None:
        """Pause/Resume, Step and Stop in the Run menu with shortcuts, mirroring the panel."""
        from PySide6.QtGui import QAction, QKeySequence
        panel = self.run_panel
        for key, text, shortcut, button in (("pause", "&Pause / Resume", "Ctrl+P", panel.pause_btn),
                                            ("step", "&Step One Batch", "Ctrl+.", panel.step_btn),
                                            ("stop", "S&top", "Ctrl+Shift+.", panel.stop_btn)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(button.click)  # the panel's buttons know the state
            action.setEnabled(False)
            self.controller.state_changed.connect(
                lambda *_a, act=action, b=button: act.setEnabled(b.isEnabled()))
            self.run_menu.addAction(action)
            self.actions[f"run_{key}"] = action

    # -- training -------------------------------------------------------------------------
    def start_training(self, overrides: dict | None = None, fork: dict | None = None,
                       name: str | None = None) -> Path | None:
        """Train the graph on the canvas; ``overrides`` replace settings, ``fork``
        ({"path", "step"}) starts from a recorded checkpoint (see replay/actions.py)."""
        reason = self.train_blocked_reason()
        if reason:
            self.statusBar().showMessage(f"Cannot train yet: {reason}", 8000)
            return
        if self.controller.running:
            self.statusBar().showMessage("A run is in progress: stop it before starting another.", 6000)
            return
        if self.session_mode == "replay":
            self.leave_replay()
        doc = self.model.doc
        self.run_panel.set_settings(doc.training)
        self._set_reader(None)
        path = self.controller.start(doc.to_dict(), name or doc.name, overrides=overrides,
                                     probes=self.run_panel.probe_settings(), fork=fork)
        self.session_path, self.session_mode = path, "live"
        self.hub.set_growing(True)
        self.timeline.reset(0, live=True)
        self.timeline_bar.set_reader(None, live=True)
        self.docks[view_key(VIEWS[0])].raise_()
        self.give_views_room()
        self.statusBar().showMessage(f"Training '{doc.name}': recording to {path.name}", 6000)
        self._update_train_action()
        return path

    def _on_committed(self, step: int) -> None:
        if self.reader is None:
            try:
                self._set_reader(SessionReader(self.session_path))
            except SessionError:
                return  # the file is being created; the next commit opens it
            self.timeline_bar.set_reader(self.reader, live=True)
        self.reader.refresh()
        self.timeline.set_head(step)
        self.hub.mark_dirty()
        now = time.monotonic()
        if now - self._marks_at > MARKS_REFRESH_S:
            self._marks_at = now
            self.timeline_bar.refresh_marks()

    def _on_run_state(self, state: str, message: str, details: str) -> None:
        if state in TERMINAL:
            self.hub.set_growing(False)
            if self.reader is not None:
                self.timeline.set_head(self.reader.refresh())
                self.timeline_bar.refresh_marks()
                self.hub.mark_dirty()
            self.statusBar().showMessage(f"Run {state}" + (f": {message}" if message else "."), 10000)
        self._update_train_action()

    def _update_train_action(self) -> None:
        action = self.actions["train"]
        blocked = self.train_blocked_reason()
        busy = self.controller.running
        action.setEnabled(blocked is None and not busy and self.session_mode != "replay")
        if busy:
            action.setToolTip("A run is in progress (see the Run panel).")

    # -- lessons ---------------------------------------------------------------------------
    def open_lesson_template(self, lesson_id: str, slug: str) -> bool:
        """Open a lesson's template with the lesson's views in front and its node selected."""
        from engine.lessons import load_lesson
        try:
            lesson = load_lesson(lesson_id)
        except GraphError as err:
            self.dialogs.error(self, "Cannot open lesson", str(err))
            return False
        if not self.maybe_save():
            return False
        self._install(lesson.documents[slug].copy(), None)
        by_title = {cls.title: view_key(cls) for cls in VIEWS}
        for title in reversed(lesson.views):  # the first listed view ends in front
            key = by_title.get(title)
            if key:
                self.docks[key].show()
                self.docks[key].raise_()
        if self.model.doc.has_node(lesson.select):
            self.show_node(lesson.select)
        self.statusBar().showMessage(f"Lesson {lesson.lesson.number}: opened '{lesson.documents[slug].name}'. "
                                     f"Press Train and watch {lesson.views[0]}.", 10000)
        return True

    # -- views and the canvas -------------------------------------------------------------
    def give_views_room(self) -> None:
        """While watching a run the views need over half the height (plots squashed into
        the editor's short bottom strip are unreadable); the user can drag it back."""
        dock = self.docks[view_key(VIEWS[0])]
        if dock.height() < self.height() * 0.45:
            self.resizeDocks([dock], [int(self.height() * 0.58)], Qt.Vertical)

    def _set_reader(self, reader) -> None:
        if self.reader is not None and self.reader is not reader:
            self.reader.close()
        self.reader = reader
        self.hub.set_reader(reader)
        if reader is None:
            apply_overlay(self.scene, None, None)

    def _follow_selection(self) -> None:
        ids = self.scene.selected_node_ids()
        node_id = ids[0] if len(ids) == 1 else None
        node_type = self.model.doc.node(node_id).type if node_id and self.model.doc.has_node(node_id) else None
        self.hub.set_node(node_id, node_type)
        self.hub.mark_dirty()

    def _on_rendered(self, step: int) -> None:
        apply_overlay(self.scene, self.reader, step)

    # -- recorded sessions -------------------------------------------------------------------
    def open_session(self, path: str) -> bool:
        """Open a recorded run: its graph read-only, every view on the recorded data."""
        if self.controller.running:  # before reading the file: it would be read for nothing
            self.dialogs.error(self, "Cannot open session", "A run is in progress: stop it before "
                               "opening a recorded session.")
            return False
        try:
            reader = open_checked(path)  # a damaged file fails here, before anything changes
            doc = graph_document(reader)
        except (SessionError, GraphError) as err:
            self.dialogs.error(self, "Cannot open session", str(err))
            return False
        if self.session_mode != "replay" and not self.maybe_save():
            reader.close()
            return False
        self._install(doc, None)
        self.set_read_only(True)
        self.session_path, self.session_mode = Path(path), "replay"
        self._set_reader(reader)
        head = max(reader.last_step, 0)
        self.timeline.reset(head, live=False)
        self.timeline.seek(head)
        self.timeline_bar.set_reader(reader, live=False)
        self.hub.render_now()
        settings_store.add_recent(path)
        self._update_title()
        self._update_train_action()
        self.docks[view_key(VIEWS[0])].raise_()
        return True

    def leave_replay(self) -> None:
        """Back to editing: the replayed graph becomes an editable, unsaved copy."""
        self.set_read_only(False)
        self.session_mode = None
        self._set_reader(None)
        self.timeline_bar.set_reader(None, live=True)
        self._update_title()
        self._update_train_action()

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        self.scene.read_only = read_only
        for item in self.scene.node_items.values():
            item.setFlag(item.GraphicsItemFlag.ItemIsMovable, not read_only)
        for key in ("cut", "paste", "duplicate", "delete", "layout"):
            self.actions[key].setEnabled(not read_only)
        for key in ("palette", "templates", "settings"):
            self.docks[key].widget().setEnabled(not read_only)
        self.inspector.setEnabled(not read_only)

    def shutdown_run(self) -> None:
        self.controller.shutdown()
        self._set_reader(None)
