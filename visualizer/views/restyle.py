"""Restyle the plots a view has already made: background, axes, titles, legends and fonts
follow the theme and the presentation scale at once, without a restart.

pyqtgraph reads its colours from global options only when an item is made; items made
earlier keep theirs. This walks a view's scenes and sets them in place."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont

from .widgets import loosen_title

BASE_PT = 9.0   # plot text at scale 1 (pyqtgraph's own default)
TITLE_PT = 10.5


def restyle(view, theme, scale: float = 1.0) -> None:
    """Apply ``theme`` and the font ``scale`` to every plot of ``view`` (a QWidget), and
    remember them, so that plots the view builds later get them too (View.cache_axes)."""
    view._style = (theme, scale)
    for gv in view.findChildren(pg.GraphicsView):
        style_scene(gv, theme, scale)


def style_scene(gv: pg.GraphicsView, theme, scale: float) -> None:
    fg = QColor(theme.text)
    gv.setBackground(theme.base)
    font = QFont()
    font.setPointSizeF(BASE_PT * scale)
    size = f"{BASE_PT * scale:.1f}pt"
    for item in gv.scene().items():
        if isinstance(item, pg.AxisItem):
            if getattr(item, "_styled", None) == (theme.name, scale):
                continue
            item._styled = (theme.name, scale)
            item.enableAutoSIPrefix(False)  # "value (x0.001)" reads as a different quantity
            item.setPen(fg)
            item.setTextPen(fg)
            item.setTickFont(font)
            item.labelStyle = {"color": theme.text, "font-size": size}
            if item.labelText or item.labelUnits:
                item.setLabel(item.labelText, item.labelUnits, item.labelUnitPrefix)
            item.picture = None  # the cached axis picture is of the old colours
            item.update()
        elif isinstance(item, pg.LegendItem):
            item.setLabelTextColor(fg)
            bg = QColor(theme.base)
            bg.setAlpha(210)
            item.setBrush(bg)
            item.setPen(QColor(theme.border))
            for _sample, label in item.items:
                label.setText(label.text, color=theme.text, size=size)
        elif isinstance(item, pg.LabelItem) and not isinstance(item.parentItem(), pg.LegendItem):
            title = isinstance(item.parentItem(), pg.PlotItem)
            item.setText(item.text, color=theme.text, size=f"{(TITLE_PT if title else BASE_PT) * scale:.1f}pt")
            if title:  # a long title must not hold its plot wider than the pane
                loosen_title(item.parentItem())
