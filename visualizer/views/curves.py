"""Curves: train/validation loss and accuracy, learning rate and gradient norm over steps."""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout

from .base import View
from .style import SERIES, plot_pen
from .widgets import Legible, follow_x, forget_ranges, hold_range, legend_title, plain_label, set_title

# (plot title, y label, [(series name, legend, colour key)])
PANELS = (
    ("Loss", "loss", (("train/loss", "train", "train"), ("val/loss", "validation", "val"))),
    ("Accuracy", "accuracy", (("train/accuracy", "train", "train"), ("val/accuracy", "validation", "val"))),
    ("Learning rate", "lr", (("lr", "lr", "accent"),)),
    ("Gradient norm", "‖∇‖₂", (("grad_norm", "global", "accent"),)),
)
SMOOTHED = ("train/loss", "train/accuracy", "grad_norm")  # noisy per-step series
PLOT_HEIGHT = 180  # the least a plot needs to be read; a smaller pane scrolls
MIN_HEIGHT = 2 * PLOT_HEIGHT


def ema(values: np.ndarray, weight: float, state: tuple[float, float] = (0.0, 0.0)):
    """Exponential moving average with TensorBoard's debiasing, so early points are not
    pulled towards zero. ``state`` (acc, norm) continues a series smoothed before; returns
    (smoothed values, state after the last one), so a live curve smooths only its new tail."""
    acc, norm = state
    if weight <= 0 or len(values) == 0:
        return np.asarray(values, dtype=np.float64), state
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values.tolist()):  # new tails are short; a full pass is thousands
        acc = weight * acc + (1 - weight) * v
        norm = weight * norm + (1 - weight)
        out[i] = acc / norm
    return out, (acc, norm)


class Series:
    """One scalar series as drawn: raw and smoothed values in growing buffers."""

    def __init__(self):
        self.steps = np.zeros(0, np.float64)
        self.values = np.zeros(0, np.float64)
        self.smoothed = np.zeros(0, np.float64)
        self.state = (0.0, 0.0)

    def extend(self, steps, values, weight: float) -> None:
        smoothed, self.state = ema(values, weight, self.state)
        self.steps = np.concatenate([self.steps, np.asarray(steps, np.float64)])
        self.values = np.concatenate([self.values, values])
        self.smoothed = np.concatenate([self.smoothed, smoothed])

    def resmooth(self, weight: float) -> None:
        self.smoothed, self.state = ema(self.values, weight)


class CurvesView(View):
    title = "Curves"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.log_box = QCheckBox("Log scale (loss, grad norm)")
        self.smooth = QSlider(Qt.Horizontal)
        self.smooth.setRange(0, 99)
        self.smooth.setValue(60)
        self.smooth.setToolTip("Smoothing: exponential moving average weight (0 = raw)")
        self.readout = plain_label()
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        bar = QHBoxLayout()
        bar.addWidget(self.log_box)
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smooth, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        self.legible = Legible(self.layout_widget, MIN_HEIGHT)
        lay.addWidget(self.legible, 1)
        self.columns = 2
        lay.addWidget(self.readout)

        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.series: dict[str, Series] = {}
        self.cursors: list[pg.InfiniteLine] = []
        for i, (title, ylabel, series) in enumerate(PANELS):
            # the lines are named in the title: a legend inside the plot sits on the data
            plot = self.layout_widget.addPlot(row=i // 2, col=i % 2, title=legend_title(
                title, [(legend, SERIES[colour]) for _, legend, colour in series]) if len(series) > 1 else title)
            plot.setLabel("bottom", "step")
            plot.setLabel("left", ylabel)
            # No grid: a grid is painted by the axes over the whole plot, so every new
            # point would repaint them (half of this view's paint time live).
            plot.showGrid(x=False, y=False)
            plot.getAxis("left").enableAutoSIPrefix(False)  # "loss (x0.001)" reads badly
            for name, legend, colour in series:
                # Per-step series in 1 px lines: wider ones are stroked as polygons, which
                # made them 2.5x slower to paint live; the sparse validation points stand out.
                curve = plot.plot(name=legend, pen=plot_pen(colour, 1.6 if name.startswith("val/") else 1.0))
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                self.curves[name] = curve
            cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((150, 150, 150), style=Qt.DashLine))
            plot.addItem(cursor)
            self.cursors.append(cursor)
            self.plots[title] = plot
        self._loaded_head = -1
        self.reset()
        self.log_box.toggled.connect(self._apply_log)
        self.smooth.valueChanged.connect(lambda _v: self._resmooth())
        self._mouse = pg.SignalProxy(self.layout_widget.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._on_mouse)

    def resizeEvent(self, event):
        # Two columns of plots where they fit side by side, else one under the other.
        super().resizeEvent(event)
        cols = 2 if event.size().width() >= 620 else 1
        if cols != self.columns:
            self.columns = cols
            ci = self.layout_widget.ci
            for plot in self.plots.values():
                ci.removeItem(plot)
            for i, plot in enumerate(self.plots.values()):
                ci.addItem(plot, row=i // cols, col=i % cols)
        self.legible.set_min_height(PLOT_HEIGHT * ((len(self.plots) + self.columns - 1) // self.columns))

    @property
    def raw(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (steps, values) as recorded, up to the last head read."""
        return {n: (sr.steps, sr.values) for n, sr in self.series.items() if len(sr.steps)}

    def accuracy_title(self) -> str:
        """Per-step targets count every time step, padding included: the title says so."""
        info = (self.reader.dataset_info or {}) if self.reader is not None else {}
        target = info.get("target_shape") or ()
        base = legend_title("Accuracy", [(legend, SERIES[colour]) for _, legend, colour in PANELS[1][2]])
        if len(target) != 1:
            return base
        names = [str(c) for c in info.get("class_names") or []]
        pad = "$" if "$" in names else ("_" if "_" in names else None)
        note = f"every one of {target[0]} steps" + (f", '{pad}' padding included" if pad else "")
        return f"{base}<br><span style='font-size: 8pt'>({html.escape(note)})</span>"

    def reset(self) -> None:
        set_title(self.plots["Accuracy"], self.accuracy_title())
        self.series = {name: Series() for name in self.curves}
        self._loaded_head = -1
        for c in self.curves.values():
            c.setData([], [])
        forget_ranges(*self.plots.values())

    def _weight(self, name: str) -> float:
        return self.smooth.value() / 100.0 if name in SMOOTHED else 0.0

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        head = self.reader.last_step
        if head != self._loaded_head:  # new commits: read only the new tail of each series
            tails = self.reader.scalar_tails(
                {name: int(sr.steps[-1]) + 1 if len(sr.steps) else None for name, sr in self.series.items()},
                upto=head)
            for name, series in self.series.items():
                steps, values = tails[name]
                if len(steps):
                    series.extend(steps, values, self._weight(name))
                    self.curves[name].setData(series.steps, series.smoothed)
            self._loaded_head = head
            self._frame_y()
        recorded = [sr.steps for sr in self.series.values() if len(sr.steps)]
        if recorded:  # also when the run ends: the range then fits the steps
            lo, hi = min(float(s[0]) for s in recorded), max(float(s[-1]) for s in recorded)
            for plot in self.plots.values():
                follow_x(plot, lo, hi, headroom=0.25 if self.growing else 0)
        for cursor in self.cursors:
            cursor.setValue(step)

    def _frame_y(self) -> None:
        """Hold each plot's y range around its series (see ``hold_range``: auto range
        would move it, regenerate the axis and paint again on every frame). A constant
        series (a fixed learning rate) is framed from zero, where 0.003 does not read as 0."""
        for title, _, series in PANELS:
            plot = self.plots[title]
            log = plot.getViewBox().state["logMode"][1]
            values = [v[np.isfinite(v) & (v > 0 if log else True)]
                      for v in (self.series[name].smoothed for name, _, _ in series)]
            values = [np.log10(v) if log else v for v in values if v.size]
            if not values:
                continue
            lo, hi = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
            if hi == lo and not log:
                lo, hi = min(lo, 0.0), max(hi, 0.0)
            hold_range(plot, "y", lo, hi)

    def _resmooth(self) -> None:
        for name, series in self.series.items():
            series.resmooth(self._weight(name))
            if len(series.steps):
                self.curves[name].setData(series.steps, series.smoothed)
        self._frame_y()

    def _apply_log(self, on: bool) -> None:
        for title in ("Loss", "Gradient norm"):
            self.plots[title].setLogMode(y=on)  # auto range comes back on: held ranges are redone
        self._frame_y()

    def _on_mouse(self, event) -> None:
        pos = event[0]
        for title, plot in self.plots.items():
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                parts = [f"step {int(round(x))}"]
                for name, (steps, values) in self.raw.items():
                    if len(steps) and any(name == s[0] for p in PANELS if p[0] == title for s in p[2]):
                        i = int(np.clip(np.searchsorted(steps, x), 0, len(steps) - 1))
                        parts.append(f"{name} = {values[i]:.4g} (step {int(steps[i])})")
                self.readout.setText(" · ".join(parts))
                return

    def table(self):
        names = sorted(self.raw)
        all_steps = sorted({int(s) for n in names for s in self.raw[n][0]})
        lookup = {n: dict(zip(self.raw[n][0].astype(int).tolist(), self.raw[n][1].tolist())) for n in names}
        rows = [[s] + [lookup[n].get(s, "") for n in names] for s in all_steps]
        return ["step", *names], rows
