"""The main window's runs and recorded sessions: the run strip, the views and their grid, the
timeline along the bottom, the graph overlay, and binding all of them to the run or session
of the open document.

A live run and a replay share one path: the views read the session file through the
ViewHub at the timeline's step; live just means the timeline follows the head as the
worker commits. Every run has its own RunController; the state (visualizer/state.py) says
which one belongs to the open document, and only that one reaches the views."""
from __future__ import annotations

import re
import time
from pathlib import Path

from PySide6.QtCore import QTimer

from engine.graph.document import GraphDocument
from engine.graph.errors import GraphError
from engine.session import SessionError, SessionReader
from engine.worker import TERMINAL

from . import settings_store
from .editor.geometry import match_folds
from .editor.overlay import apply_overlay
from .replay.actions import install_replay_ui
from .replay.session_open import graph_document, open_checked
from .replay.timeline_bar import TimelineBar
from .run.controller import RunController
from .run.remote_controller import connect_engine, controller_for
from .run.run_panel import RunPanel
from .state import Binding, OpenDocument
from .views.base import ViewHub
from .views.registry import VIEWS
from .workbench.fit import node_to_follow
from .workbench.panes import ViewGrid

MARKS_REFRESH_S = 1.0  # re-read the event marks at most this often during a live run
FILE_WATCH_MS = 1000


def view_key(view_cls) -> str:
    return "view_" + re.sub(r"[^a-z0-9]+", "_", view_cls.title.lower()).strip("_")


class RunMixin:
    reader = None
    engine = None  # the remote engine Train runs on (Run > Connect to Engine…), or None: here

    def _setup_run(self) -> None:
        self.hub = ViewHub(self.timeline, parent=self)
        self._idle = RunController(self)  # what the run strip shows when no run is bound
        self.run_panel = RunPanel(self._idle, show_train=False)
        self.timeline_bar = TimelineBar(self.timeline)
        self.views = {}
        self.views_by_title = {}
        for cls in VIEWS:
            view = cls()
            self.views[view_key(cls)] = view
            self.views_by_title[cls.title] = view
            self.hub.add(view)
            view.node_selected.connect(self.show_node)
        self.grid = ViewGrid(self.views_by_title)
        self.grid.export.connect(self.export_view)
        self._marks_at = 0.0
        install_replay_ui(self)  # drops, compare, fork, sessions library
        self._add_run_actions()
        self.run_panel.details_requested.connect(
            lambda msg, details: self.dialogs.details(self, "Training failed", msg, details))
        self.run_panel.buttons_changed.connect(self._sync_run_actions)
        self.hub.rendered.connect(self._on_rendered)
        self.hub.failed.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.run_panel.set_settings(self.model.doc.training)
        for signal in (self.model.settings_changed, self.model.reset):
            signal.connect(lambda *_: self.run_panel.set_settings(self.model.doc.training))
        self.state.binding_changed.connect(self._on_binding_changed)
        # Once a second: is the bound file still the one opened, and has a replayed session
        # grown (another window or a headless run still records into it)?
        self._file_watch = QTimer(self)
        self._file_watch.setInterval(FILE_WATCH_MS)
        self._file_watch.timeout.connect(self._watch_file)
        self._file_warning: str | None = None

    def _add_run_actions(self) -> None:
        """Pause/Resume, Step and Stop in the Run menu with shortcuts, mirroring the panel."""
        from PySide6.QtGui import QAction, QKeySequence
        panel = self.run_panel
        self._run_buttons = {}
        for key, text, shortcut, button in (("pause", "&Pause / Resume", "Ctrl+P", panel.pause_btn),
                                            ("step", "&Step One Batch", "Ctrl+.", panel.step_btn),
                                            ("stop", "S&top", "Ctrl+Shift+.", panel.stop_btn),
                                            ("checkpoint", "&Checkpoint Now", "Ctrl+Shift+K", panel.checkpoint_btn)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(button.click)  # the panel's buttons know the state
            action.setEnabled(False)
            self.run_menu.addAction(action)
            self.actions[f"run_{key}"] = action
            self._run_buttons[action] = button
        self.run_menu.addSeparator()
        self.actions["run_connect"] = connect = QAction("Connect to &Engine…", self)
        connect.triggered.connect(lambda: connect_engine(self))
        self.run_menu.addAction(connect)

    def _sync_run_actions(self) -> None:
        for action, button in self._run_buttons.items():
            action.setEnabled(button.isEnabled())

    # -- what is bound ----------------------------------------------------------------------
    @property
    def controller(self) -> RunController:
        """The run of the open document (an idle controller when it has none)."""
        b = self.state.binding
        return b.run if b is not None and b.run is not None else self._idle

    @property
    def session_path(self) -> Path | None:
        b = self.state.binding
        return b.session_path if b is not None else None

    @property
    def session_mode(self) -> str | None:
        """None (editing), "live" (a run of this document) or "replay"."""
        b = self.state.binding
        return b.mode if b is not None else None

    # -- training -------------------------------------------------------------------------
    def start_training(self, overrides: dict | None = None, fork: dict | None = None,
                       name: str | None = None) -> Path | None:
        """Train the graph on the canvas; ``overrides`` replace settings, ``fork``
        ({"path", "step"}) starts from a recorded checkpoint (see replay/actions.py)."""
        if self.read_only:
            if fork is None:
                self.statusBar().showMessage("A recorded session is read-only: fork it (Run > Fork from "
                                             "Here…) to train from one of its checkpoints.", 8000)
                return None
            # the child run belongs to an editable copy of the recorded graph
            self._install(OpenDocument.new(self.model.doc.copy()), layout=False)
        reason = self.train_blocked_reason()
        if reason:
            self.statusBar().showMessage(f"Cannot train yet: {reason}", 8000)
            return None
        if self.controller.running:
            self.statusBar().showMessage("This graph's run is in progress: stop it before starting another.", 6000)
            return None
        doc = self.model.doc
        self.run_panel.set_settings(doc.training)
        controller = controller_for(self)  # a local worker, or the engine connected to
        try:
            path = controller.start(doc.to_dict(), name or doc.name, overrides=overrides,
                                    probes=self.run_panel.probe_settings(), fork=fork,
                                    base_dir=self.model.data_access.base_dir,
                                    data_dirs=self.model.data_access.allowed)
        except OSError as exc:  # the sessions folder is read-only, full or not a folder
            self.dialogs.error(self, "Cannot train", f"{str(exc.strerror or exc)[0].upper()}"
                               f"{str(exc.strerror or exc)[1:]}.")
            return None
        binding = Binding(self.state.document.key, path, "live", run=controller, doc=doc.to_dict(),
                          name=name or doc.name)
        controller.committed.connect(lambda step, b=binding: self._on_committed(b, step))
        controller.state_changed.connect(lambda *args, b=binding: self._on_run_state(b, *args))
        if self.state.workspace == "build":
            self.set_workspace("watch")
        if not self.state.selection:  # the per-layer views need a layer to follow
            node = node_to_follow(doc, self.grid.titles())
            if node is not None:  # folded inside a block: select the block, follow the node
                shown = self.model.tree.shown_as(node)
                if shown != node:
                    self.state.follow(shown, node)
                self.scene.select_nodes([shown])
        self.state.add_run(binding)
        self.statusBar().showMessage(f"Training '{doc.name}': recording to {path.name}", 6000)
        return path

    def _on_committed(self, binding: Binding, step: int) -> None:
        if binding is not self.state.binding:
            return  # a run in the background: its views are not on screen
        if self.reader is None:
            try:
                self._set_reader(SessionReader(binding.session_path))
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

    def _on_run_state(self, binding: Binding, state: str, message: str, details: str) -> None:
        current = binding is self.state.binding
        if state in TERMINAL:
            if current:
                self.hub.set_growing(False)
                if self.reader is not None:
                    self.timeline.set_head(self.reader.refresh())
                    self.timeline_bar.refresh_marks()
                    self.hub.mark_dirty()
            where = "" if current else f" (the run of '{binding.name}', in the background)"
            self.statusBar().showMessage(f"Run {state}{where}" + (f": {message}" if message else "."), 10000)
        if current:
            self._update_train_action()

    def _update_train_action(self) -> None:
        action = self.actions["train"]
        blocked = self.train_blocked_reason()
        busy = self.controller.running
        action.setEnabled(blocked is None and not busy and not self.read_only)
        if busy:
            action.setToolTip("This graph's run is in progress (see the run strip).")
        elif self.read_only:
            action.setToolTip("A recorded session is read-only: fork it to train from a checkpoint.")
        elif blocked:
            n = len(self.model.analysis.problems)
            more = f" (and {n - 1} more problem{'s' if n > 2 else ''})" if n > 1 else ""
            action.setToolTip(f"Cannot train yet: {blocked}{more}")
        else:
            action.setToolTip("Train the network (Ctrl+Enter)")
        self.run_panel.set_blocked_reason(blocked)

    # -- binding the views to the open document's run or session ---------------------------------
    def _on_binding_changed(self, binding: Binding | None) -> None:
        self._set_reader(None)
        self.hub.set_growing(False)
        self.run_panel.set_controller(binding.run if binding is not None and binding.run is not None
                                      else self._idle, binding.session_path if binding else None)
        if binding is None:
            self.timeline.reset(0, live=True)
            self.timeline_bar.set_reader(None, live=False)
            self.grid.set_bound(False)
        else:
            live = binding.mode == "live"
            reader = self._pending_reader if getattr(self, "_pending_reader", None) is not None else None
            self._pending_reader = None
            if reader is None:
                try:
                    reader = SessionReader(binding.session_path)
                except SessionError:
                    reader = None  # a run that has not committed yet: its first commit opens it
            self._set_reader(reader)
            head = max(reader.last_step, 0) if reader is not None else 0
            follow = live and binding.shown_step is None
            self.timeline.reset(head, live=follow, step=head if binding.shown_step is None else binding.shown_step)
            self.timeline_bar.set_reader(reader, live=live)
            self.hub.set_growing(live and binding.run is not None and binding.run.running)
            self.grid.set_bound(True)
            self.hub.render_now() if reader is not None else None
        self._follow_selection()
        self._update_train_action()
        self._update_title()

    def _watch_file(self) -> None:
        reader, binding = self.reader, self.state.binding
        if reader is None or binding is None:
            return
        warning = reader.check_file()
        if warning != self._file_warning:
            self._file_warning = warning
            if warning:  # the views keep what the reader still holds: the file it opened
                self.statusBar().showMessage(warning)
                self.dialogs.error(self, "Session file changed", warning)
        if binding.mode == "replay" and warning is None:
            try:
                head = reader.refresh()
            except SessionError as err:
                self.statusBar().showMessage(str(err), 10000)
                return
            if head > self.timeline.head:  # still being recorded elsewhere: extend the timeline
                follow = self.timeline.at_head
                self.timeline.set_head(head)
                if follow:
                    self.timeline.seek(head)
                self.timeline_bar.refresh_marks()
                self.hub.mark_dirty()
                self.statusBar().showMessage(f"{Path(binding.session_path).name} is still being recorded: "
                                             f"step {head:,}.", 3000)

    def _set_reader(self, reader) -> None:
        if self.reader is not None and self.reader is not reader:
            self.reader.close()
        self.reader = reader
        self._file_warning = None
        if reader is None:
            self._file_watch.stop()
        else:
            self._file_watch.start()
        self.hub.set_reader(reader)
        if reader is None:
            apply_overlay(self.scene, None, None)

    def _follow_selection(self) -> None:
        node_id = self.state.selected_node
        node_type = self.model.doc.node(node_id).type if node_id and self.model.doc.has_node(node_id) else None
        self.hub.set_node(node_id, node_type)
        self.hub.mark_dirty()

    def _on_rendered(self, step: int) -> None:
        apply_overlay(self.scene, self.reader, step)

    # -- runs in the background ------------------------------------------------------------------
    def fill_runs_menu(self) -> None:
        menu = self.runs_menu
        menu.clear()
        runs = list(self.state.runs.values())
        for b in runs:
            ctrl = b.run
            state = ctrl.state if ctrl is not None else "recorded"
            step = (ctrl.last_progress.get("step") if ctrl is not None else None)
            text = f"{b.name or Path(b.session_path).stem} — {state}" + (f", step {step:,}" if step else "")
            act = menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(b is self.state.binding)
            act.setStatusTip(str(b.session_path))
            act.triggered.connect(lambda _=False, b=b: self.show_run(b))
        if not runs:
            menu.addAction("No runs yet in this window").setEnabled(False)

    def show_run(self, binding: Binding) -> bool:
        """Open the document a run belongs to (the run comes back bound to it)."""
        if binding is self.state.binding:
            return True
        if not self.maybe_save():
            return False
        kind, _, ref = binding.doc_key.partition(":")
        entry = None
        if kind == "file" and Path(ref).is_file():
            try:
                from engine.graph.document import load_graph
                entry = OpenDocument(binding.doc_key, load_graph(ref), ref)
            except GraphError:
                entry = None
        if entry is None and kind == "template":
            from engine.templates import load_template
            try:
                entry = OpenDocument(binding.doc_key, load_template(ref))
            except GraphError:
                entry = None
        if entry is None:  # a new document or one that went away: the graph the run started from
            entry = OpenDocument(binding.doc_key, GraphDocument.from_dict(binding.doc), None,
                                 read_only=binding.mode == "replay")
        self._install(entry, layout=False)
        self.set_workspace("replay" if binding.mode == "replay" else "watch")
        return True

    # -- lessons ---------------------------------------------------------------------------
    def open_lesson_template(self, lesson_id: str, slug: str) -> bool:
        """Open a lesson's template in Watch with the lesson's views in the grid and its node
        selected."""
        from engine.lessons import load_lesson
        try:
            lesson = load_lesson(lesson_id)
        except GraphError as err:
            self.dialogs.error(self, "Cannot open lesson", str(err))
            return False
        if not self.maybe_save():
            return False
        self._install(OpenDocument(f"lesson:{lesson_id}/{slug}", lesson.documents[slug].copy()))
        self.set_workspace("watch")
        shown = [t for t in lesson.views if t in self.views_by_title]
        self.grid.set_views(shown + [t for t in self.grid.titles() if t not in shown])
        if self.model.doc.has_node(lesson.select):
            self.show_node(lesson.select)
        self.statusBar().showMessage(f"Lesson {lesson.lesson.number}: opened '{lesson.documents[slug].name}'. "
                                     f"Press Train and watch {lesson.views[0]}.", 10000)
        return True

    # -- recorded sessions -------------------------------------------------------------------
    def open_session(self, path: str) -> bool:
        """Open a recorded run: its graph read-only, every view on the recorded data."""
        busy = next((b for b in self.state.runs.values() if b.run is not None and b.run.running
                     and Path(b.session_path).resolve() == Path(path).resolve()), None)
        if busy is not None:  # a run of this window records into it: show that run instead
            return self.show_run(busy)
        try:
            reader = open_checked(path)  # a damaged file fails here, before anything changes
            doc = graph_document(reader)
        except (SessionError, GraphError) as err:
            self.dialogs.error(self, "Cannot open session", str(err))
            return False
        if not self.maybe_save():
            reader.close()
            return False
        # the blocks the user had open stay open (and folded ones folded), by id
        match_folds(doc, {b.id: b.collapsed for b in self.model.doc.blocks})
        entry = OpenDocument.from_session(doc, path)
        binding = Binding(entry.key, Path(path), "replay", doc=doc.to_dict(), name=Path(path).stem)
        self._pending_reader = reader
        self._install(entry, binding)
        self.set_workspace("replay")
        settings_store.add_recent(path)
        return True

    def leave_replay(self) -> None:
        """Back to editing: the replayed graph becomes an editable, unsaved copy."""
        if self.session_mode == "replay":
            self._install(OpenDocument.new(self.model.doc.copy()), layout=False)
            self.set_workspace("build")

    def set_read_only(self, read_only: bool) -> None:
        self.scene.read_only = read_only
        for item in self.scene.node_items.values():
            item.setFlag(item.GraphicsItemFlag.ItemIsMovable, not read_only)
        for key in ("cut", "paste", "duplicate", "delete", "layout", "group", "ungroup", "rename_block"):
            self.actions[key].setEnabled(not read_only)
        for widget in (self.palette, self.templates, self.settings_panel):
            widget.setEnabled(not read_only)
        self.inspector.set_read_only(read_only)

    def shutdown_run(self) -> None:
        for b in list(self.state.runs.values()):
            if b.run is not None:
                b.run.shutdown()
        self._idle.shutdown()
        self._set_reader(None)
