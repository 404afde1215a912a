"""Small vector icons drawn in the theme's text colour. The style's standard media icons are
black pictures that vanish on the dark theme; these are painted for the theme in use, at
every size Qt asks for."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap, QPolygonF

SIZES = (16, 20, 24, 32)


def _triangle(p: QPainter, s: float, x0: float, w: float, pointing: int) -> None:
    top, bottom, mid = 0.2 * s, 0.8 * s, 0.5 * s
    if pointing > 0:
        pts = [QPointF(x0, top), QPointF(x0 + w, mid), QPointF(x0, bottom)]
    else:
        pts = [QPointF(x0 + w, top), QPointF(x0, mid), QPointF(x0 + w, bottom)]
    p.drawPolygon(QPolygonF(pts))


def _draw(name: str, p: QPainter, s: float) -> None:
    if name == "play":
        _triangle(p, s, 0.3 * s, 0.5 * s, +1)
    elif name == "pause":
        for x in (0.27, 0.57):
            p.drawRect(QRectF(x * s, 0.22 * s, 0.16 * s, 0.56 * s))
    elif name in ("previous", "next"):
        d = -1 if name == "previous" else +1
        bar_x = 0.2 if d < 0 else 0.72
        p.drawRect(QRectF(bar_x * s, 0.22 * s, 0.08 * s, 0.56 * s))
        _triangle(p, s, (0.3 if d < 0 else 0.3) * s, 0.4 * s, d)
    elif name == "live":
        path = QPainterPath()
        path.addEllipse(QPointF(0.5 * s, 0.5 * s), 0.22 * s, 0.22 * s)
        p.drawPath(path)
    else:
        raise KeyError(name)


def themed_icon(name: str, theme, colour: str | None = None) -> QIcon:
    """Icon ``name`` ('play', 'pause', 'previous', 'next', 'live') in ``colour`` (default:
    the theme's text colour), with a muted variant for the disabled state."""
    icon = QIcon()
    for mode, col in ((QIcon.Normal, colour or theme.text), (QIcon.Disabled, theme.muted)):
        for size in SIZES:
            pm = QPixmap(size, size)
            pm.fill(Qt.transparent)
            p = QPainter(pm)
            p.setRenderHint(QPainter.Antialiasing)
            p.setPen(Qt.NoPen)
            c = QColor(col)
            if mode == QIcon.Disabled:
                c.setAlphaF(0.6)
            p.setBrush(c)
            _draw(name, p, float(size))
            p.end()
            icon.addPixmap(pm, mode)
    return icon
