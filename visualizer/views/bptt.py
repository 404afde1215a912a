"""Gradients through time: how much of the loss's gradient reaches each time step of the
selected recurrent layer — log10 ‖dL/dh_t‖ over time step x training step, the profile at
the shown step, and dL/dh_t itself (units x time) for one probe sequence. A vanilla RNN's
profile falls off towards t = 0 (vanishing gradients); an LSTM's stays level."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout

from .base import View
from .records import RecordSeries, uniform_columns
from .style import diverging, plot_pen
from .widgets import (
    NO_DATA,
    HeatMap,
    HintStack,
    follow_x,
    forget_ranges,
    hold_range,
    legible_height,
    node_type,
    plain_label,
    probe_picker,
    range_levels,
    symmetric_levels,
    units_by_time,
)

HINT = "Select a recurrent layer (RNN, LSTM, GRU, ConvLSTM) on the canvas to see its gradients through time."
TINY = 1e-30  # log10 of an exact zero gradient: drawn as the floor of the colour scale


class GradientsThroughTimeView(View):
    title = "Gradients through time"
    applies_to = ("recurrent",)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sample, bar = probe_picker("Probe sequence", "Which sequence of the fixed probe batch the "
                                        "units × time map shows", lambda: self.show_step(self.step))
        bar.addStretch(1)
        self.graphics = pg.GraphicsLayoutWidget()
        g = self.graphics.ci
        self.history = HeatMap(g, 0, 0, "log₁₀ ‖dL/dh_t‖ over training", "training step",
                               "time step t", "log₁₀ norm", "viridis")
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((220, 220, 220), width=1))
        self.history.plot.addItem(self.cursor)
        self.profile_plot = g.addPlot(row=1, col=0, title="‖dL/dh_t‖ at the shown step")
        self.profile_plot.setLabel("bottom", "time step t")
        self.profile_plot.setLabel("left", "‖dL/dh_t‖")
        self.profile_plot.getAxis("left").enableAutoSIPrefix(False)
        self.profile_plot.setLogMode(y=True)
        self.profile_plot.showGrid(x=True, y=True, alpha=0.2)
        self.profile = self.profile_plot.plot(pen=plot_pen("train", 2), symbol="o", symbolSize=5,
                                              symbolBrush=plot_pen("train").color())
        self.units = HeatMap(g, 2, 0, "dL/dh_t of one probe sequence", "time step t", "unit",
                             "dL/dh_t", diverging())
        self.note = plain_label()
        self.stack = HintStack(self.graphics)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.note)
        self.series: RecordSeries | None = None
        self.column_steps = np.zeros(0, np.int64)
        self.current: tuple[int, np.ndarray] | None = None  # (record step, norm per t)
        self.stack.hint(HINT)

    def reset(self) -> None:
        self.series = None
        self.current = None
        self.history.clear()
        self.units.clear()
        self.profile.setData([], [])
        forget_ranges(self.profile_plot)

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        name = f"bptt/{self.node_id}/grad_norm_t"
        if self.series is None:
            if self.node_id is None or name not in self.reader.tensor_names():
                kind = node_type(self.reader, self.node_id)
                recurrent = kind in ("RNN", "LSTM", "GRU", "ConvLSTM")
                if recurrent and self.reader.tensor(name, 1 << 40) is None:
                    self.stack.hint(NO_DATA)
                else:
                    self.stack.hint(HINT if kind is None else f"'{self.node_id}' ({kind}) is not recurrent. {HINT}")
                return
            self.series = RecordSeries(self.reader, name)
        steps, norms = self.series.upto(step)
        self.cursor.setValue(step)  # moves between records too
        if len(steps) and self.already_drawn((len(steps), int(steps[-1]), self.sample.value())):
            return
        if not len(steps):
            self.stack.hint(NO_DATA)
            return
        self.stack.content()
        self.current = (int(steps[-1]), norms[-1].astype(np.float64))
        t = np.arange(len(norms[-1]))
        shown = np.maximum(self.current[1], TINY)
        self.profile.setData(t, shown)
        hold_range(self.profile_plot, "y", float(np.log10(shown.min())), float(np.log10(shown.max())))
        idx, (x0, x1) = uniform_columns(steps)
        # only the records the (at most 300) columns show, not every record kept
        image = np.log10(np.maximum(np.stack([norms[i] for i in idx.tolist()], axis=1).astype(np.float64), TINY))
        self.column_steps = steps[idx]
        self.history.set(image, rect=(x0, -0.5, x1 - x0, image.shape[0]), levels=range_levels(image))
        follow_x(self.history.plot, x0, x1, headroom=1 / 16 if self.growing else 0)
        got = self.reader.tensor(f"bptt/{self.node_id}/grad_h", step)
        if got is not None:
            grad = got[1]
            self.sample.setMaximum(grad.shape[0] - 1)
            k = min(self.sample.value(), grad.shape[0] - 1)
            m = units_by_time(grad[k])
            self.units.set(m, rect=(-0.5, -0.5, m.shape[1], m.shape[0]), levels=symmetric_levels(m))
            # every row of both maps at least ROW_PX tall: a small pane scrolls instead
            self.stack.set_min_height(legible_height(m.shape[1]) + legible_height(m.shape[0]) + 170)
        kind = node_type(self.reader, self.node_id) or ""
        first, last = self.current[1][0], self.current[1][-1]
        ratio = f"‖dL/dh₀‖ / ‖dL/dh_T‖ = {first / last:.2g}" if last > 0 else ""
        self.note.setText(f"{self.node_id} ({kind}) · step {steps[-1]} · {ratio}")

    def table(self):
        if self.current is None:
            return None
        step, norm = self.current
        return ["step", "t", "grad_norm"], [[step, t, float(v)] for t, v in enumerate(norm)]
