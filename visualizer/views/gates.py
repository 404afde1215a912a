"""Gates: the selected LSTM/GRU layer's gates and cell state for one probe sequence, each a
units x time heat map with the input symbols along the time axis; pick a unit (spin box, or
click a row of any map) to follow its gates and cell state as lines. On a^n b^n an LSTM
unit's cell state climbs through the a's and falls through the b's: it counts."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSpinBox, QVBoxLayout

from .base import View
from .style import diverging
from .widgets import (
    NO_DATA,
    HeatMap,
    HintStack,
    class_names,
    forget_ranges,
    hold_range,
    legend_title,
    legible_height,
    node_type,
    plain_label,
    probe_picker,
    set_ticks,
    set_title,
    symbol_label,
    symmetric_levels,
    units_by_time,
)

HINT = "Select an LSTM, GRU or ConvLSTM layer on the canvas to see its gates."
# record prefix -> [(gate, title, levels or None for symmetric, diverging colours)]
GATES = {
    "lstm": [("i", "input gate i", (0.0, 1.0), False), ("f", "forget gate f", (0.0, 1.0), False),
             ("g", "candidate g", (-1.0, 1.0), True), ("o", "output gate o", (0.0, 1.0), False),
             ("c", "cell state c", None, True), ("h", "hidden state h", (-1.0, 1.0), True)],
    "gru": [("r", "reset gate r", (0.0, 1.0), False), ("z", "update gate z", (0.0, 1.0), False),
            ("n", "candidate n", (-1.0, 1.0), True), ("h", "hidden state h", (-1.0, 1.0), True)],
}
GATES["convlstm"] = GATES["lstm"]
TRACE_COLOURS = {"i": (31, 119, 180), "f": (44, 160, 44), "g": (148, 103, 189), "o": (255, 127, 14),
                 "c": (214, 39, 40), "h": (140, 140, 140), "r": (31, 119, 180), "z": (44, 160, 44),
                 "n": (148, 103, 189)}


def input_symbols(x: np.ndarray, names: list[str]) -> list[str] | None:
    """The symbol at each time step of one probe sequence: token ids (T,) or one-hot
    vectors (T, len(names)); None if the input is neither."""
    if not names:
        return None
    if x.ndim == 1 and x.dtype.kind in "iu":
        ids = x
    elif x.ndim == 2 and x.shape[1] == len(names):
        ids = np.argmax(x, axis=1)
    else:
        return None
    return [symbol_label(names[i]) if 0 <= i < len(names) else "?" for i in ids.tolist()]


class GatesView(View):
    title = "Gates"
    applies_to = ("lstm_gates", "gru_gates", "convlstm_gates")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sample, bar = probe_picker("Probe sequence", "Which sequence of the fixed probe batch to show",
                                        lambda: self.show_step(self.step))
        self.unit = QSpinBox()
        self.unit.setToolTip("The unit whose gates are drawn as lines (or click a row of a map)")
        self.unit.valueChanged.connect(lambda _v: self._draw_traces())
        bar.addSpacing(12)
        bar.addWidget(QLabel("Unit"))
        bar.addWidget(self.unit)
        bar.addStretch(1)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.stack = HintStack(self.graphics)
        self.note = plain_label()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.note)
        self.kind: str | None = None       # record prefix of the built layout
        self.columns = 3
        self.maps: dict[str, HeatMap] = {}
        self.markers: list[pg.InfiniteLine] = []
        self.traces: dict[str, pg.PlotDataItem] = {}
        self.trace_plot: pg.PlotItem | None = None
        self.shown: dict[str, np.ndarray] = {}  # gate -> (H, T) drawn
        self.shown_step: int | None = None
        self.stack.hint(HINT)

    # -- layout, built once per kind of layer ------------------------------------------------
    def _build(self, kind: str) -> None:
        self.graphics.clear()
        self.maps, self.traces, self.markers = {}, {}, []
        g = self.graphics.ci
        gates = GATES[kind]
        cols = self.columns = 3 if self.width() >= 640 else 2
        for k, (gate, title, levels, div) in enumerate(gates):
            hm = HeatMap(g, k // cols, k % cols, title, "time step t (input symbol)", "unit", gate,
                         diverging() if div else "viridis")
            hm.bar.setFixedWidth(50)  # narrow bars leave room for six maps
            marker = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen((255, 255, 255, 160), width=1,
                                                                          style=Qt.DashLine))
            hm.plot.addItem(marker)
            self.maps[gate] = hm
            self.markers.append(marker)
        rows = (len(gates) + cols - 1) // cols
        self.trace_plot = g.addPlot(row=rows, col=0, colspan=cols, title="Gates of the chosen unit")
        self.trace_plot.getAxis("left").enableAutoSIPrefix(False)  # "value (x0.001)" misreads
        self.trace_plot.setLabel("bottom", "time step t (input symbol)")
        self.trace_plot.setLabel("left", "value")
        self.trace_plot.showGrid(x=True, y=True, alpha=0.2)
        for gate, title, _, _ in gates:
            self.traces[gate] = self.trace_plot.plot(name=gate, pen=pg.mkPen(TRACE_COLOURS[gate], width=2))
        self.kind = kind
        self.cache_axes()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self.kind is not None and self.reader is not None and self.columns != (3 if self.width() >= 640 else 2):
            self.show_step(self.step)  # rebuilt with as many columns as now fit

    def reset(self) -> None:
        self.shown = {}
        self.shown_step = None
        for hm in self.maps.values():
            hm.clear()
        for tr in self.traces.values():
            tr.setData([], [])
        if self.trace_plot is not None:
            forget_ranges(self.trace_plot)

    # -- drawing -----------------------------------------------------------------------------
    def _kind(self) -> str | None:
        if self.node_id is None:
            return None
        names = self.reader.tensor_names()
        for kind in GATES:
            if f"{kind}/{self.node_id}/{GATES[kind][0][0]}" in names:
                return kind
        return None

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        kind = self._kind()
        if kind is None:
            t = node_type(self.reader, self.node_id)
            if t in ("LSTM", "GRU", "ConvLSTM"):
                self.stack.hint(NO_DATA)
            else:
                self.stack.hint(HINT if t is None else f"'{self.node_id}' ({t}) has no gates. {HINT}")
            return
        if kind != self.kind or self.columns != (3 if self.width() >= 640 else 2):
            self._build(kind)
            self._forget()
        first = f"{kind}/{self.node_id}/{GATES[kind][0][0]}"
        if self.already_drawn((kind, self.latest_record(first, step), self.sample.value())):
            return
        recs = {}
        for gate, *_ in GATES[kind]:
            name = f"rnn/{self.node_id}/h" if gate == "h" else f"{kind}/{self.node_id}/{gate}"
            got = self.reader.tensor(name, step)
            if got is not None:
                recs[gate] = got
        if not recs:
            self.stack.hint(NO_DATA)
            return
        self.stack.content()
        first = next(iter(recs.values()))[1]
        self.sample.setMaximum(first.shape[0] - 1)
        k = min(self.sample.value(), first.shape[0] - 1)
        self.shown = {}
        for gate, title, levels, _ in GATES[kind]:
            if gate not in recs:
                self.maps[gate].clear()
                continue
            m = units_by_time(recs[gate][1][k])
            self.shown[gate] = m
            self.maps[gate].set(m, rect=(-0.5, -0.5, m.shape[1], m.shape[0]),
                                levels=levels or symmetric_levels(m))
        self.shown_step = next(iter(recs.values()))[0]
        n_units, n_t = next(iter(self.shown.values())).shape
        self.unit.setMaximum(n_units - 1)
        rows = (len(GATES[kind]) + self.columns - 1) // self.columns
        self.stack.set_min_height(rows * legible_height(n_units) + 190)  # a small pane scrolls
        self._set_symbols(k, n_t)
        self._draw_traces()
        where = "channels, averaged over pixels" if kind == "convlstm" else "units"
        self.note.setText(f"{self.node_id} ({node_type(self.reader, self.node_id) or kind}) · probe "
                          f"sequence {k} · step {self.shown_step} · {n_units} {where} × {n_t} time steps")

    def _set_symbols(self, k: int, n_t: int) -> None:
        probe = self.reader.probe_batch()
        symbols = input_symbols(probe[0][k], class_names(self.reader)) if probe is not None else None
        if symbols is None or len(symbols) != n_t:
            ticks = None
        else:
            ticks = [[(t, s) for t, s in enumerate(symbols)], []]
        # Small maps: the symbol only; the wide trace plot: the symbol above its time step.
        for hm in self.maps.values():
            set_ticks(hm.plot.getAxis("bottom"), ticks)
        if self.trace_plot is not None:
            set_ticks(self.trace_plot.getAxis("bottom"),
                      None if ticks is None else [[(t, f"{s}\n{t}") for t, s in ticks[0]]])

    def _draw_traces(self) -> None:
        if not self.shown:
            return
        u = min(self.unit.value(), next(iter(self.shown.values())).shape[0] - 1)
        for gate, m in self.shown.items():
            self.traces[gate].setData(np.arange(m.shape[1]), m[u])
        rows = np.stack([m[u] for m in self.shown.values()])
        finite = rows[np.isfinite(rows)]
        if finite.size and self.trace_plot is not None:
            hold_range(self.trace_plot, "y", float(finite.min()), float(finite.max()))
        for marker in self.markers:
            marker.setValue(u)
        if self.trace_plot is not None:
            keys = [(gate, TRACE_COLOURS[gate]) for gate in self.shown]
            set_title(self.trace_plot, legend_title(f"Unit {u}:", keys))

    def _clicked(self, event) -> None:
        pos = event.scenePos()
        for hm in self.maps.values():
            if hm.plot.sceneBoundingRect().contains(pos) and hm.values is not None:
                row = int(round(hm.plot.vb.mapSceneToView(pos).y()))
                if 0 <= row < hm.values.shape[0]:
                    self.unit.setValue(row)
                return

    def table(self):
        if not self.shown:
            return None
        gates = list(self.shown)
        n_units, n_t = self.shown[gates[0]].shape
        rows = [[self.shown_step, u, t, *(float(self.shown[g][u, t]) for g in gates)]
                for u in range(n_units) for t in range(n_t)]
        return ["step", "unit", "t", *gates], rows
