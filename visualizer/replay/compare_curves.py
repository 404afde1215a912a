"""Training curves of several runs overlaid, one colour and one legend entry per run, on a
step axis or a relative-progress axis (0-100 % of each run)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ..views.envelope import ema
from ..views.widgets import legend_title

RUN_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127))
# (plot title, series, smoothing weight)
PANELS = (("Training loss", "train/loss", 0.6), ("Validation loss", "val/loss", 0.0),
          ("Training accuracy", "train/accuracy", 0.6), ("Validation accuracy", "val/accuracy", 0.0))


def run_colour(i: int):
    return RUN_COLOURS[i % len(RUN_COLOURS)]


class CompareCurves(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.plots: dict[str, pg.PlotItem] = {}
        self.cursors: list[pg.InfiniteLine] = []
        self.curves: dict[tuple[int, str], pg.PlotDataItem] = {}  # (run index, series) -> curve
        self.raw: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        self.heads: list[int] = []
        self.mode = "step"
        self.labels: list[str] = []
        # one key of the runs' colours above the plots: legends inside them sat on the data
        self.key = self.addLabel("", row=0, col=0, colspan=2)
        for i, (title, _, _) in enumerate(PANELS):
            plot = self.addPlot(row=1 + i // 2, col=i % 2, title=title)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.getAxis("left").enableAutoSIPrefix(False)
            cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((150, 150, 150), style=Qt.DashLine))
            plot.addItem(cursor)
            self.cursors.append(cursor)
            self.plots[title] = plot

    def set_runs(self, readers, labels) -> None:
        """Called once, by the compare window, with the runs it compares."""
        self.heads = [max(r.last_step, 1) for r in readers]
        self.labels = list(labels)
        self.key.setText(legend_title("", [(label, run_colour(i)) for i, label in enumerate(labels)]))
        for i, (reader, label) in enumerate(zip(readers, labels)):
            names = set(reader.scalar_names())
            for title, series, weight in PANELS:
                if series not in names:
                    continue
                steps, values = reader.scalar(series)
                self.raw[(i, series)] = (steps.astype(np.float64), ema(values, weight)[0])
                curve = self.plots[title].plot(name=label, pen=pg.mkPen(run_colour(i), width=2))
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                self.curves[(i, series)] = curve
        self.set_mode(self.mode)

    def set_mode(self, mode: str) -> None:
        """'step': x is the training step; 'progress': x is the % of each run's steps."""
        self.mode = mode
        for (i, series), curve in self.curves.items():
            steps, values = self.raw[(i, series)]
            x = steps if mode == "step" else 100.0 * steps / self.heads[i]
            curve.setData(x, values)
        for plot in self.plots.values():
            plot.setLabel("bottom", "step" if mode == "step" else "progress (% of each run)")

    def table(self) -> tuple[list[str], list[list]]:
        """Every run's curves, one row per point (smoothed as drawn), for CSV export."""
        rows = []
        for (i, series), (steps, values) in sorted(self.raw.items()):
            for st, v in zip(steps.tolist(), values.tolist()):
                rows.append([self.labels[i], series, int(st), float(v)])
        return ["run", "series", "step", "value"], rows

    def set_cursor(self, x: float) -> None:
        for c in self.cursors:
            c.setValue(x)
