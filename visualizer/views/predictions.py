"""Predictions: the validation confusion matrix with class names, and what the model says
about the probe inputs in the form that fits the dataset — images with predicted labels,
per-step symbols of a sequence, a forecast against its target, generated text, or the
predicted next frame."""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout

from .base import View
from .style import SERIES, plot_pen
from .widgets import (
    NO_DATA,
    HeatMap,
    HintStack,
    Mosaic,
    class_names,
    image_plot,
    legend_title,
    loss_type,
    set_text,
    set_ticks,
    set_title,
    symbol_label,
)

SEQUENCE_KEYS = [("input", SERIES["muted"]), ("target ●", SERIES["train"]), ("prediction ×", SERIES["val"])]

GOOD, BAD = (44, 160, 44), (214, 39, 40)
MAX_IMAGES = 16
WIDE = 1.5  # a pane this many times wider than tall shows the probe inputs beside the confusion
HALF_PX = 200  # ... then both start from this width and share the rest evenly
NAMES_SHARE = 0.3  # class names along the confusion's y axis take at most this share of its plot


def _text_margin(items: list) -> float:
    """What a TextItem adds around its text, both sides together (its document's margin)."""
    return 2 * items[0].textItem.document().documentMargin() if items else 8.0


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def classes_of(pred: np.ndarray) -> np.ndarray:
    """Predicted class ids from logits, as the engine counts them (one logit: > 0)."""
    return (pred[..., 0] > 0).astype(np.int64) if pred.shape[-1] == 1 else pred.argmax(-1)


def shape_problem(kind, classify, probe, pred, conf) -> str | None:
    """Why the records cannot be drawn (shapes no run of ours writes), or None. A session
    may come from anyone: a probe batch of an unexpected rank once raised in this view."""
    def fits():
        if conf is not None:
            m = conf[1]
            if m.ndim != 2 or m.shape[0] != m.shape[1] or not 1 <= m.shape[0] <= 10_000:
                return False
        if pred is None:
            return True
        p = pred[1]
        if p.ndim < 1 or p.size == 0:
            return False
        if probe is None:
            return True
        x, y = probe
        if x.ndim < 1 or y.ndim < 1 or x.size == 0 or y.size == 0:
            return False
        if kind == "image" and classify:
            n = min(len(x), MAX_IMAGES)
            return (x.ndim in (3, 4) and p.ndim == 2 and y.ndim == 1 and len(p) >= n and len(y) >= n
                    and bool(np.isfinite(x[:n]).any()))
        if kind == "video":
            n = min(4, len(x))
            return (x.ndim == 5 and y.ndim == 4 and p.ndim == 4 and len(y) >= n and len(p) >= n
                    and x.shape[3:] == y.shape[2:] == p.shape[2:])
        if kind == "sequence" and not classify:
            return x.ndim >= 2 and p[0].size == y[0].size
        if kind in ("sequence", "text") and classify and y.ndim == 2:
            return p.ndim == 3 and len(p) >= min(6, len(y)) and p.shape[1] == y.shape[1]
        return True

    if fits():
        return None
    shapes = [f"{what} {tuple(r[1].shape)}" for what, r in (("predictions", pred), ("confusion", conf))
              if r is not None]
    if probe is not None:
        shapes[:0] = [f"probe inputs {tuple(probe[0].shape)}", f"probe targets {tuple(probe[1].shape)}"]
    return f"This session's records have shapes this view cannot show ({', '.join(shapes)})."


class PredictionsView(View):
    title = "Predictions"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        g = self.graphics.ci
        self.confusion = HeatMap(g, 0, 0, "Validation confusion (fraction of each target class)",
                                 "predicted class", "target class", "fraction of row", "viridis")
        self.confusion.plot.invertY(True)
        self.cells: list[pg.TextItem] = []
        self.samples_plot = image_plot(g, 1, 0, "Probe inputs")
        self.samples_image = pg.ImageItem(axisOrder="row-major")
        self.samples_plot.addItem(self.samples_image)
        self.labels: list[pg.TextItem] = []
        self.series_plot = g.addPlot(row=2, col=0, title=legend_title("Probe sequence", SEQUENCE_KEYS))
        self.series_plot.setLabel("bottom", "time step t")
        self.series_plot.setLabel("left", "value")
        self.input_curve = self.series_plot.plot(name="input", pen=plot_pen("muted", 1.4))
        self.target_curve = self.series_plot.plot(name="target", pen=None, symbol="o",
                                                  symbolBrush=pg.mkBrush(*SERIES["train"]), symbolSize=9)
        self.pred_curve = self.series_plot.plot(name="prediction", pen=None, symbol="x",
                                                symbolBrush=pg.mkBrush(*SERIES["val"]),
                                                symbolPen=pg.mkPen(SERIES["val"], width=2), symbolSize=11)
        self.text = QLabel()
        self.text.setTextFormat(Qt.RichText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.graphics)
        split.addWidget(self.text)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.stack = HintStack(split)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.stack)
        self.mosaic: Mosaic | None = None
        self.matrix: np.ndarray | None = None      # the confusion counts drawn
        self.predicted: np.ndarray | None = None   # predicted class ids of the probe batch
        self.generated: str | None = None
        self._confusion_step = None
        self._wide = False
        self._titles: dict = {}  # plot -> its whole title (drawn cut to the plot's width)
        self._confusion_labels: list[str] = []
        self._tile_labels: list[tuple[str, str, str, tuple]] = []  # (name, index, confidence, colour) per tile
        for plot in (self.confusion.plot, self.samples_plot):  # sized by the layout, after a resize
            plot.getViewBox().sigResized.connect(self._fit)
        self.stack.hint(NO_DATA)

    # -- fitting the pane --------------------------------------------------------------------
    # Class names, counts and confidences are drawn as large as they are readable and no
    # larger: in a 2 x 2 grid at 1280 x 720 names ran over each other and over the cells.
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """The probe inputs beside the confusion matrix in a wide pane, below it otherwise
        (and the matrix alone across the pane where there are no pictures)."""
        wide = self.width() >= WIDE * self.height() and self.samples_plot.isVisible()
        if wide == self._wide:
            return
        self._wide = wide
        g = self.graphics.ci
        g.removeItem(self.samples_plot)
        g.addItem(self.samples_plot, row=0 if wide else 1, col=1 if wide else 0)
        # Halves: left to their preferred widths, the confusion matrix (and the forecast plot
        # below it, hidden but still laid out) took all but a few pixels of a narrow pane.
        for col, plot in ((0, self.confusion.plot), (1, self.samples_plot), (0, self.series_plot)):
            g.layout.setColumnStretchFactor(col, 1 if wide else 0)
            plot.setPreferredWidth(HALF_PX if wide else -1)

    def _fit(self, *_) -> None:
        self._fit_confusion()
        self._fit_tiles()
        for plot, text in self._titles.items():
            self._title(plot, text)

    def _title(self, plot, text: str) -> None:
        """The plot's title, cut to its width (whole in the tooltip): side by side, two
        long titles ran into each other."""
        self._titles[plot] = text
        room = plot.width() - 30  # the label's margins, and some air
        key = (text, room, plot.titleLabel.opts.get("size"))  # (presentation mode: larger)
        if getattr(plot, "_title_fitted", None) == key:
            return  # (laid out again for nothing, the plot would be resized, and fitted, again)
        plot._title_fitted = key
        set_title(plot, text)
        plot.titleLabel.setToolTip(text)
        drawn = plot.titleLabel.item.boundingRect().width()
        if room > 0 and drawn > room:
            keep = max(1, int(len(text) * room / drawn) - 1)
            set_title(plot, text[:keep].rstrip() + "…")

    def _fit_confusion(self) -> None:
        """Class names on the y axis where a row has a line's height and the names leave the
        matrix most of the pane's width, on the x axis where a column has the widest name's
        width, else class numbers; the counts in the cells where they fit."""
        labels = self._confusion_labels
        c = len(labels)
        if not c or self.matrix is None:
            return
        vb = self.confusion.plot.getViewBox()
        fm, pad = QFontMetrics(self.font()), _text_margin(self.cells)
        row_px, col_px = vb.height() / c, vb.width() / c
        named = [f"{s} ({i})" for i, s in enumerate(labels)]
        room = (row_px >= fm.height() and
                max(fm.horizontalAdvance(s) for s in named) <= NAMES_SHARE * self.confusion.plot.width())
        set_ticks(self.confusion.plot.getAxis("left"), [list(enumerate(named if room else map(str, range(c))))])
        wide_enough = max(fm.horizontalAdvance(s) for s in labels) + 6 <= col_px
        set_ticks(self.confusion.plot.getAxis("bottom"), [list(enumerate(labels if wide_enough else map(str, range(c))))])
        counts_fit = (row_px >= fm.height() + pad and
                      col_px >= fm.horizontalAdvance(str(int(self.matrix.max(initial=0)))) + pad)
        for item in self.cells:
            item.setVisible(counts_fit)

    def _fit_tiles(self) -> None:
        """Each probe input's label: its class name and the model's confidence where the tile
        has the room, else the class number (and the confidence on its line if it fits)."""
        if not self._tile_labels or self.mosaic is None or not self.samples_plot.isVisible():
            return
        vb = self.samples_plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        scale = min(vb.width() / max(1e-9, x1 - x0), vb.height() / max(1e-9, y1 - y0))  # px per image pixel
        fm, pad = QFontMetrics(self.font()), _text_margin(self.labels)
        tile_px = (self.mosaic.w + self.mosaic.gap) * scale - pad
        lines = max(1, int((self.mosaic.gap * scale - pad) // fm.height()))  # text lines above a tile
        # all names or all numbers: a row mixing the two reads as one more puzzle
        names = all(fm.horizontalAdvance(name) <= tile_px for name, *_ in self._tile_labels)
        for item, (name, index, conf, colour) in zip(self.labels, self._tile_labels):
            label = name if names else index
            if conf and lines >= 2 and fm.horizontalAdvance(conf) <= tile_px:
                label += "\n" + conf
            set_text(item, label, colour)

    def reset(self) -> None:
        self.matrix = self.predicted = self.generated = None
        self._confusion_step = None
        self._confusion_labels, self._tile_labels = [], []
        self.confusion.clear()
        self.samples_image.clear()
        self.text.setText("")

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        info = self.reader.dataset_info or {}
        kind = info.get("kind", "table")
        if self.already_drawn((self.latest_record("predictions", step),
                               self.latest_record("val/confusion", step))):
            return
        pred = self.reader.tensor("predictions", step)
        conf = self.reader.tensor("val/confusion", step)
        if pred is None and conf is None:
            self.stack.hint(NO_DATA)
            return
        probe = self.reader.probe_batch()
        classify = info.get("target_kind") == "class"
        problem = shape_problem(kind, classify, probe, pred, conf)
        if problem:  # a file no run of ours wrote: say so rather than fail while drawing
            self.stack.hint(problem)
            return
        self.stack.content()
        names = class_names(self.reader)
        self._show_confusion(conf, names)
        show_images = kind in ("image", "video") and pred is not None and probe is not None
        self.samples_plot.setVisible(show_images)
        self._arrange()
        show_series = kind == "sequence" and not classify and pred is not None and probe is not None
        self.series_plot.setVisible(show_series)
        text = ""
        if pred is not None and probe is not None:
            if kind == "image" and classify:
                self._show_labelled_images(probe, pred, names)
            elif kind == "video":
                self._show_frames(probe, pred)
            elif show_series:
                self._show_forecast(probe, pred)
            elif kind in ("sequence", "text") and classify:
                text = self._sequence_text(probe, pred, names)
            elif classify:
                self.predicted = classes_of(pred[1])
        if kind == "text":
            text = self._generated_text(step, names) + text
        self.text.setText(text)
        self.text.setVisible(bool(text))
        self._fit()

    # -- confusion -------------------------------------------------------------------------
    def _show_confusion(self, conf, names: list[str]) -> None:
        self.confusion.plot.setVisible(conf is not None)
        if conf is None or (self.matrix is not None and conf[0] == self._confusion_step):
            return  # validation runs far less often than predictions are captured
        self._confusion_step = conf[0]
        m = conf[1].astype(np.float64)
        self.matrix = conf[1]
        rows = m.sum(axis=1, keepdims=True)
        frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
        c = m.shape[0]
        self.confusion.set(frac, rect=(-0.5, -0.5, c, c), levels=(0.0, 1.0))
        self._confusion_labels = [symbol_label(n) for n in names] if len(names) == c else [str(i) for i in range(c)]
        self._title(self.confusion.plot, f"Validation confusion at step {conf[0]} (fraction of each target class)")
        if c <= 12:  # counts written in the cells while they stay readable
            if len(self.cells) != c * c:
                for item in self.cells:
                    self.confusion.plot.removeItem(item)
                self.cells = [pg.TextItem(anchor=(0.5, 0.5)) for _ in range(c * c)]
                for k, item in enumerate(self.cells):
                    item.setPos(k % c, k // c)
                    self.confusion.plot.addItem(item)
            for k, item in enumerate(self.cells):
                r, col = divmod(k, c)
                set_text(item, str(int(m[r, col])), (0, 0, 0) if frac[r, col] > 0.6 else (255, 255, 255))

    # -- per dataset kind ------------------------------------------------------------------
    def _show_labelled_images(self, probe, pred, names: list[str]) -> None:
        x, y = probe[0][:MAX_IMAGES], probe[1][:MAX_IMAGES]
        logits = pred[1][:MAX_IMAGES].astype(np.float64)
        self.predicted = classes_of(logits)
        conf = softmax(logits).max(axis=-1) if logits.shape[-1] > 1 else None
        imgs = x[:, 0] if x.ndim == 4 else x
        n, h, w = imgs.shape[:3]
        if self.mosaic is None or (self.mosaic.n, self.mosaic.h, self.mosaic.w) != (n, h, w):
            self.mosaic = Mosaic(n, h, w, cols=min(n, 8), gap=max(2, h // 2))
            for item in self.labels:
                self.samples_plot.removeItem(item)
            self.labels = [pg.TextItem(anchor=(0, 1)) for _ in range(n)]
            for item in self.labels:
                self.samples_plot.addItem(item)
            # Labels sit above their tile: the top row's need a gap's room above the image.
            rows, cols = self.mosaic.shape
            self.samples_plot.setRange(xRange=(0, cols), yRange=(-self.mosaic.gap, rows), padding=0.02)
        mosaic = self.mosaic.assemble(imgs.astype(np.float32))
        finite = mosaic[np.isfinite(mosaic)]
        self.samples_image.setImage(mosaic, levels=(float(finite.min()), float(finite.max())), autoLevels=False)
        self.samples_image.setColorMap(pg.colormap.get("CET-L1"))
        self._tile_labels = []
        for k, item in enumerate(self.labels):
            r, c = self.mosaic.origin(k)
            p, t = int(self.predicted[k]), int(y[k])
            self._tile_labels.append((names[p] if p < len(names) else str(p), str(p),
                                      f"{conf[k]:.0%}" if conf is not None else "", GOOD if p == t else BAD))
            item.setPos(c, r)
        self._title(self.samples_plot, "Probe inputs and the predicted class (green: right, red: wrong)")

    def _show_frames(self, probe, pred) -> None:
        """Last input frame, target and predicted next frame of the first probe clips."""
        x, y = probe
        p = pred[1].astype(np.float32)
        if loss_type(self.reader) == "BinaryCrossEntropy":
            p = 1.0 / (1.0 + np.exp(-p))  # the loss takes logits; the picture is the probability
        n = min(4, len(x))
        last = x[:n, -1, 0]
        tiles = np.concatenate([np.stack([last[k], y[k, 0], p[k, 0]]) for k in range(n)])
        h, w = tiles.shape[1:]
        if self.mosaic is None or (self.mosaic.n, self.mosaic.h, self.mosaic.w) != (len(tiles), h, w):
            self.mosaic = Mosaic(len(tiles), h, w, cols=3, gap=2)
        self.samples_image.setImage(self.mosaic.assemble(tiles), levels=(0.0, 1.0), autoLevels=False)
        self.samples_image.setColorMap(pg.colormap.get("CET-L1"))
        self._title(self.samples_plot, "Last input frame · target · predicted next frame")
        self.predicted = p

    def _show_forecast(self, probe, pred) -> None:
        x, y = probe
        seq = x[0].reshape(x.shape[1], -1)[:, 0].astype(np.float64)
        t = np.arange(len(seq))
        target = y[0].reshape(-1).astype(np.float64)
        guess = pred[1][0].reshape(-1).astype(np.float64)
        after = len(seq) + np.arange(len(target))
        self.input_curve.setData(t, seq)
        self.target_curve.setData(after, target)
        self.pred_curve.setData(after, guess)
        self.predicted = guess
        set_title(self.series_plot, legend_title(f"Probe sequence 0 at step {pred[0]}:", SEQUENCE_KEYS))

    def _sequence_text(self, probe, pred, names: list[str]) -> str:
        """Per-step symbols: input, target, prediction (wrong predictions in red)."""
        x, y = probe
        self.predicted = classes_of(pred[1])
        if y.ndim != 2 or not names:
            return ""

        def sym(i):
            return html.escape(symbol_label(names[i]) if 0 <= i < len(names) else "?")

        lines = ["<b>Probe sequences: target / predicted next symbol</b> (wrong in "
                 "<span style='color:#d62728'>red</span>)<pre style='font-size:12px'>"]
        for k in range(min(6, len(y))):
            tgt = "".join(sym(i) for i in y[k].tolist())
            got = "".join(sym(int(p)) if p == t else f"<span style='color:#d62728'>{sym(int(p))}</span>"
                          for p, t in zip(self.predicted[k].tolist(), y[k].tolist()))
            lines.append(f"target    {tgt}\npredicted {got}\n")
        return "\n".join(lines) + "</pre>"

    def _generated_text(self, step: int, names: list[str]) -> str:
        got = self.reader.tensor("sample/text", step)
        if got is None or not names or got[1].ndim != 1 or got[1].dtype.kind not in "iu":
            self.generated = None
            return ""
        shape = (self.reader.dataset_info or {}).get("input_shape") or [0]
        seed_len = shape[0] if isinstance(shape, list) and shape and type(shape[0]) is int else 0
        ids = got[1].tolist()
        chars = [names[i] if 0 <= i < len(names) else "?" for i in ids]
        self.generated = "".join(chars[seed_len:])
        seed = html.escape("".join(chars[:seed_len]))
        made = html.escape(self.generated)
        return (f"<b>Generated text at step {got[0]}</b> (greedy; grey: the probe text it starts from)"
                f"<pre style='font-size:12px; white-space: pre-wrap'><span style='color:#888'>{seed}</span>"
                f"{made}</pre>")

    def table(self):
        if self.matrix is None:
            return None
        names = class_names(self.reader)
        c = self.matrix.shape[0]
        labels = names if len(names) == c else [str(i) for i in range(c)]
        return ["target \\ predicted", *labels], [[labels[r], *self.matrix[r].tolist()] for r in range(c)]
