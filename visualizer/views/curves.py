"""Curves: train/validation loss and accuracy, learning rate and gradient norm over steps."""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout

from .base import View
from .envelope import Envelope, ema
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
# Stretches of points per pixel column drawn, each as its lowest and highest point: what a
# 1 px line shows anyway. pyqtgraph draws 5 (10 points a pixel), whose stroking was most of
# this view's paint time live.
DOWNSAMPLE = 1.0
RESMOOTH_MS = 150


class Series:
    """One scalar series as drawn: smoothed, held as a bounded envelope (see ``Envelope``)."""

    def __init__(self):
        self.shown = Envelope()
        self.state = (0.0, 0.0)

    def extend(self, steps, values, weight: float) -> None:
        smoothed, self.state = ema(values, weight, self.state)
        self.shown.extend(steps, smoothed)

    @property
    def next_step(self) -> int | None:
        """Where the next read starts (None: from the beginning)."""
        return None if self.shown.last is None else int(self.shown.last[0]) + 1


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
                curve = plot.plot(name=legend, pen=plot_pen(colour, 1.6 if name.startswith("val/") else 1.0),
                                  autoDownsampleFactor=DOWNSAMPLE)
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
        # Smoothing again re-reads every recorded value (a second for a million steps): once
        # the slider has stopped, not on every value it passes through while dragged.
        self._resmooth_later = QTimer(self, singleShot=True, interval=RESMOOTH_MS)
        self._resmooth_later.timeout.connect(self._resmooth)
        self.smooth.valueChanged.connect(lambda _v: self._resmooth_later.start())
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
        head = self.reader.version
        if head != self._loaded_head:  # new commits: read only the new tail of each series
            tails = self.reader.scalar_tails({name: sr.next_step for name, sr in self.series.items()},
                                             upto=self.reader.last_step)
            for name, series in self.series.items():
                steps, values = tails[name]
                if len(steps):
                    series.extend(steps, values, self._weight(name))
                    self.curves[name].setData(*series.shown.points())
            self._loaded_head = head
            self._frame_y()
        recorded = [sr for sr in self.series.values() if sr.next_step is not None]
        if recorded:  # also when the run ends: the range then fits the steps
            lo, hi = min(sr.shown.first[0] for sr in recorded), max(sr.shown.last[0] for sr in recorded)
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
            ranges = [r for r in (self.series[name].shown.finite_range(positive=log) for name, _, _ in series) if r]
            if not ranges:
                continue
            lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
            if log:
                lo, hi = float(np.log10(lo)), float(np.log10(hi))
            if hi == lo and not log:
                lo, hi = min(lo, 0.0), max(hi, 0.0)
            hold_range(plot, "y", lo, hi)

    def set_smoothing(self, weight: int) -> None:
        """Set the smoothing (0-99) and draw with it now (the slider waits until it stops)."""
        self.smooth.blockSignals(True)
        self.smooth.setValue(weight)
        self.smooth.blockSignals(False)
        self._resmooth_later.stop()
        self._resmooth()

    def _resmooth(self) -> None:
        """Smooth again from the values as recorded (the view keeps only what it draws)."""
        self.series = {name: Series() for name in self.curves}
        self._loaded_head = -1
        if self.reader is not None:
            QGuiApplication.setOverrideCursor(Qt.WaitCursor)
            try:
                self.show_step(self.step)
            finally:
                QGuiApplication.restoreOverrideCursor()

    def _apply_log(self, on: bool) -> None:
        for title in ("Loss", "Gradient norm"):
            self.plots[title].setLogMode(y=on)  # auto range comes back on: held ranges are redone
        self._frame_y()

    def _on_mouse(self, event) -> None:
        pos = event[0]
        if self.reader is None:
            return
        for title, _, series in PANELS:
            plot = self.plots[title]
            if plot.sceneBoundingRect().contains(pos):
                x = int(round(plot.vb.mapSceneToView(pos).x()))
                parts = [f"step {x}"]
                for name, _, _ in series:
                    got = self.reader.scalar_near(name, x)
                    if got is not None:
                        parts.append(f"{name} = {got[1]:.4g} (step {got[0]})")
                self.readout.setText(" · ".join(parts))
                return

    def table(self):
        """Every series as recorded (not as drawn: a long run is drawn from its envelope)."""
        if self.reader is None:
            return None
        head = self.reader.last_step
        got = {name: self.reader.scalar(name, upto=head) for name in sorted(self.curves)}
        names = [n for n in sorted(got) if len(got[n][0])]
        all_steps = sorted({int(s) for n in names for s in got[n][0]})
        lookup = {n: dict(zip(got[n][0].tolist(), got[n][1].tolist())) for n in names}
        rows = [[s] + [lookup[n].get(s, "") for n in names] for s in all_steps]
        return ["step", *names], rows
