"""The window's middle, arranged per workspace: side panels, the canvas and the view grid.

Workspaces are layouts of the same widgets, never separate windows:

- Build: palette and templates on the left, the canvas with its problems list, the inspector
  and the training settings on the right;
- Watch: the run strip, the canvas with its live overlay, and a grid of the views that fit
  the graph;
- Replay: the sessions library, the canvas and the grid, the timeline for scrubbing.

Nothing floats or undocks by accident: the arrangement is fixed splitters. Each workspace's
splitter sizes, visible panels and grid are saved when it is left and restored exactly when
it comes back (and across restarts, see ``state()``/``restore()``)."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from .panes import SHAPES, ViewGrid


@dataclass(frozen=True)
class Spec:
    left: bool
    right: bool
    problems: bool
    grid: bool
    run: bool
    timeline: bool
    left_tab: str | None      # the side tab to bring forward on entering
    widths: tuple[float, ...]  # left, centre, grid, right as fractions of the width
    shape: tuple[int, int]


SPECS = {
    "build": Spec(True, True, True, False, False, False, None, (0.2, 0.56, 0.0, 0.24), (2, 2)),
    "watch": Spec(False, False, False, True, True, True, None, (0.0, 0.3, 0.7, 0.0), (2, 2)),
    "replay": Spec(True, False, False, True, False, True, "library", (0.17, 0.28, 0.55, 0.0), (2, 2)),
}
MIN_SIDE = 250


class SideTabs(QTabWidget):
    """Side panels as tabs: fixed in place, never floating."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.keys: list[str] = []
        self.setDocumentMode(True)
        self.setMinimumWidth(MIN_SIDE)
        # every tab's name on screen, shortened where the panel is narrow (not scrolled away)
        self.tabBar().setUsesScrollButtons(False)
        self.tabBar().setElideMode(Qt.ElideRight)
        self.tabBar().setExpanding(False)

    def add(self, key: str, title: str, widget: QWidget) -> None:
        self.keys.append(key)
        self.addTab(widget, title)

    def show_tab(self, key: str) -> bool:
        if key in self.keys:
            self.setCurrentIndex(self.keys.index(key))
            return True
        return False

    @property
    def current_key(self) -> str | None:
        i = self.currentIndex()
        return self.keys[i] if 0 <= i < len(self.keys) else None


class Workbench(QWidget):
    layout_changed = Signal()  # the user resized, moved or re-chose something worth saving

    def __init__(self, canvas: QWidget, problems: QWidget, grid: ViewGrid, run_strip: QWidget,
                 timeline: QWidget, parent=None):
        super().__init__(parent)
        self.canvas, self.problems, self.grid = canvas, problems, grid
        self.run_strip, self.timeline = run_strip, timeline
        self.left = SideTabs()
        self.right = SideTabs()
        self.centre = QSplitter(Qt.Vertical)
        self.centre.setChildrenCollapsible(False)
        self.centre.addWidget(canvas)
        self.centre.addWidget(problems)
        self.centre.setStretchFactor(0, 1)
        self.split = QSplitter(Qt.Horizontal)
        self.split.setChildrenCollapsible(False)
        for w in (self.left, self.centre, grid, self.right):
            self.split.addWidget(w)
        self.split.setStretchFactor(1, 1)
        self.split.setStretchFactor(2, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(run_strip)
        lay.addWidget(self.split, 1)
        lay.addWidget(timeline)
        self.name: str | None = None
        self._on_show: str | None = None  # a workspace entered while hidden, arranged again when shown
        self.saved: dict[str, dict] = {}   # workspace -> state, as state() returns it
        self.overrides: dict[str, dict] = {}  # workspace -> {"left": bool, ...} the user's panel toggles
        for s in (self.split, self.centre):
            s.splitterMoved.connect(lambda *_: self.layout_changed.emit())
        grid.changed.connect(self.layout_changed)
        for tabs in (self.left, self.right):
            tabs.currentChanged.connect(lambda *_: self.layout_changed.emit())

    # -- switching -----------------------------------------------------------------------------
    def visible_parts(self, name: str) -> dict[str, bool]:
        spec = SPECS[name]
        parts = {"left": spec.left, "right": spec.right, "problems": spec.problems, "grid": spec.grid,
                 "run": spec.run, "timeline": spec.timeline}
        parts.update(self.overrides.get(name, {}))
        return parts

    def enter(self, name: str) -> None:
        """Arrange the widgets for workspace ``name``: its saved state, else its defaults."""
        if self.name is not None and self.isVisible():  # sizes taken off screen are not the user's
            self.saved[self.name] = self.state()
        self.name = name
        parts = self.visible_parts(name)
        self.left.setVisible(parts["left"])
        self.right.setVisible(parts["right"])
        self.problems.setVisible(parts["problems"])
        self.grid.setVisible(parts["grid"])
        self.run_strip.setVisible(parts["run"])
        self.timeline.setVisible(parts["timeline"])
        saved = self.saved.get(name)
        if saved:
            self._apply(saved)
        else:
            self.fit_defaults()
        # Sizes set before the window is on screen are scaled when it gets its real size:
        # set them again once it has (the saved sizes are exact for the same window size).
        self._on_show = None if self.isVisible() else name
        spec = SPECS[name]
        if spec.left_tab:
            self.left.show_tab(spec.left_tab)

    def showEvent(self, event):
        super().showEvent(event)
        if self._on_show is not None:
            QTimer.singleShot(0, self._settle)

    def _settle(self) -> None:
        if self._on_show == self.name:
            saved = self.saved.get(self.name)
            self._apply(saved) if saved else self.fit_defaults()
        self._on_show = None

    def set_part_visible(self, part: str, visible: bool) -> None:
        """The user shows or hides a panel in the current workspace (remembered)."""
        self.overrides.setdefault(self.name, {})[part] = visible
        widget = {"left": self.left, "right": self.right, "problems": self.problems, "grid": self.grid,
                  "run": self.run_strip, "timeline": self.timeline}[part]
        widget.setVisible(visible)
        self.layout_changed.emit()

    def fit_defaults(self) -> None:
        """The workspace's default proportions for the current width."""
        spec = SPECS[self.name]
        width = max(self.split.width(), 800)
        sizes = [int(f * width) for f in spec.widths]
        for i, part in ((0, "left"), (3, "right")):
            if sizes[i]:
                sizes[i] = max(sizes[i], MIN_SIDE)
        self.split.setSizes(sizes)
        height = max(self.centre.height(), 400)
        self.centre.setSizes([int(height * 0.8), int(height * 0.2)])
        # A 2 x 2 grid where four panes can each be read; two side by side on a small screen
        rows, cols = spec.shape
        if sizes[2] < 1000 or self.split.height() < 640:
            rows = 1
        self.grid.set_shape(rows, cols)
        self.grid.even_out()

    # -- saving ----------------------------------------------------------------------------------
    def state(self) -> dict:
        """The current workspace's arrangement as plain data (saved in the settings file)."""
        return {"split": self.split.sizes(), "centre": self.centre.sizes(),
                "shape": list(self.grid.shape), "grid": self.grid.sizes(),
                "left_tab": self.left.current_key, "right_tab": self.right.current_key,
                "parts": dict(self.overrides.get(self.name, {}))}

    def restore(self, states: dict) -> None:
        """Saved states of every workspace (``state()`` values), applied as each is entered."""
        for name, st in states.items():
            if name in SPECS and isinstance(st, dict):
                self.saved[name] = st
                parts = st.get("parts")
                if isinstance(parts, dict):
                    self.overrides[name] = {k: bool(v) for k, v in parts.items()
                                            if k in ("left", "right", "problems", "grid", "run", "timeline")}

    def _apply(self, st: dict) -> None:
        shape = st.get("shape")
        if isinstance(shape, list) and tuple(shape) in SHAPES.values():
            self.grid.set_shape(*shape)
        for splitter, key in ((self.split, "split"), (self.centre, "centre")):
            sizes = st.get(key)
            if isinstance(sizes, list) and len(sizes) == splitter.count() and all(isinstance(s, int) for s in sizes):
                splitter.setSizes(sizes)
        if isinstance(st.get("grid"), dict):
            self.grid.set_sizes(st["grid"])
        for tabs, key in ((self.left, "left_tab"), (self.right, "right_tab")):
            if isinstance(st.get(key), str):
                tabs.show_tab(st[key])
