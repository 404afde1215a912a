"""Feature maps: the selected convolution's output channels for one probe input, the input
beside them, and (for the network's first Conv2d) its filters as image tiles."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout

from .base import View
from .style import diverging
from .widgets import (
    NO_DATA,
    HeatMap,
    HintStack,
    Mosaic,
    image_plot,
    node_type,
    picture,
    plain_label,
    probe_picker,
    set_label,
    set_title,
    symmetric_levels,
)

HINT = "Select a convolutional layer on the canvas to see its feature maps."


class FeatureMapsView(View):
    title = "Feature maps"
    applies_to = ("feature_maps",)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sample, bar = probe_picker("Probe input", "Which input of the fixed probe batch to show",
                                        lambda: self.show_step(self.step))
        bar.addStretch(1)
        self.graphics = pg.GraphicsLayoutWidget()
        g = self.graphics.ci
        self.input_plot = image_plot(g, 0, 0, "Input")
        self.input_image = pg.ImageItem(axisOrder="row-major")
        self.input_plot.addItem(self.input_image)
        self.maps = HeatMap(g, 0, 1, "Feature maps", "", "", "output value", diverging())
        self.maps.plot.invertY(True)
        self.maps.plot.setAspectLocked(True)
        self.filters = HeatMap(g, 1, 1, "Filters (first convolution)", "input channel →",
                               "output channel ↓", "weight", diverging())
        self.filters.plot.invertY(True)
        self.filters.plot.setAspectLocked(True)
        for plot in (self.maps.plot, self.filters.plot):
            for side in ("bottom", "left"):
                plot.getAxis(side).setTicks([[]])
                plot.getAxis(side).setPen(pg.mkPen(None))
        g.layout.setColumnStretchFactor(0, 1)
        g.layout.setColumnStretchFactor(1, 3)
        self.note = plain_label()
        self.note.setWordWrap(True)
        self.stack = HintStack(self.graphics)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.note)
        self.mosaic: Mosaic | None = None
        self.shown: tuple[int, np.ndarray] | None = None   # (record step, maps of the sample)
        self.filter_mosaic: Mosaic | None = None
        self.stack.hint(HINT)

    def reset(self) -> None:
        self.mosaic = self.filter_mosaic = None
        self.shown = None
        self.maps.clear()
        self.filters.clear()
        self.input_image.clear()

    def show_step(self, step: int) -> None:
        self.step = step
        if self.reader is None:
            return
        names = self.reader.tensor_names()
        name = f"feature_maps/{self.node_id}"
        if self.node_id is None or name not in names:
            if self.node_id is not None and self.reader.last_step < 0:
                self.stack.hint(NO_DATA)
            else:
                kind = node_type(self.reader, self.node_id)
                self.stack.hint(HINT if kind is None else f"'{self.node_id}' ({kind}) has no feature maps. {HINT}")
            return
        if self.already_drawn((name, self.latest_record(name, step), self.sample.value())):
            return
        got = self.reader.tensor(name, step)
        if got is None:
            self.stack.hint(NO_DATA)
            return
        self.stack.content()
        rec_step, fm = got
        self.sample.setMaximum(fm.shape[0] - 1)
        k = min(self.sample.value(), fm.shape[0] - 1)
        maps = fm[k].astype(np.float32)
        self.shown = (rec_step, maps)
        levels = symmetric_levels(maps)
        if maps.ndim == 3:  # (C, H, W): one tile per channel
            c, h, w = maps.shape
            if self.mosaic is None or (self.mosaic.n, self.mosaic.h, self.mosaic.w) != (c, h, w):
                self.mosaic = Mosaic(c, h, w)
            self.maps.set(self.mosaic.assemble(maps), levels=levels)
            what = f"{c} channels of {h}×{w}, left to right, top to bottom"
        else:  # (C, L) of a 1-D convolution: channels x positions
            self.maps.set(maps.reshape(maps.shape[0], -1), levels=levels)
            what = f"{maps.shape[0]} channels (rows) × {maps.shape[-1]} positions"
        self._show_input(k)
        self._show_filters(step, names)
        kind = node_type(self.reader, self.node_id) or ""
        self.note.setText(f"{self.node_id} ({kind}) · probe input {k} · step {rec_step} · {what}; "
                          f"one shared colour scale.")

    def _show_input(self, k: int) -> None:
        probe = self.reader.probe_batch()
        if probe is None:
            return
        x = probe[0][min(k, len(probe[0]) - 1)]
        if x.ndim in (2, 3) and x.dtype.kind == "f":
            img, levels = picture(x)
            self.input_image.setImage(img, levels=levels, autoLevels=False)
        title = "Input"
        if probe[1].ndim == 1 and probe[1].dtype.kind in "iu":
            names = (self.reader.dataset_info or {}).get("class_names") or []
            y = int(probe[1][k])
            title = f"Input (target: {names[y] if y < len(names) else y})"
        set_title(self.input_plot, title)

    def _show_filters(self, step: int, names: list[str]) -> None:
        name = f"filters/{self.node_id}"
        got = self.reader.tensor(name, step) if name in names else None
        self.filters.plot.setVisible(got is not None)
        if got is None:
            self.filters.clear()
            return
        w = got[1].astype(np.float32)
        if w.ndim != 4:
            return
        cout, cin, kh, kw = w.shape
        cin = min(cin, 8)  # a deep first layer would not fit; its first channels are shown
        if self.filter_mosaic is None or (self.filter_mosaic.n, self.filter_mosaic.h) != (cout * cin, kh):
            # One input channel: a square grid of filters; several: a row per output channel.
            self.filter_mosaic = Mosaic(cout * cin, kh, kw, cols=cin if cin > 1 else None)
            across, down = ("input channel →", "output channel ↓") if cin > 1 else ("", "")
            set_label(self.filters.plot, "bottom", across)
            set_label(self.filters.plot, "left", down)
            set_title(self.filters.plot, f"First conv filters: {cout}×{cin} of {kh}×{kw}")
        tiles = w[:, :cin].reshape(cout * cin, kh, kw)
        self.filters.set(self.filter_mosaic.assemble(tiles), levels=symmetric_levels(tiles))

    def channel(self, c: int) -> np.ndarray:
        """The drawn image of channel ``c`` (for tests and read-outs)."""
        if self.mosaic is None:
            return self.maps.values[c]
        return self.mosaic.tile(self.maps.values, c)

    def table(self):
        if self.shown is None:
            return None
        step, maps = self.shown
        flat = maps.reshape(maps.shape[0], -1)
        return (["step", "channel", *(f"v{i}" for i in range(flat.shape[1]))],
                [[step, c, *row.tolist()] for c, row in enumerate(flat)])
