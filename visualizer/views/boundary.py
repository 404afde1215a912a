"""Decision boundary for 2-D point datasets, like TensorFlow Playground: the class
probabilities over a grid (recorded by engine/probes/outputs.py) as a coloured field, the
training points on top."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QVBoxLayout

from .base import View
from .widgets import NO_DATA, HintStack, class_names, legend_title, plain_label, set_label, set_title

# Class colours (Playground's blue and orange first), as float RGB in [0, 1].
CLASS_RGB = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                      (140, 86, 75), (227, 119, 194), (127, 127, 127)], dtype=np.float32) / 255.0


def two_class_map() -> pg.ColorMap:
    blue, orange = (CLASS_RGB[:2] * 255).astype(int)
    return pg.ColorMap(np.array([0.0, 0.5, 1.0]),
                       np.array([[*blue, 255], [245, 245, 245, 255], [*orange, 255]], dtype=np.ubyte))


def blend(probs: np.ndarray) -> np.ndarray:
    """(G, G, C) probabilities -> (G, G, 3) uint8: each class's colour weighted by its
    probability, faded towards white where the model is unsure."""
    c = probs.shape[-1]
    colours = CLASS_RGB[np.arange(c) % len(CLASS_RGB)]
    mix = probs @ colours
    sure = probs.max(axis=-1, keepdims=True)
    fade = (sure - 1.0 / c) / (1.0 - 1.0 / c)         # 0 at a uniform guess, 1 when certain
    rgb = 1.0 - fade * (1.0 - mix)
    return np.ascontiguousarray(np.clip(rgb * 255, 0, 255).astype(np.uint8))


class DecisionBoundaryView(View):
    title = "Decision boundary"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plot = self.graphics.addPlot(title="Class probabilities")
        self.plot.setLabel("bottom", "x₁ (input feature 1, normalised)")
        self.plot.setLabel("left", "x₂ (input feature 2, normalised)")
        # The axes span the data (the grid's extent), whatever the pane's shape: a locked
        # aspect ratio in a wide pane showed -12..12 around data in -3..3.
        self.plot.setAspectLocked(False)
        self.plot.disableAutoRange()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=two_class_map(),
                                   interactive=False, width=14)
        self.bar.setLabel("right", "P(class)")  # the side show_step names the class on
        self.graphics.addItem(self.bar, row=0, col=1)
        self.points = pg.ScatterPlotItem(size=6, pen=pg.mkPen((30, 30, 30), width=0.8))
        self.plot.addItem(self.points)
        self.note = plain_label()
        self.note.setWordWrap(True)
        self.stack = HintStack(self.graphics)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.note)
        self.field: np.ndarray | None = None   # the (G, G, C) probabilities drawn
        self.field_step: int | None = None
        self._points_loaded = False
        self._extent = None
        self.stack.hint(NO_DATA)

    def reset(self) -> None:
        self._extent = None
        self.field = None
        self.field_step = None
        self._points_loaded = False
        self.image.clear()
        self.points.setData([])
        set_title(self.plot, "Class probabilities")

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        info = self.reader.dataset_info or {}
        if info.get("kind") != "points2d":
            self.stack.hint(f"The decision boundary is drawn for 2-D point datasets; this run's "
                            f"dataset '{info.get('name', '?')}' holds {info.get('kind', 'other')} data.")
            return
        acc = self.reader.scalars_at(step).get("val/accuracy")
        if self.already_drawn((self.latest_record("boundary/probs", step), acc)):
            return
        got = self.reader.tensor("boundary/probs", step)
        extent = self.reader.tensor("boundary/extent", step)
        if got is None or extent is None:
            self.stack.hint(NO_DATA)
            return
        self.stack.content()
        self.field_step, probs = got[0], got[1].astype(np.float32)
        self.field = probs
        x0, x1, y0, y1 = (float(v) for v in extent[1])
        names = class_names(self.reader) or [str(i) for i in range(probs.shape[-1])]
        if probs.shape[-1] == 2:  # one number per point: P(second class), with a colour bar
            self.bar.setVisible(True)
            self.image.setImage(np.ascontiguousarray(probs[..., 1]), levels=(0.0, 1.0), autoLevels=False)
            self.image.setColorMap(two_class_map())
            set_label(self.bar, "right", f"P(class '{names[1]}')")
        else:
            self.bar.setVisible(False)
            self.image.setImage(blend(probs), levels=(0, 255), autoLevels=False)
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        if self._extent != (x0, x1, y0, y1):
            self._extent = (x0, x1, y0, y1)
            self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        if not self._points_loaded:
            self._load_points(names)
        acc_text = f" · validation accuracy {acc:.1%}" if acc is not None else ""
        self.note.setText(f"Probabilities at step {self.field_step} on a {probs.shape[0]}×{probs.shape[1]} "
                          f"grid; points: training samples coloured by class{acc_text}. Faded colour = unsure.")

    def _load_points(self, names: list[str]) -> None:
        pts = self.reader.tensor("boundary/points", 0)
        labels = self.reader.tensor("boundary/labels", 0)
        if pts is None or labels is None:
            return
        xy, y = pts[1], labels[1].astype(int)
        brushes = [pg.mkBrush(*(CLASS_RGB[k % len(CLASS_RGB)] * 255).astype(int)) for k in range(len(names))]
        self.points.setData(x=xy[:, 0], y=xy[:, 1], brush=[brushes[k % len(brushes)] for k in y])
        keys = [(f"class {name}", tuple(int(v) for v in CLASS_RGB[k % len(CLASS_RGB)] * 255))
                for k, name in enumerate(names)]
        set_title(self.plot, legend_title("Class probabilities", keys).replace("━", "●"))
        self._points_loaded = True

    def table(self):
        if self.field is None:
            return None
        extent = self.reader.tensor("boundary/extent", self.step)[1]
        g_y, g_x, c = self.field.shape
        xs = extent[0] + (extent[1] - extent[0]) * (np.arange(g_x) + 0.5) / g_x
        ys = extent[2] + (extent[3] - extent[2]) * (np.arange(g_y) + 0.5) / g_y
        rows = [[self.field_step, float(xs[j]), float(ys[i]), *map(float, self.field[i, j])]
                for i in range(g_y) for j in range(g_x)]
        return ["step", "x1", "x2", *(f"p{k}" for k in range(c))], rows
