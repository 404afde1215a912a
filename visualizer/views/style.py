"""Colours and colour maps shared by the views (one place, so every plot agrees)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

SERIES = {"train": (31, 119, 180), "val": (255, 127, 14), "accent": (44, 160, 44),
          "bad": (214, 39, 40), "muted": (127, 127, 127)}


def plot_pen(key: str, width: float = 1.6):
    return pg.mkPen(SERIES.get(key, SERIES["muted"]), width=width)


def colormap(name: str = "viridis") -> pg.ColorMap:
    return pg.colormap.get(name)


def diverging() -> pg.ColorMap:
    """Blue-white-red for signed values centred on zero (gates minus 0.5, gradients)."""
    return pg.ColorMap(np.array([0.0, 0.5, 1.0]),
                       np.array([[33, 102, 172, 255], [247, 247, 247, 255], [178, 24, 43, 255]], dtype=np.ubyte))
