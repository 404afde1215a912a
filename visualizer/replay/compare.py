"""Compare recorded runs side by side: their curves overlaid, one synchronised timeline
(by training step, or by relative progress so that a short and a long run line up), and
any view shown once per run in columns — e.g. gradients through time of a vanilla RNN
beside an LSTM, or the gates of an LSTM beside a GRU.

Node choice maps by id: the shared node box selects that id in every run whose graph has
it; a run without it keeps its own choice (each column has its own node box, which starts
on the first node the view applies to). Blocks map by id too: choosing a block shows, in
each run whose graph has that block, its first member the view applies to."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMainWindow, QMenu, QSplitter, QToolBar, QToolButton,
                               QVBoxLayout, QWidget)

from engine.graph.catalogue import CATALOGUE
from engine.graph.document import GraphDocument
from engine.graph.errors import GraphError

from ..screen_fit import resize_to_fit
from ..views.base import export_svg
from ..views.registry import VIEWS
from .compare_curves import CompareCurves, run_colour
from .session_open import open_checked, run_label
from .timeline import Timeline
from .timeline_bar import TimelineBar

PROGRESS_TICKS = 1000  # timeline positions in "relative progress" mode
MODES = (("By step", "step"), ("By relative progress", "progress"))


def run_step(mode: str, position: int, head: int) -> int:
    """The step a run with last step ``head`` shows at timeline ``position``."""
    if mode == "step":
        return max(0, min(position, head))
    return int(round(position / PROGRESS_TICKS * max(head, 0)))


BLOCK = "block:"  # a node box entry that stands for a block (node ids never hold a colon)


def graph_nodes(reader) -> list[tuple[str, str]]:
    return [(n.get("id"), n.get("type", "")) for n in (reader.graph or {}).get("nodes", [])
            if isinstance(n, dict) and isinstance(n.get("id"), str)]


def graph_blocks(reader) -> dict[str, tuple[str, list[str]]]:
    """Block id -> (name, member node ids in document order) of a run's graph; none for a
    graph from before blocks, or one whose blocks do not load."""
    try:
        doc = GraphDocument.from_dict(reader.graph or {}, validate=False)
    except GraphError:
        return {}
    tree = doc.tree()
    return {b.id: (b.name, tree.members(b.id)) for b in doc.blocks}


def default_node(reader, view_cls, among: list[str] | None = None) -> str | None:
    """The first node (of ``among``, if given) the view applies to (by the catalogue's
    probes, the view's first probe first: the binary weights view prefers a binary layer to
    any layer with weights), else None."""
    allowed = None if among is None else set(among)
    nodes = [(node_id, set(getattr(CATALOGUE.get(kind), "probes", ()))) for node_id, kind in graph_nodes(reader)
             if allowed is None or node_id in allowed]
    for probe in view_cls.applies_to:
        for node_id, probes in nodes:
            if probe in probes:
                return node_id
    return None


class RunColumn(QWidget):
    """One run's copy of the chosen view, with its own node box."""

    def __init__(self, index: int, reader, view_cls, parent=None):
        super().__init__(parent)
        self.reader = reader
        self.head = max(reader.last_step, 0)
        r, g, b = run_colour(index)
        title = QLabel(f"<b style='color: rgb({r},{g},{b})'>■</b> {html.escape(run_label(reader))}")
        title.setToolTip(str(reader.path))
        self.node_box = QComboBox()
        self.node_box.addItem("(no node)", None)
        self.blocks = graph_blocks(reader)
        self.view_cls = view_cls
        for block_id, (name, _) in self.blocks.items():
            self.node_box.addItem(f"▸ {name} (block {block_id})", BLOCK + block_id)
        for node_id, kind in graph_nodes(reader):
            self.node_box.addItem(f"{node_id} ({kind})", node_id)
        self.view = view_cls()
        self.view.set_reader(reader)
        top = QHBoxLayout()
        top.addWidget(title, 1)
        if view_cls.applies_to:
            top.addWidget(self.node_box)
        else:
            self.node_box.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        self.node_box.currentIndexChanged.connect(lambda _i: self._node_from_box())
        self.select(default_node(reader, view_cls))

    def has_node(self, node_id: str) -> bool:
        return self.node_box.findData(node_id) >= 0

    def select(self, node_id: str | None) -> None:
        i = self.node_box.findData(node_id)
        self.node_box.setCurrentIndex(max(i, 0))
        self._node_from_box()

    def _node_from_box(self) -> None:
        node_id = self.node_box.currentData()
        if node_id and node_id.startswith(BLOCK):  # a block: its first member the view shows
            members = self.blocks.get(node_id[len(BLOCK):], ("", []))[1]
            node_id = default_node(self.reader, self.view_cls, members)
        kind = dict(graph_nodes(self.reader)).get(node_id) if node_id else None
        self.view.set_node(node_id, kind)


class CompareWindow(QMainWindow):
    """Opens every path with the same checks as a replay; raises SessionError on a bad one
    (nothing is shown then). Owns its readers; closing the window closes them."""

    def __init__(self, paths, parent=None, render_hidden: bool = False, dialogs=None):
        super().__init__(parent)
        self.dialogs = dialogs
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.readers = []
        try:
            for p in paths:
                self.readers.append(open_checked(p))
        except BaseException:
            self.close_readers()
            raise
        self.render_hidden = render_hidden
        self.mode = "step"
        self.view_cls = VIEWS[0]
        self.columns: list[RunColumn] = []
        self.setWindowTitle("Compare: " + " · ".join(run_label(r) for r in self.readers) + " — Neurostudio")

        self.timeline = Timeline(self)
        self.bar = TimelineBar(self.timeline)
        self.mode_box = QComboBox()
        for label, key in MODES:
            self.mode_box.addItem(label, key)
        self.mode_box.setToolTip("Line the runs up by training step, or by the fraction of each run done")
        self.view_box = QComboBox()
        for cls in VIEWS:
            self.view_box.addItem(cls.title, cls)
        self.node_box = QComboBox()
        self.node_box.setToolTip("Select this node in every run that has it")
        tools = QToolBar("Compare", self)
        tools.setObjectName("toolbar_compare")
        for w in (QLabel(" Align "), self.mode_box, QLabel("  View "), self.view_box,
                  QLabel("  Node "), self.node_box):
            tools.addWidget(w)
        tools.addSeparator()
        export = QToolButton()
        export.setText("Export")
        export.setToolTip("The curves of every run as a picture, a drawing or CSV, or the whole window")
        export.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(export)
        menu.addAction("Curves as Picture (PNG)…", lambda: self.export("curves", "png"))
        menu.addAction("Curves as Drawing (SVG)…", lambda: self.export("curves", "svg"))
        menu.addAction("Curves of Every Run (CSV)…", lambda: self.export("curves", "csv"))
        menu.addAction("Window as Picture (PNG)…", lambda: self.export("window", "png"))
        export.setMenu(menu)
        tools.addWidget(export)
        self.addToolBar(Qt.TopToolBarArea, tools)
        bottom = QToolBar("Timeline", self)
        bottom.setObjectName("toolbar_compare_timeline")
        bottom.addWidget(self.bar)
        self.addToolBar(Qt.BottomToolBarArea, bottom)

        self.curves = CompareCurves()
        self.curves.set_runs(self.readers, [run_label(r) for r in self.readers])
        self.column_area = QWidget()
        self.column_layout = QHBoxLayout(self.column_area)
        self.column_layout.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.curves)
        split.addWidget(self.column_area)
        # Halves: the overlaid curves are what the window is for (300 of 800 squeezed their
        # four plots to ~25 px each at 1280 x 720)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([450, 450])
        self.setCentralWidget(split)
        resize_to_fit(self, 1400, 900)

        self._dirty = True
        # One shot per change, at most 20 frames a second; steps passed meanwhile are dropped.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._render)
        self._timer.start()
        self.timeline.step_changed.connect(self._mark)
        self.mode_box.currentIndexChanged.connect(lambda _i: self.set_mode(self.mode_box.currentData()))
        self.view_box.currentIndexChanged.connect(lambda _i: self.set_view(self.view_box.currentData()))
        self.node_box.currentIndexChanged.connect(lambda _i: self.select_node(self.node_box.currentData()))
        self._fill_node_box()
        self.set_view(self.view_cls)
        self.set_mode("step")

    # -- export ----------------------------------------------------------------------------
    def export(self, what: str, kind: str, path: str | None = None) -> bool:
        """The overlaid curves ("curves": png, svg or csv with every run) or the whole window."""
        import csv
        if path is None:
            if self.dialogs is None:
                return False
            path = self.dialogs.export_path(self, f"compare-{what}.{kind}", kind)
            if not path:
                return False
        widget = self.curves if what == "curves" else self
        try:
            if kind == "csv":
                header, rows = self.curves.table()
                with open(path, "w", newline="", encoding="utf-8") as fh:
                    writer = csv.writer(fh)
                    writer.writerow(header)
                    writer.writerows(rows)
            elif kind == "svg":
                export_svg(widget, path)
            elif not widget.grab().save(str(path), "PNG"):
                raise OSError("the picture could not be written")
        except OSError as exc:
            if self.dialogs is not None:
                self.dialogs.error(self, "Cannot export", f"The {what} could not be written to {path}: "
                                   f"{exc.strerror or exc}.")
            return False
        return True

    # -- choices ---------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        old = self.mode
        pos, head = self.timeline.step, self._head(old)
        self.mode = mode
        self.mode_box.blockSignals(True)
        self.mode_box.setCurrentIndex([k for _, k in MODES].index(mode))
        self.mode_box.blockSignals(False)
        new_head = self._head(mode)
        self.timeline.reset(new_head, live=False)
        self.timeline.seek(int(round(pos / head * new_head)) if head else 0)
        self.curves.set_mode(mode)
        self._mark()

    def set_view(self, view_cls) -> None:
        """Show ``view_cls`` once per run."""
        self.view_cls = view_cls
        self.view_box.blockSignals(True)
        self.view_box.setCurrentIndex(VIEWS.index(view_cls))
        self.view_box.blockSignals(False)
        for col in self.columns:
            self.column_layout.removeWidget(col)
            col.deleteLater()
        self.columns = [RunColumn(i, r, view_cls) for i, r in enumerate(self.readers)]
        for col in self.columns:
            self.column_layout.addWidget(col, 1)
        self.node_box.setEnabled(bool(view_cls.applies_to))
        self._mark()

    def select_node(self, node_id: str | None) -> None:
        """Select ``node_id`` in every run whose graph has it; the others keep theirs."""
        if node_id is None:
            return
        for col in self.columns:
            if col.has_node(node_id):
                col.select(node_id)
        self._mark()

    def _fill_node_box(self) -> None:
        blocks: dict[str, tuple[str, int]] = {}  # id -> (name, how many runs have it)
        for r in self.readers:
            for block_id, (name, _) in graph_blocks(r).items():
                first, runs = blocks.get(block_id, (name, 0))
                blocks[block_id] = (first, runs + 1)
        self.node_box.blockSignals(True)
        self.node_box.addItem("(each run its own)", None)
        for block_id, (name, shared) in blocks.items():
            self.node_box.addItem(f"▸ {name}" + ("" if shared == len(self.readers) else f"  ({shared} runs)"),
                                  BLOCK + block_id)
        self.node_box.blockSignals(False)
        seen = []
        for r in self.readers:
            for node_id, _ in graph_nodes(r):
                if node_id not in seen:
                    seen.append(node_id)
        self.node_box.blockSignals(True)
        for node_id in seen:
            shared = sum(1 for r in self.readers if node_id in dict(graph_nodes(r)))
            self.node_box.addItem(node_id + ("" if shared == len(self.readers) else f"  ({shared} runs)"),
                                  node_id)
        self.node_box.blockSignals(False)

    # -- stepping --------------------------------------------------------------------------
    def _head(self, mode: str) -> int:
        return max(r.last_step for r in self.readers) if mode == "step" else PROGRESS_TICKS

    def run_steps(self) -> list[int]:
        """The step each run shows now."""
        return [run_step(self.mode, self.timeline.step, col.head) for col in self.columns]

    def _mark(self, *_args) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def render_now(self) -> None:
        self._dirty = True
        self._render()

    def _render(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        pos = self.timeline.step
        self.curves.set_cursor(pos if self.mode == "step" else 100.0 * pos / PROGRESS_TICKS)
        for col, step in zip(self.columns, self.run_steps()):
            if self.render_hidden or col.view.isVisible():
                col.view.show_step(step)

    # -- closing ---------------------------------------------------------------------------
    def close_readers(self) -> None:
        for r in self.readers:
            r.close()
        self.readers = []

    def closeEvent(self, event):
        self._timer.stop()
        for col in self.columns:
            col.view.set_reader(None)
        self.close_readers()
        super().closeEvent(event)
