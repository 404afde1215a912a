"""Activations: the selected layer's output histogram over training (training step x value
bins) and the histogram at the timeline step."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout

from .base import View
from .records import RecordSeries, uniform_columns
from .style import SERIES
from .widgets import NO_DATA, HeatMap, HintStack, follow_x, forget_ranges, hold_range, node_type, plain_label


def fractions(record: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """A stored histogram (row 0: bins + 1 edges; row 1: counts, then the non-finite count)
    -> (edges, fraction of all values per bin, non-finite count)."""
    edges, counts = record[0], record[1][:-1]
    bad = float(record[1][-1])
    total = counts.sum() + bad
    return edges, counts / total if total > 0 else counts * 0.0, bad


def rebin(edges: np.ndarray, values: np.ndarray, new_edges: np.ndarray) -> np.ndarray:
    """Histogram mass moved onto other bins, assuming values spread evenly within a bin
    (interpolate the cumulative sum). Exact when the edges are the same."""
    if len(edges) == len(new_edges) and np.allclose(edges, new_edges):
        return values
    cum = np.concatenate([[0.0], np.cumsum(values)])
    return np.diff(np.interp(new_edges, edges, cum))


class ActivationsView(View):
    title = "Activations"
    applies_to = ("activation",)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.heat = HeatMap(self.graphics.ci, 0, 0, "Histogram over training", "training step",
                            "activation value", "fraction of values", "viridis")
        self.bars_plot = self.graphics.addPlot(row=1, col=0, title="Histogram at the shown step")
        self.bars_plot.setLabel("bottom", "activation value")
        self.bars_plot.setLabel("left", "fraction of values")
        self.bars_plot.getAxis("left").enableAutoSIPrefix(False)
        self.bars = pg.BarGraphItem(x0=[], x1=[], height=[], brush=pg.mkBrush(*SERIES["train"], 200),
                                    pen=pg.mkPen(None))
        self.bars_plot.addItem(self.bars)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((220, 220, 220), width=1))
        self.heat.plot.addItem(self.cursor)
        self.note = plain_label()
        self.stack = HintStack(self.graphics)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.note)
        self.series: RecordSeries | None = None
        self._columns: dict[tuple, np.ndarray] = {}  # (record step, bins) -> rebinned column
        self.column_steps = np.zeros(0, np.int64)  # the record step each heat-map column shows
        self.current: tuple[int, np.ndarray, np.ndarray] | None = None  # (step, edges, fractions)
        self.stack.hint("Select a layer on the canvas to see its activations.")

    def reset(self) -> None:
        self._columns = {}
        self.series = None
        self.current = None
        self.column_steps = np.zeros(0, np.int64)
        self.heat.clear()
        self.bars.setOpts(x0=[], x1=[], height=[])
        forget_ranges(self.bars_plot)

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        if self.node_id is None:
            self.stack.hint("Select a layer on the canvas to see its activations.")
            return
        name = f"act_hist/{self.node_id}"
        if self.series is None:
            names = self.reader.tensor_names()
            if name not in names:
                if not any(n.startswith("act_hist/") for n in names):
                    self.stack.hint(NO_DATA)
                else:
                    kind = node_type(self.reader, self.node_id) or "this layer"
                    self.stack.hint(f"'{self.node_id}' ({kind}) records no activation histograms. "
                                    f"Select a layer with outputs, e.g. a Dense, Conv2d or ReLU node.")
                return
            self.series = RecordSeries(self.reader, name)
        steps, recs = self.series.upto(step)
        self.cursor.setValue(step)  # moves between records too
        if len(steps) and self.already_drawn((len(steps), int(steps[-1]))):
            return
        if not len(steps):
            self.stack.hint(NO_DATA)
            return
        self.stack.content()
        edges, frac, bad = fractions(recs[-1])
        self.current = (int(steps[-1]), edges, frac)
        self.bars.setOpts(x0=edges[:-1], x1=edges[1:], height=frac)
        hold_range(self.bars_plot, "x", float(edges[0]), float(edges[-1]))
        hold_range(self.bars_plot, "y", 0.0, float(frac.max()) if len(frac) else 1.0)
        lo = min(float(r[0][0]) for r in recs)
        hi = max(float(r[0][-1]) for r in recs)
        common = np.linspace(lo, hi, len(edges))
        idx, (x0, x1) = uniform_columns(steps)
        # Rebin only the records the (at most 300) columns show: a long run has thousands.
        columns = {i: self._column(int(steps[i]), recs[i], lo, hi, common) for i in np.unique(idx).tolist()}
        image = np.stack([columns[i] for i in idx.tolist()], axis=1)  # rows: value bins, columns: steps
        self.column_steps = steps[idx]
        self.heat.set(image, rect=(x0, lo, x1 - x0, hi - lo), levels=(0.0, max(float(image.max()), 1e-6)))
        follow_x(self.heat.plot, x0, x1, headroom=1 / 16 if self.growing else 0)
        kind = node_type(self.reader, self.node_id) or ""
        extra = f" · {bad:.0f} NaN/inf values" if bad else ""
        self.note.setText(f"{self.node_id} ({kind}) · histogram of step {steps[-1]} "
                          f"({len(steps)} recorded up to step {step}){extra}")

    def _column(self, step: int, record: np.ndarray, lo: float, hi: float, common: np.ndarray) -> np.ndarray:
        """One record rebinned onto the shared value bins, kept while the bins stay the
        same: scrubbing a long run shows mostly the same 300 columns again."""
        key = (step, lo, hi, len(common))
        col = self._columns.get(key)
        if col is None:
            if len(self._columns) > 4000:
                self._columns.clear()
            col = self._columns[key] = rebin(*fractions(record)[:2], common)
        return col

    def table(self):
        if self.current is None:
            return None
        step, edges, frac = self.current
        return (["step", "bin_low", "bin_high", "fraction"],
                [[step, float(a), float(b), float(f)] for a, b, f in zip(edges[:-1], edges[1:], frac)])
