"""The main window: a workbench of fixed panels around the canvas and the view grid,
arranged per workspace (Build, Watch, Replay), with menus, the toolbar and totals in the
status bar.

What is open lives in one Qt-free object, ``self.state`` (visualizer/state.py): the
document, the run or session bound to it, the selection and the workspace. The window's
parts follow its signals. Documents: window_files.py; runs and replay: window_run.py;
workspaces, themes and presentation: window_layout.py; actions: window_menus.py."""
from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QLabel, QMainWindow

from engine.graph.document import GraphDocument

from . import settings_store, window_menus
from .autosave import DEFAULT_INTERVAL_S, Autosaver
from .dialogs import Dialogs
from .editor import clipboard, edits
from .editor.block_facts import probed_members
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
from .state import AppState, OpenDocument
from .theme import THEMES
from .window_blocks import BlocksMixin
from .window_exports import ExportsMixin
from .window_files import FilesMixin
from .window_interop import InteropMixin
from .window_layout import LayoutMixin
from .window_run import RunMixin

PASTE_STEP = 32.0


class MainWindow(FilesMixin, RunMixin, LayoutMixin, ExportsMixin, InteropMixin, BlocksMixin, QMainWindow):
    def __init__(self, dialogs: Dialogs | None = None, autosave_interval_s: float = DEFAULT_INTERVAL_S,
                 restore_layout: bool = True):
        super().__init__()
        self.dialogs = dialogs or Dialogs()
        self.theme = THEMES[settings_store.theme_name()]
        self.state = AppState()
        self.data_dirs = []
        self.timeline = self.state.timeline
        self.model = DocumentModel(GraphDocument(name="untitled"), self)
        self.scene = EditorScene(self.model, self.theme, self)
        self.view = EditorView(self.scene, self)
        self._paste_count = 0

        self.palette = Palette(self.theme)
        self.templates = TemplatesGallery(self.theme)
        self.lessons = LessonsPanel()
        self.inspector = Inspector(self.model)
        self.settings_panel = SettingsPanel(self.model)
        self.problems = ProblemsPanel(self.model)
        self._setup_blocks()       # breadcrumb and search over the canvas (window_blocks.py)
        self.actions = window_menus.build(self)
        self._setup_run()          # views, grid, run strip, timeline (window_run.py)
        self._setup_workbench()    # the workbench and its workspaces (window_layout.py)

        self.totals = QLabel()
        self.statusBar().addPermanentWidget(self.totals)
        self.autosaver = Autosaver(self.model, lambda: self.path, autosave_interval_s, self)

        self.view.layer_dropped.connect(self.add_layer)
        self.palette.add_requested.connect(self.add_layer_at_centre)
        self.templates.open_requested.connect(self.open_template)
        self.lessons.open_requested.connect(self.open_lesson_template)
        self.problems.node_requested.connect(self.show_node)
        self.problems.fix_requested.connect(self.apply_fix)
        self.scene.selectionChanged.connect(self._canvas_selection_changed)
        self.scene.node_activated.connect(self._node_activated)
        self.model.analysis_changed.connect(self._analysis_changed)
        # A bound method, not a lambda: Qt drops the connection when the window goes, and the
        # stack's last cleanChanged while Python tears down never reaches a deleted window.
        self.model.undo_stack.cleanChanged.connect(self._clean_changed)
        self.state.document_changed.connect(self._on_document_changed)
        self.state.selection_changed.connect(self._on_selection)
        self.state.open(OpenDocument.new(self.model.doc))
        self._update_title()
        self.resize(1440, 900)
        self.restore_window(restore_layout)

    # -- adding layers ------------------------------------------------------------------
    def add_layer(self, type_name: str, scene_pos: QPointF) -> str | None:
        if self.read_only:
            self.statusBar().showMessage("A recorded session is read-only: use File > New or open a "
                                         "graph to edit.", 6000)
            return None
        # dropped into an open block's frame: it joins that block (the innermost one)
        frame = self.scene.frame_at(scene_pos)
        where = frame.mapFromScene(scene_pos) if frame is not None else scene_pos
        node_id = edits.add_node(self.model, type_name, (where.x() - NODE_W / 2, where.y() - NODE_H / 2),
                                 frame.node_id if frame is not None else None)
        self.scene.select_nodes([node_id])
        return node_id

    def add_layer_at_centre(self, type_name: str) -> str:
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        taken = self.scene.item_rects()
        pos = QPointF(centre)
        while any(r.adjusted(-10, -10, 10, 10).contains(pos) for r in taken):
            pos += QPointF(PASTE_STEP, PASTE_STEP)
        return self.add_layer(type_name, pos)

    # -- edit actions -----------------------------------------------------------------
    def copy(self) -> None:
        ids, blocks = self.scene.selected_node_ids(), self.scene.selected_block_ids()
        if ids or blocks:
            clipboard.put(edits.fragment(self.model.doc, ids, blocks))
            self._paste_count = 0

    def cut(self) -> None:
        ids, blocks = self.scene.selected_node_ids(), self.scene.selected_block_ids()
        if ids or blocks:
            self.copy()
            edits.delete(self.model, ids, text="Cut", block_ids=blocks)

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
        ids, blocks = self.scene.selected_node_ids(), self.scene.selected_block_ids()
        if not ids and not blocks:
            return []
        new = edits.paste(self.model, edits.fragment(self.model.doc, ids, blocks), (PASTE_STEP, PASTE_STEP),
                          "Duplicate")
        self.scene.select_nodes(new)
        return new

    def delete_selection(self) -> None:
        edits.delete(self.model, self.scene.selected_node_ids(), self.scene.selected_edges(),
                     block_ids=self.scene.selected_block_ids())

    def select_all(self) -> None:
        self.scene.select_all()

    def auto_layout(self) -> None:
        edits.auto_layout(self.model)
        self.scene.flush_edges()
        self.view.zoom_to_fit()

    def zoom_to_fit(self) -> None:
        self.scene.flush_edges()
        self.view.zoom_to_fit()

    def apply_fix(self, node_id: str | None, fix) -> None:
        """A problem's one-click fix (set the output units to the dataset's classes...)."""
        if self.read_only or fix is None or not self.model.doc.has_node(fix.node):
            return
        edits.set_param(self.model, fix.node, fix.param, fix.value)
        self.model.flush_analysis()
        self.statusBar().showMessage(f"Fixed: {fix.label}. Undo with Ctrl+Z.", 6000)

    # -- following the model ---------------------------------------------------------
    def _canvas_selection_changed(self) -> None:
        self.state.select(self.scene.selected_units())

    def _on_selection(self, ids) -> None:
        if len(ids) == 1 and ids[0] in self.model.tree.blocks and self.state.selected_node is None:
            probed = probed_members(self.model.doc, self.model.tree, ids[0])  # a block: its first probed member
            if probed:
                self.state.members[ids[0]] = probed[0][0]
        self.inspector.show_unit(ids[0] if len(ids) == 1 else None, self.state.selected_node)
        self._follow_selection()
        self.update_crumbs()
        self.show_block_members()

    def _node_activated(self, node_id: str) -> None:
        if not self.workbench.right.isVisible():
            self.set_workspace("build")
        self.workbench.right.show_tab("inspector")

    def _analysis_changed(self, analysis) -> None:
        doc = self.model.doc
        self.totals.setText(f"{len(doc.nodes)} nodes  ·  {analysis.total_params:,} params  ·  "
                            f"{human(analysis.total_flops)} FLOPs per sample")
        self._update_train_action()
        n = len(analysis.problems)
        self.workbench.problems_title(f"Problems ({n})" if n else "Problems")

    def train_blocked_reason(self) -> str | None:
        analysis = self.model.flush_analysis()
        return None if analysis.ok else str(analysis.problems[0])

    def closeEvent(self, event):
        if not self.maybe_save():
            event.ignore()
            return
        self.shutdown_run()
        self.save_window()
        self.autosaver.discard()
        event.accept()
