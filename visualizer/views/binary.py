"""Binary weights: what a BWN/XNOR layer does while it learns (records of
engine.probes.binary). The latent real weights W and the binary weights α·sign(W) the layer
computes with, as histograms over training; the scale α of every output channel over
training; the signs that flip in each update and the fraction of gradients the
straight-through estimator cancels (weights beyond ±1, XNOR inputs beyond ±1); and the
kernels at the shown step, latent and binarised side by side. For a real-valued layer
(the twin of a binary net, in Compare) the weight histogram stands alone."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout

from .activations import fractions, rebin
from .base import View
from .records import RecordSeries, uniform_columns
from .style import SERIES, diverging
from .widgets import (
    NO_DATA,
    HeatMap,
    HintStack,
    Mosaic,
    follow_x,
    forget_ranges,
    hold_range,
    legend_title,
    node_type,
    plain_label,
    range_levels,
    set_label,
    set_title,
    symmetric_levels,
)

HINT = "Select a BinaryConv2d or BinaryDense layer on the canvas to see its latent and binary weights."
BINARY_TYPES = ("BinaryConv2d", "BinaryDense")
# the per-step series: (record suffix, legend, colour)
# (the two STE lines: the fractions of weights and of inputs whose gradient is cancelled)
LINES = (("flip_frac", "flips", SERIES["train"]),
         ("ste_cancelled_w", "|W|>1", SERIES["bad"]),
         ("ste_cancelled_x", "|x|>1", SERIES["val"]))
FLOOR = 1e-4  # in %: the lowest a log axis shows; exact zeros are left out of the lines
PLOT_HEIGHT = 190  # each row of plots at least this tall: a small pane scrolls instead


def columns_for(width: int) -> int:
    """Three columns of plots in a wide pane (two rows), two in a middling one, one in a narrow one."""
    return 3 if width >= 1050 else 2 if width >= 620 else 1


def histogram_image(steps: np.ndarray, recs: list[np.ndarray]):
    """Stored histograms over training -> (image: value bins x columns of fractions, x
    range, (lo, hi) value range, the record step of each column)."""
    lo = min(float(r[0][0]) for r in recs)
    hi = max(float(r[0][-1]) for r in recs)
    common = np.linspace(lo, hi, len(recs[-1][0]))
    idx, xr = uniform_columns(steps)
    cols = {i: rebin(*fractions(recs[i])[:2], common) for i in np.unique(idx).tolist()}
    return np.stack([cols[i] for i in idx.tolist()], axis=1), xr, (lo, hi), steps[idx]


def binarised(latent: np.ndarray, sign: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The weights the layer computes with, α_c·sign(W), for the recorded kernels."""
    return sign.astype(np.float32) * alpha[:len(sign)].reshape(-1, *[1] * (sign.ndim - 1)).astype(np.float32)


def kernel_tiles(w: np.ndarray) -> tuple[np.ndarray, Mosaic | None]:
    """A conv layer's (C_out, C_in, k, k) kernels as one mosaic image, a column per output
    channel and a row per input channel (wide, as the plots are); a dense layer's (units,
    inputs) matrix as it is."""
    if w.ndim != 4:
        return np.ascontiguousarray(w, dtype=np.float32), None
    cout, cin, kh, kw = w.shape
    mosaic = Mosaic(cout * cin, kh, kw, cols=cout)
    return mosaic.assemble(w.transpose(1, 0, 2, 3).reshape(cin * cout, kh, kw)), mosaic


class BinaryWeightsView(View):
    title = "Binary weights"
    # binary layers first; a real layer with weights (the twin in Compare) shows its histogram
    applies_to = ("binary", "weights")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        g = self.graphics.ci
        self.latent = HeatMap(g, 0, 0, "Latent W", "training step", "weight value",
                              "fraction", "viridis")
        self.binary = HeatMap(g, 0, 1, "Binary α·sign(W)", "training step", "weight value",
                              "fraction", "viridis")
        self.alpha = HeatMap(g, 1, 0, "α = mean |W|", "training step", "output channel",
                             "α", "viridis")
        self.rates = g.addPlot(row=1, col=1, enableMenu=False)
        self.rates.setLabel("bottom", "training step")
        self.rates.setLabel("left", "% per step")
        self.rates.setLogMode(y=True)
        self.rates.showGrid(x=True, y=True, alpha=0.2)
        self.rates.getAxis("left").enableAutoSIPrefix(False)
        self.lines = {key: self.rates.plot(pen=pg.mkPen(colour, width=1.6), connect="finite")
                      for key, _, colour in LINES}
        self.filters_latent = HeatMap(g, 2, 0, "Latent W", "", "", "W", diverging())
        self.filters_binary = HeatMap(g, 2, 1, "Binarised α·sign(W)", "", "", "α·sign(W)", diverging())
        for hm in (self.filters_latent, self.filters_binary):
            hm.plot.invertY(True)
            for side in ("bottom", "left"):
                hm.plot.getAxis(side).setTicks([[]])
        self.cursors = []
        for plot in (self.latent.plot, self.binary.plot, self.alpha.plot, self.rates):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((220, 220, 220), width=1))
            plot.addItem(line)
            self.cursors.append(line)
        for plot in (self.latent.plot, self.binary.plot, self.alpha.plot, self.rates,
                     self.filters_latent.plot, self.filters_binary.plot):
            set_title(plot, plot.titleLabel.text)  # a long title is cut at the pane's edge
        self.binary_only = [self.binary.plot, self.alpha.plot, self.rates, self.filters_latent.plot,
                            self.filters_binary.plot]
        self.plots = [self.latent.plot, *self.binary_only]   # in reading order
        self.columns = 2
        self.note = plain_label()
        self.note.setWordWrap(True)
        self.stack = HintStack(self.graphics, min_height=3 * PLOT_HEIGHT)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.note)
        self.series: dict[str, RecordSeries] = {}
        self._scalars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._scalars_head = None
        self.shown: dict = {}   # what is drawn, for tests and CSV: name -> values
        self.stack.hint(HINT)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._arrange(columns_for(event.size().width()))

    def _arrange(self, cols: int) -> None:
        if cols != self.columns:
            self.columns = cols
            ci = self.graphics.ci
            for plot in self.plots:
                ci.removeItem(plot)
            for i, plot in enumerate(self.plots):
                ci.addItem(plot, row=i // cols, col=i % cols)
        shown = len(self.plots) if self.binary.plot.isVisible() else 1
        # the grid's cached minimum width still counts the titles' full widths (set_title lets
        # them be cut): ask it again, so that the pane scrolls only when the plots do not fit
        for plot in self.plots:
            plot.updateGeometry()
        self.graphics.ci.layout.invalidate()
        self.stack.set_min_height(PLOT_HEIGHT * -(-shown // cols))

    def reset(self) -> None:
        self.series = {}
        self._scalars, self._scalars_head = {}, None
        self.shown = {}
        for hm in (self.latent, self.binary, self.alpha, self.filters_latent, self.filters_binary):
            hm.clear()
        for line in self.lines.values():
            line.setData([], [])
        forget_ranges(self.rates)

    # -- reading ------------------------------------------------------------------------------
    def _series(self, name: str) -> RecordSeries:
        s = self.series.get(name)
        if s is None:
            s = self.series[name] = RecordSeries(self.reader, name)
        return s

    def _scalar(self, name: str, step: int) -> tuple[np.ndarray, np.ndarray]:
        """A per-step series up to ``step``; new rows are read once per commit."""
        head = self.reader.version
        if head != self._scalars_head:
            self._scalars_head = head
            since = {n: (int(s[-1]) + 1 if len(s) else None) for n, (s, _) in self._scalars.items()}
            for n, (s, v) in self.reader.scalar_tails(since).items():
                old_s, old_v = self._scalars[n]
                self._scalars[n] = (np.concatenate([old_s, s]), np.concatenate([old_v, v]))
        if name not in self._scalars:
            self._scalars[name] = self.reader.scalar(name)
        steps, values = self._scalars[name]
        keep = steps <= step
        return steps[keep], values[keep]

    # -- drawing ------------------------------------------------------------------------------
    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        node = self.node_id
        names = self.reader.tensor_names()
        kind = node_type(self.reader, node)
        hist_name, alpha_name = f"weight_hist/{node}", f"binary/{node}/alpha"
        if node is None or hist_name not in names:
            if kind is not None and self.reader.last_step < 0:
                self.stack.hint(NO_DATA)
            else:
                self.stack.hint(HINT if kind is None else f"'{node}' ({kind}) has no weights to show. {HINT}")
            return
        is_binary = alpha_name in names
        for cursor in self.cursors:
            cursor.setValue(step)
        steps, recs = self._series(hist_name).upto(step)
        key = (len(steps), int(steps[-1]) if len(steps) else None, is_binary,
               self._scalar_count(node, step) if is_binary else 0)
        if not len(steps):
            self.stack.hint(NO_DATA)
            return
        if self.already_drawn(key):
            return
        self.stack.content()
        if any(plot.isVisible() != is_binary for plot in self.binary_only):
            for plot in self.binary_only:
                plot.setVisible(is_binary)
            self.stack.set_min_height(PLOT_HEIGHT * (-(-len(self.plots) // self.columns) if is_binary else 1))
        self._history(self.latent, steps, recs, "latent")
        if not is_binary:
            self._zoom_values(self.latent)
            set_title(self.latent.plot, "Weights W (real-valued)")
            self.note.setText(f"{node} ({kind}) is real-valued: its 32-bit weights are used as they are, so it has "
                              f"no signs, scales, flips or straight-through estimator. Its weight histogram is "
                              f"shown for comparison with a binary layer's latent weights.")
            return
        b_steps, b_recs = self._series(f"binary/{node}/hist").upto(step)
        if len(b_steps):
            self._history(self.binary, b_steps, b_recs, "binary")
        self._zoom_values(self.latent, self.binary)
        set_label(self.alpha.plot, "left", "output channel" if kind == "BinaryConv2d" else "output unit")
        set_title(self.latent.plot, "Latent W")
        a_steps, alphas = self._series(alpha_name).upto(step)
        if len(a_steps):
            idx, (x0, x1) = uniform_columns(a_steps)
            image = np.stack([alphas[i] for i in idx.tolist()], axis=1).astype(np.float32)  # channels x columns
            self.alpha.set(image, rect=(x0, -0.5, x1 - x0, image.shape[0]), levels=range_levels(image))
            follow_x(self.alpha.plot, x0, x1, headroom=1 / 16 if self.growing else 0)
            self.shown["alpha"] = (a_steps[idx], image)
        self._rates(node, step)
        self._kernels(node, step, names)
        self._note(node, kind, step, names)

    def _scalar_count(self, node: str, step: int) -> int:
        return len(self._scalar(f"binary/{node}/flip_frac", step)[0])

    def _history(self, hm: HeatMap, steps, recs, key: str) -> None:
        image, (x0, x1), (lo, hi), col_steps = histogram_image(steps, recs)
        hm.set(image, rect=(x0, lo, x1 - x0, hi - lo), levels=(0.0, max(float(image.max()), 1e-6)))
        follow_x(hm.plot, x0, x1, headroom=1 / 16 if self.growing else 0)
        self.shown[key] = (col_steps, image, (lo, hi))

    def _zoom_values(self, *maps: HeatMap) -> None:
        """The value axis of the histograms on the bins that hold weights: a histogram's
        range is fixed at its first record, a 1-2-5 number that can be twice the weights'
        reach, and latent weights often stay well inside it."""
        spans = []
        for hm in maps:
            image = hm.values
            if image is None or not image.size:
                continue
            rect = hm.image.mapRectToParent(hm.image.boundingRect())
            rows = np.flatnonzero(image.max(axis=1) > 0)
            if len(rows):
                step = rect.height() / image.shape[0]
                spans += [rect.top() + rows[0] * step, rect.top() + (rows[-1] + 1) * step]
        if spans:
            for hm in maps:
                hold_range(hm.plot, "y", min(spans), max(spans))

    def _rates(self, node: str, step: int) -> None:
        entries, top, x_hi = [], [], 1.0
        for suffix, label, colour in LINES:
            s, v = self._scalar(f"binary/{node}/{suffix}", step)
            pct = 100.0 * v
            self.shown[suffix] = (s, pct)
            drawn = np.where(pct > 0, np.maximum(pct, FLOOR), np.nan)
            self.lines[suffix].setData(s.astype(np.float64), drawn)
            if len(s):
                entries.append((label, colour))
                x_hi = max(x_hi, float(s[-1]))
                if np.any(pct > 0):
                    top.append(float(np.nanmax(drawn)))
                    top.append(float(np.nanmin(drawn)))
        set_title(self.rates, legend_title("% per step", entries))
        self.rates.setToolTip("Per measured step: the signs that flipped in the update, and the weights (|W| > 1) "
                              "and inputs (|x| > 1) whose gradient the straight-through estimator cancels")
        if top:
            hold_range(self.rates, "y", float(np.log10(min(top))), float(np.log10(max(top))))
        follow_x(self.rates, 0.0, x_hi, headroom=0.25 if self.growing else 0)

    def _kernels(self, node: str, step: int, names: list[str]) -> None:
        got_l = self.reader.tensor(f"binary/{node}/latent", step)
        got_s = self.reader.tensor(f"binary/{node}/sign", step)
        got_a = self.reader.tensor(f"binary/{node}/alpha", step)
        if got_l is None or got_s is None or got_a is None:
            return
        latent, sign, alpha = got_l[1].astype(np.float32), got_s[1], got_a[1]
        bin_w = binarised(latent, sign, alpha)
        img_l, mosaic = kernel_tiles(latent)
        img_b, _ = kernel_tiles(bin_w)
        self.filters_latent.set(img_l, levels=symmetric_levels(latent))
        self.filters_binary.set(img_b, levels=symmetric_levels(bin_w))
        across, down = ("output channel →", "input channel ↓") if mosaic is not None else ("input →", "output unit ↓")
        for hm in (self.filters_latent, self.filters_binary):
            set_label(hm.plot, "bottom", across)
            set_label(hm.plot, "left", down)
            hm.plot.setAspectLocked(mosaic is not None)  # square kernel pixels; a dense matrix fills the plot
        set_title(self.filters_latent.plot, f"Latent W, step {got_l[0]}")
        set_title(self.filters_binary.plot, f"α·sign(W), step {got_l[0]}")
        self.shown["kernels"] = (got_l[0], latent, bin_w)

    def _note(self, node: str, kind: str, step: int, names: list[str]) -> None:
        mode = next((n.get("params", {}).get("mode", "xnor") for n in (self.reader.graph or {}).get("nodes", [])
                     if isinstance(n, dict) and n.get("id") == node), "xnor")
        parts = [f"{node} ({kind}, {mode})"]
        flips = self.shown.get("flip_frac")
        if flips is not None and len(flips[0]):
            parts.append(f"step {flips[0][-1]}: {flips[1][-1]:.3g} % of the signs flipped")
        cancelled = self.shown.get("ste_cancelled_w")
        if cancelled is not None and len(cancelled[0]):
            parts.append(f"STE cancels {cancelled[1][-1]:.3g} % of the weight gradients")
        inputs = self.shown.get("ste_cancelled_x")
        if inputs is not None and len(inputs[0]):
            parts.append(f"{inputs[1][-1]:.3g} % of the input gradients")
        alpha = self.shown.get("alpha")
        if alpha is not None:
            a = alpha[1][:, -1]
            parts.append(f"α {a.min():.3g} … {a.max():.3g}")
        got_k = self.reader.tensor(f"binary/{node}/K", step) if f"binary/{node}/K" in names else None
        if got_k is not None:
            k = got_k[1].astype(np.float64)
            self.shown["K"] = (got_k[0], k)
            parts.append(f"K (mean |x| per probe input) {k.mean():.3g}, {k.min():.3g} … {k.max():.3g}")
        self.note.setText(" · ".join(parts))

    def table(self):
        rows = []
        for suffix, _, _ in LINES:
            s, pct = self.shown.get(suffix, (np.zeros(0), np.zeros(0)))
            rows += [[suffix, int(a), float(b)] for a, b in zip(s, pct)]
        alpha = self.shown.get("alpha")
        if alpha is not None:
            rows += [[f"alpha[{c}]", int(alpha[0][-1]), float(v)] for c, v in enumerate(alpha[1][:, -1])]
        return (["quantity", "step", "value (% per step for rates)"], rows) if rows else None
