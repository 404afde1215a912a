"""The main window: the canvas in the middle, dockable panels around it (palette,
templates, inspector, settings, problems), menus, toolbar with Train, and totals in the
status bar. Document life cycle in window_files.py; actions in window_menus.py."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QTabBar

from engine.graph.document import GraphDocument

from . import settings_store, window_menus
from .autosave import DEFAULT_INTERVAL_S, Autosaver
from .dialogs import Dialogs
from .editor import clipboard, edits
from .editor.layout import NODE_H, NODE_W
from .editor.model import DocumentModel
from .editor.scene import EditorScene
from .editor.view import EditorView
from .panels.inspector import Inspector, human
from .panels.lessons import LessonsPanel
from .panels.palette import Palette
from .panels.problems import ProblemsPanel
from .panels.settings_panel import SettingsPanel
from .panels.templates_gallery import TemplatesGallery
from .theme import THEMES, apply_theme
from .window_files import FilesMixin
from .window_run import RunMixin

PASTE_STEP = 32.0


class MainWindow(FilesMixin, RunMixin, QMainWindow):
    def __init__(self, dialogs: Dialogs | None = None, autosave_interval_s: float = DEFAULT_INTERVAL_S,
                 restore_layout: bool = True):
        super().__init__()
        self.dialogs = dialogs or Dialogs()
        self.path = None
        self.read_only = False
        self.theme = THEMES[settings_store.theme_name()]
        self.model = DocumentModel(GraphDocument(name="untitled"), self)
        self.scene = EditorScene(self.model, self.theme, self)
        self.view = EditorView(self.scene, self)
        self.setCentralWidget(self.view)
        self._paste_count = 0

        self.palette = Palette(self.theme)
        self.templates = TemplatesGallery()
        self.lessons = LessonsPanel()
        self.inspector = Inspector(self.model)
        self.settings_panel = SettingsPanel(self.model)
        self.problems = ProblemsPanel(self.model)
        self.actions = window_menus.build(self)
        self.docks = {}
        self._tab_plan: list[tuple[str, str]] = []  # (anchor, dock): tabified once all exist
        self._layout_restored = False
        self._dock("palette", "Layers", self.palette, Qt.LeftDockWidgetArea)
        self._dock("templates", "Templates", self.templates, Qt.LeftDockWidgetArea)
        self._dock("lessons", "Lessons", self.lessons, Qt.LeftDockWidgetArea)
        self._dock("inspector", "Inspector", self.inspector, Qt.RightDockWidgetArea)
        self._dock("settings", "Data && training", self.settings_panel, Qt.RightDockWidgetArea)
        self._dock("problems", "Problems", self.problems, Qt.BottomDockWidgetArea)
        self.tab_with("palette", "templates")
        self.tab_with("palette", "lessons")
        self.tab_with("inspector", "settings")
        self.resizeDocks([self.docks["palette"], self.docks["inspector"]], [210, 300], Qt.Horizontal)
        self.resizeDocks([self.docks["problems"]], [110], Qt.Vertical)

        self.totals = QLabel()
        self.statusBar().addPermanentWidget(self.totals)
        self.autosaver = Autosaver(self.model, lambda: self.path, autosave_interval_s, self)

        self.view.layer_dropped.connect(self.add_layer)
        self.palette.add_requested.connect(self.add_layer_at_centre)
        self.templates.open_requested.connect(self.open_template)
        self.lessons.open_requested.connect(self.open_lesson_template)
        self.problems.node_requested.connect(self.show_node)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.node_activated.connect(self._node_activated)
        self.model.analysis_changed.connect(self._analysis_changed)
        # A bound method, not a lambda: Qt drops the connection when the window goes, and the
        # stack's last cleanChanged while Python tears down never reaches a deleted window.
        self.model.undo_stack.cleanChanged.connect(self._clean_changed)
        self._setup_run()
        self._apply_tab_plan()
        self._update_title()
        self.resize(1440, 900)
        if restore_layout:
            geometry, state = settings_store.window_state()
            if geometry is not None:
                self.restoreGeometry(geometry)
            if state is not None:
                self._layout_restored = self.restoreState(state)

    def _dock(self, key: str, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.panels_menu.addAction(dock.toggleViewAction())
        self.docks[key] = dock
        return dock

    def tab_with(self, anchor: str, key: str) -> None:
        """Put dock ``key`` in a tab beside ``anchor`` (done once every dock is in place)."""
        self._tab_plan.append((anchor, key))

    def _apply_tab_plan(self) -> None:
        # Tabifying, then adding another dock to that area, then tabifying again leaves a
        # stale tab bar painted over the window (seen with Qt 6.11): tabify only at the end.
        for anchor, key in self._tab_plan:
            self.tabifyDockWidget(self.docks[anchor], self.docks[key])
        for key in ("palette", "inspector", "problems"):
            self.docks[key].raise_()
        for dock in self.docks.values():
            for signal in (dock.visibilityChanged, dock.dockLocationChanged, dock.topLevelChanged):
                signal.connect(self._schedule_tab_bar_sweep)

    def _schedule_tab_bar_sweep(self, *_args) -> None:
        QTimer.singleShot(0, self._hide_stale_tab_bars)

    def showEvent(self, event):
        super().showEvent(event)
        self._schedule_tab_bar_sweep()
        if not self._layout_restored and not getattr(self, "_sized", False):
            self._sized = True  # first show: the side panels narrow, the canvas and views wide
            QTimer.singleShot(0, lambda: self.resizeDocks(
                [self.docks["palette"], self.docks["inspector"]], [300, 290], Qt.Horizontal))

    def _hide_stale_tab_bars(self) -> None:
        """Qt 6.11 leaves tab bars of earlier dock groupings painted over the window. A
        live bar sits flush under one of its docks; any other is stale and hidden."""
        shown = [d for d in self.docks.values() if d.isVisible() and not d.isFloating()]
        for bar in self.findChildren(QTabBar):
            if bar.parent() is not self or not bar.isVisible():
                continue
            g = bar.geometry()
            live = any(abs(d.geometry().left() - g.left()) <= 2 and abs(d.geometry().width() - g.width()) <= 2
                       and abs(d.geometry().bottom() - g.top()) <= 4 for d in shown)
            if not live:
                bar.hide()

    # -- adding layers ------------------------------------------------------------------
    def add_layer(self, type_name: str, scene_pos: QPointF) -> str | None:
        if self.read_only:
            self.statusBar().showMessage("A recorded session is read-only: use File > New or open a "
                                         "graph to edit.", 6000)
            return None
        node_id = edits.add_node(self.model, type_name, (scene_pos.x() - NODE_W / 2, scene_pos.y() - NODE_H / 2))
        self.scene.select_nodes([node_id])
        return node_id

    def add_layer_at_centre(self, type_name: str) -> str:
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        taken = [it.rect_in_scene() for it in self.scene.node_items.values()]
        pos = QPointF(centre)
        while any(r.adjusted(-10, -10, 10, 10).contains(pos) for r in taken):
            pos += QPointF(PASTE_STEP, PASTE_STEP)
        return self.add_layer(type_name, pos)

    # -- edit actions -----------------------------------------------------------------
    def copy(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            clipboard.put(edits.fragment(self.model.doc, ids))
            self._paste_count = 0

    def cut(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            self.copy()
            edits.delete(self.model, ids, text="Cut")

    def paste(self) -> list[str]:
        frag = clipboard.get()
        if not frag:
            return []
        self._paste_count += 1
        step = PASTE_STEP * self._paste_count
        ids = edits.paste(self.model, frag, (step, step))
        self.scene.select_nodes(ids)
        return ids

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_node_ids()
        if not ids:
            return []
        new = edits.paste(self.model, edits.fragment(self.model.doc, ids), (PASTE_STEP, PASTE_STEP), "Duplicate")
        self.scene.select_nodes(new)
        return new

    def delete_selection(self) -> None:
        edits.delete(self.model, self.scene.selected_node_ids(), self.scene.selected_edges())

    def select_all(self) -> None:
        for item in self.scene.node_items.values():
            item.setSelected(True)

    def auto_layout(self) -> None:
        edits.auto_layout(self.model)
        self.scene.flush_edges()
        self.view.zoom_to_fit()

    def zoom_to_fit(self) -> None:
        self.scene.flush_edges()
        self.view.zoom_to_fit()

    def show_node(self, node_id: str) -> None:
        item = self.scene.node_items.get(node_id)
        if item is not None:
            self.scene.select_nodes([node_id])
            self.view.centre_on(item)
            self.docks["inspector"].raise_()

    # -- following the model ---------------------------------------------------------
    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)

    def _node_activated(self, node_id: str) -> None:
        self.docks["inspector"].show()
        self.docks["inspector"].raise_()

    def _analysis_changed(self, analysis) -> None:
        doc = self.model.doc
        self.totals.setText(f"{len(doc.nodes)} nodes  ·  {analysis.total_params:,} params  ·  "
                            f"{human(analysis.total_flops)} FLOPs per sample")
        train = self.actions["train"]
        train.setEnabled(analysis.ok)
        if analysis.ok:
            train.setToolTip("Train the network (Ctrl+Enter)")
        else:
            n = len(analysis.problems)
            more = f" (and {n - 1} more problem{'s' if n > 2 else ''})" if n > 1 else ""
            train.setToolTip(f"Cannot train yet: {analysis.problems[0]}{more}")
        self._update_train_action()
        self.docks["problems"].setWindowTitle(f"Problems ({len(analysis.problems)})" if analysis.problems
                                              else "Problems")

    def train_blocked_reason(self) -> str | None:
        analysis = self.model.flush_analysis()
        return None if analysis.ok else str(analysis.problems[0])

    # -- theme and closing --------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]
        apply_theme(QApplication.instance(), self.theme)
        self.scene.set_theme(self.theme)
        self.palette.set_theme(self.theme)
        self.actions[f"theme_{name}"].setChecked(True)
        settings_store.set_theme_name(name)

    def closeEvent(self, event):
        if not self.maybe_save():
            event.ignore()
            return
        self.shutdown_run()
        settings_store.save_window(self.saveGeometry(), self.saveState())
        self.autosaver.discard()
        event.accept()
