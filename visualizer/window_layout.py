"""The main window's arrangement: the workbench and its workspaces (Build, Watch, Replay),
the grid's views per kind of graph, the layout lock, presentation mode and the theme, and
saving all of it between sessions."""
from __future__ import annotations

import json

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from . import settings_store
from .theme import THEMES, apply_theme
from .views.restyle import restyle
from .workbench.fit import default_views, graph_kind
from .workbench.layout import Workbench


class ProblemsBox(QWidget):
    """The problems list under the canvas, with a heading that counts them."""

    def __init__(self, problems, parent=None):
        super().__init__(parent)
        self.heading = QLabel("Problems")
        self.heading.setObjectName("heading")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 0)
        lay.setSpacing(2)
        lay.addWidget(self.heading)
        lay.addWidget(problems, 1)


class LayoutMixin:
    presentation = False

    def _setup_workbench(self) -> None:
        self.problems_box = ProblemsBox(self.problems)
        wb = self.workbench = Workbench(self.canvas_pane, self.problems_box, self.grid, self.run_panel,
                                        self.timeline_bar, self)
        wb.problems_title = self.problems_box.heading.setText
        wb.left.add("palette", "Layers", self.palette)
        wb.left.add("templates", "Templates", self.templates)
        wb.left.add("lessons", "Lessons", self.lessons)
        wb.left.add("library", "Sessions", self.library)
        wb.right.add("inspector", "Inspector", self.inspector)
        wb.right.add("settings", "Data && training", self.settings_panel)
        self.setCentralWidget(wb)
        self.grid_choices: dict[str, list[str]] = {}  # "workspace/kind" -> titles the user chose
        self.grid.changed.connect(self._grid_chosen)
        self.state.workspace_changed.connect(self._enter_workspace)
        self._enter_workspace(self.state.workspace)

    # -- workspaces ------------------------------------------------------------------------
    def set_workspace(self, name: str) -> None:
        self.state.set_workspace(name)

    def _enter_workspace(self, name: str) -> None:
        self.workbench.enter(name)
        self.actions[f"workspace_{name}"].setChecked(True)
        self.fit_grid()
        self.hub.mark_dirty()
        QTimer.singleShot(0, self.zoom_to_fit)  # once the canvas has its new size

    def _grid_key(self) -> str:
        return f"{self.state.workspace}/{graph_kind(self.model.doc)}"

    def fit_grid(self) -> None:
        """Show the views that fit the open graph: the user's choice for this kind of graph
        in this workspace, else the defaults (visualizer/workbench/fit.py)."""
        if not self.grid.isVisibleTo(self.workbench) and self.state.workspace == "build":
            return
        titles = self.grid_choices.get(self._grid_key())
        n = len(self.grid.panes)
        if not titles:
            titles = default_views(graph_kind(self.model.doc), list(self.views_by_title), n)
        self.grid.set_views(titles)

    def _grid_chosen(self) -> None:
        self.grid_choices[self._grid_key()] = self.grid.titles()

    def show_view(self, title: str) -> None:
        """Put view ``title`` on screen (in Watch, or Replay when a session is replayed)."""
        if self.state.workspace == "build":
            self.set_workspace("replay" if self.session_mode == "replay" else "watch")
        self.grid.show_view(title)
        self.hub.mark_dirty()

    def set_part_visible(self, part: str, visible: bool) -> None:
        self.workbench.set_part_visible(part, visible)

    def set_layout_locked(self, locked: bool) -> None:
        self.grid.set_locked(locked)
        self.actions["lock_layout"].setChecked(locked)
        self.actions["grid_shape"].setEnabled(not locked)

    def set_grid_shape(self, rows: int, cols: int) -> None:
        self.grid.set_shape(rows, cols)
        self.fit_grid()
        self.hub.mark_dirty()

    # -- theme and presentation -----------------------------------------------------------
    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]
        self._restyle()
        self.actions[f"theme_{name}"].setChecked(True)
        settings_store.set_theme_name(name)

    def set_presentation(self, on: bool) -> None:
        """Larger fonts everywhere (panels, plots, canvas) for a projector."""
        self.presentation = bool(on)
        self.actions["presentation"].setChecked(self.presentation)
        self._restyle()
        self.zoom_to_fit()

    def _restyle(self) -> None:
        scale = 1.45 if self.presentation else 1.0
        apply_theme(QApplication.instance(), self.theme, scale)
        self.scene.set_theme(self.theme, scale)
        self.palette.set_theme(self.theme)
        self.templates.set_theme(self.theme)
        self.timeline_bar.set_theme(self.theme)
        for view in self.views.values():
            restyle(view, self.theme, scale)
        self.hub.mark_dirty()

    # -- saving between sessions ----------------------------------------------------------
    def restore_window(self, restore: bool) -> None:
        if restore:
            geometry, saved = settings_store.window_state()
            if geometry is not None:
                self.restoreGeometry(geometry)
            state = _loads(saved)
            self.workbench.restore(state.get("workspaces") or {})
            choices = state.get("grid_choices")
            if isinstance(choices, dict):
                self.grid_choices = {k: [t for t in v if t in self.views_by_title]
                                     for k, v in choices.items() if isinstance(v, list)}
            self.set_layout_locked(bool(state.get("locked", True)))
            self.presentation = bool(state.get("presentation", False))
            workspace = state.get("workspace")
            self.workbench.name = None  # the defaults taken before the restore are not a state
            if workspace in ("build", "watch"):  # Replay needs a session: it is entered by opening one
                self.state.workspace = workspace
            self._enter_workspace(self.state.workspace)
        else:
            self.set_layout_locked(True)
        self._restyle()

    def save_window(self) -> None:
        wb = self.workbench
        wb.saved[wb.name] = wb.state()
        state = {"workspace": self.state.workspace, "workspaces": wb.saved, "grid_choices": self.grid_choices,
                 "locked": self.grid.locked, "presentation": self.presentation}
        settings_store.save_window(self.saveGeometry(), json.dumps(state))


def _loads(text) -> dict:
    try:
        state = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}
