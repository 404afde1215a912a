"""Layer health: one row per layer (gradient norm, weight norm, update ratio, dead and
saturated units), coloured by rules of thumb, with the run's diagnostics and their advice
below. Clicking a row (or a diagnostic about a layer) selects that layer on the canvas."""
from __future__ import annotations

import bisect
import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .base import View
from .records import NewEvents
from .widgets import NO_DATA, HintStack

# (column title, scalar suffix, unit multiplier, format)
COLUMNS = (("Gradient norm", "grad_norm", 1.0, "{:.3g}"),
           ("Weight norm", "weight_norm", 1.0, "{:.3g}"),
           ("Update ratio", "update_ratio", 1.0, "{:.2e}"),
           ("Dead %", "dead_frac", 100.0, "{:.1f}"),
           ("Saturated %", "saturated_frac", 100.0, "{:.1f}"))
GOOD, WARN, BAD = QColor(200, 235, 200), QColor(255, 230, 170), QColor(245, 190, 190)
SEVERITY_MARK = {"error": "⛔", "warning": "⚠", "info": "ℹ"}
EVENT_KINDS = ("diagnostic", "nan", "probe_error")  # the events listed under the table


def grade(suffix: str, value: float) -> tuple[QColor | None, str]:
    """(colour, why) for one cell, by the rules of thumb of engine/probes/diagnostics.py."""
    if not math.isfinite(value):
        return BAD, "not a finite number: the run has diverged"
    if suffix == "grad_norm":
        if value > 1e3 or value < 1e-7:
            return BAD, "far outside 1e-5 … 1e2: exploding or vanishing"
        if value > 1e2 or value < 1e-5:
            return WARN, "outside 1e-5 … 1e2"
        return GOOD, "within 1e-5 … 1e2"
    if suffix == "update_ratio":
        if value > 1e-1 or value < 1e-6:
            return BAD, "‖ΔW‖/‖W‖ far from ~1e-3 per step: learning rate far too high or too low"
        if value > 1e-2 or value < 1e-4:
            return WARN, "‖ΔW‖/‖W‖ outside 1e-4 … 1e-2 (healthy: around 1e-3 per step)"
        return GOOD, "‖ΔW‖/‖W‖ around 1e-3 per step"
    if suffix in ("dead_frac", "saturated_frac"):
        what = "dead (zero for the whole batch)" if suffix == "dead_frac" else "saturated"
        if value >= 0.5:
            return BAD, f"half or more of the units are {what}"
        if value >= 0.1:
            return WARN, f"10 % or more of the units are {what}"
        return GOOD, f"fewer than 10 % of the units are {what}"
    return None, ""


class HealthModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.nodes: list[tuple[str, str]] = []          # (node id, layer type)
        self.values: list[dict[str, float]] = []        # suffix -> raw value

    def update(self, nodes: list[tuple[str, str]], values: list[dict[str, float]]) -> None:
        if nodes != self.nodes:
            self.beginResetModel()
            self.nodes, self.values = nodes, values
            self.endResetModel()
        else:
            self.values = values
            if nodes:
                self.dataChanged.emit(self.index(0, 0), self.index(len(nodes) - 1, len(COLUMNS) + 1))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.nodes)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS) + 2

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return ("Layer", "Type", *(c[0] for c in COLUMNS))[section]
        return None

    def value(self, row: int, col: int) -> float | None:
        """The raw recorded value behind a numeric cell (None: not measured)."""
        return self.values[row].get(COLUMNS[col - 2][1]) if col >= 2 else None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if col < 2:
            return self.nodes[row][col] if role == Qt.DisplayRole else None
        _, suffix, scale, fmt = COLUMNS[col - 2]
        v = self.value(row, col)
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if v is None:
            return "–" if role == Qt.DisplayRole else None
        if role == Qt.DisplayRole:
            return fmt.format(v * scale) if math.isfinite(v) else str(v)
        if role == Qt.UserRole:
            return v
        colour, why = grade(suffix, v)
        if role == Qt.BackgroundRole:
            return colour
        if role == Qt.ForegroundRole and colour is not None:
            return QColor(20, 20, 20)  # readable on the pale cell colours in a dark theme too
        if role == Qt.ToolTipRole:
            return why
        return None


class LayerHealthView(View):
    title = "Layer health"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = HealthModel(self)
        self.table_view = QTableView()
        self.table_view.setModel(self.model)
        self.table_view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table_view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table_view.verticalHeader().setVisible(False)
        # Sized to contents when the rows change, not on every update: ResizeToContents
        # asks every cell for its size hint each time a value changes.
        self.table_view.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table_view.clicked.connect(self._row_clicked)
        self.events = QListWidget()
        self.events.setWordWrap(True)
        self.events.itemClicked.connect(self._event_clicked)
        lower = QWidget()
        lay = QVBoxLayout(lower)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Diagnostics (up to the shown step)"))
        lay.addWidget(self.events)
        # Side by side: the views dock is wide and short, and a table of numbers is narrow.
        split = self.split = QSplitter(Qt.Horizontal)
        split.addWidget(self.table_view)
        split.addWidget(lower)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        self.stack = HintStack(split)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.stack)
        self._forget_events()
        self.stack.hint(NO_DATA)

    def _forget_events(self) -> None:
        self._events_cache: list = []  # the diagnostics, in the order written (= step order)
        self._events_steps: list[int] = []
        self._new_events: NewEvents | None = None
        self._events_head = None
        self._shown_count = 0

    def resizeEvent(self, event):
        # Table and diagnostics side by side in a wide pane, one above the other in a narrow one.
        super().resizeEvent(event)
        wide = event.size().width() > 1.5 * event.size().height() and event.size().width() > 700
        orientation = Qt.Horizontal if wide else Qt.Vertical
        if self.split.orientation() != orientation:
            self.split.setOrientation(orientation)

    def reset(self) -> None:
        self._forget_events()
        self.model.update([], [])
        self.events.clear()

    def layer_nodes(self, names: set[str]) -> list[tuple[str, str]]:
        """(id, type) of every graph node with per-layer scalars, in graph order."""
        measured = {n.split("/")[1] for n in names if n.startswith("layer/") and n.count("/") == 2}
        out = [(n.get("id"), n.get("type", "")) for n in (self.reader.graph or {}).get("nodes", [])
               if isinstance(n, dict) and n.get("id") in measured]
        return out

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        scalars = self.reader.scalars_at(step)
        nodes = self.layer_nodes(set(scalars))
        if not nodes:
            self.stack.hint(NO_DATA)
            self.model.update([], [])
            return
        self.stack.content()
        values = []
        for node, _ in nodes:
            values.append({suffix: scalars[f"layer/{node}/{suffix}"] for _, suffix, _, _ in COLUMNS
                           if f"layer/{node}/{suffix}" in scalars})
        rows_changed = nodes != self.model.nodes
        self.model.update(nodes, values)
        if rows_changed:
            self.table_view.resizeColumnsToContents()
            header = self.table_view.horizontalHeader()
            width = header.length() + self.table_view.verticalScrollBar().sizeHint().width() + 4
            total = max(self.split.width(), width + 240)
            self.split.setSizes([width, total - width])
        self._show_events(step)

    def _show_events(self, step: int) -> None:
        head = self.reader.version
        if head != self._events_head:  # only the events written since the last read
            if self._new_events is None:
                self._new_events = NewEvents(self.reader)
            wanted = [e for e in self._new_events() if e.kind in EVENT_KINDS]
            self._events_cache += wanted
            self._events_steps += [e.step for e in wanted]
            self._events_head = head
        count = bisect.bisect_right(self._events_steps, step)
        if count == self._shown_count:
            return
        if count > self._shown_count:  # live: only new events, added on top (newest first)
            new = self._events_cache[self._shown_count:count]
        else:
            self.events.clear()
            new = self._events_cache[:count]
        self._shown_count = count
        for e in new:
            data = e.data if isinstance(e.data, dict) else {}
            mark = SEVERITY_MARK.get(data.get("severity", "error" if e.kind == "nan" else "warning"), "⚠")
            where = f" · {data['node']}" if data.get("node") else ""
            text = f"{mark} step {e.step}{where}: {e.message}"
            if data.get("advice"):
                text += f"\n    Advice: {data['advice']}"
            item = QListWidgetItem(text)
            item.setData(Qt.UserRole, data.get("node"))
            self.events.insertItem(0, item)

    def _row_clicked(self, index) -> None:
        if index.isValid():
            self.node_selected.emit(self.model.nodes[index.row()][0])

    def _event_clicked(self, item) -> None:
        node = item.data(Qt.UserRole)
        if node:
            self.node_selected.emit(node)

    def table(self):
        header = ["layer", "type", *(c[1] for c in COLUMNS)]
        rows = [[n, t, *(v.get(c[1], "") for c in COLUMNS)]
                for (n, t), v in zip(self.model.nodes, self.model.values)]
        return header, rows
