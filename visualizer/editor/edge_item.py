"""An edge: a smooth curve from an output port to an input port, labelled with the
tensor shape it carries. Its route is computed from the two nodes' positions (and the
nodes in between, so a skip connection goes around a chain instead of through it)."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem

from .layout import LANE_GAP, NODE_H

LABEL_MIN_LOD = 0.45  # below this zoom, labels would be unreadable: skip them


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """A horizontal S-curve between two points."""
    path = QPainterPath(p1)
    dx = max(abs(p2.x() - p1.x()) * 0.5, 40.0)
    path.cubicTo(QPointF(p1.x() + dx, p1.y()), QPointF(p2.x() - dx, p2.y()), p2)
    return path


def rounded_polyline(points: list[QPointF], radius: float = 14.0) -> QPainterPath:
    path = QPainterPath(points[0])
    for prev, corner, nxt in zip(points, points[1:], points[2:]):
        def toward(a, b, r):
            d = b - a
            length = max((d.x() ** 2 + d.y() ** 2) ** 0.5, 1e-6)
            r = min(r, length / 2)
            return a + d * (r / length)
        path.lineTo(toward(corner, prev, radius))
        path.quadTo(corner, toward(corner, nxt, radius))
    path.lineTo(points[-1])
    return path


def route(p1: QPointF, p2: QPointF, src_rect: QRectF, dst_rect: QRectF, obstacles) -> tuple[QPainterPath, QPointF]:
    """The path and where its label goes. ``obstacles(rect)`` gives the node rects in rect."""
    if p2.x() < p1.x() + 24:  # backwards: a carriage return through the gap between rows
        x_out, x_in = p1.x() + 28, p2.x() - 28
        if dst_rect.top() > src_rect.bottom() + 16:
            y_mid = _widest_gap(src_rect.bottom(), dst_rect.top(), x_in, x_out, obstacles)
        else:
            y_mid = max(src_rect.bottom(), dst_rect.bottom()) + LANE_GAP / 2
        pts = [p1, QPointF(x_out, p1.y()), QPointF(x_out, y_mid), QPointF(x_in, y_mid),
               QPointF(x_in, p2.y()), p2]
        return rounded_polyline(pts), QPointF((x_out + x_in) / 2, y_mid)
    straight = curve(p1, p2)
    x0, x1 = p1.x() + 20, p2.x() - 20
    if x1 - x0 < 1.2 * src_rect.width():
        return straight, straight.pointAtPercent(0.5)
    lo, hi = min(p1.y(), p2.y()), max(p1.y(), p2.y())
    span = QRectF(x0, lo - NODE_H * 3, x1 - x0, hi - lo + NODE_H * 6)
    blockers = [r for r in obstacles(span) if r.right() > x0 and r.left() < x1]
    if not blockers:
        return straight, straight.pointAtPercent(0.5)
    samples = [straight.pointAtPercent(i / 24) for i in range(1, 24)]
    if not any(r.adjusted(-4, -4, 4, 4).contains(s) for r in blockers for s in samples):
        return straight, straight.pointAtPercent(0.5)
    # a free horizontal channel nearest the two ends, just above or below a blocker
    candidates = {p1.y(), p2.y()}
    for r in blockers:
        candidates.update((r.top() - LANE_GAP / 2, r.bottom() + LANE_GAP / 2))
    best = None
    for y in sorted(candidates, key=lambda y: (abs(y - p1.y()) + abs(y - p2.y()), y)):
        band = QRectF(x0 + 20, y - 6, x1 - x0 - 40, 12)
        if not any(r.intersects(band) for r in blockers):
            best = y
            break
    if best is None:
        return straight, straight.pointAtPercent(0.5)
    a, b = QPointF(p1.x() + 56, best), QPointF(p2.x() - 56, best)
    path = curve(p1, a)
    path.lineTo(b)
    path.connectPath(curve(b, p2))
    return path, QPointF((a.x() + b.x()) / 2, best)


def _widest_gap(top: float, bottom: float, x0: float, x1: float, obstacles) -> float:
    """The middle of the widest free horizontal band between ``top`` and ``bottom`` across
    [x0, x1] (the gap between two wrapped rows; lower one on a tie)."""
    spans = sorted((max(r.top(), top), min(r.bottom(), bottom))
                   for r in obstacles(QRectF(x0, top, x1 - x0, bottom - top))
                   if r.bottom() > top and r.top() < bottom)
    best, best_h, y = (top + bottom) / 2, -1.0, top
    for a, b in spans + [(bottom, bottom)]:
        if a - y >= best_h - 1:
            best, best_h = (y + a) / 2, a - y
        y = max(y, b)
    return best


class EdgeItem(QGraphicsItem):
    def __init__(self, edge, theme):
        super().__init__()
        self.edge = edge
        self.theme = theme
        self.label = ""
        self._label_pos = QPointF()
        self._hover = False
        self.overlay = None  # (QColor, width) from the gradient norm while a run is shown
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        self._font = QFont()
        self._font.setPointSizeF(7.5)
        self._fm = QFontMetricsF(self._font)
        self._label_rect = QRectF()
        self._path = QPainterPath()
        self._shape = QPainterPath()
        self._rect = QRectF()
        self.setToolTip(edge.label)

    def path(self) -> QPainterPath:
        return self._path

    def set_route(self, path: QPainterPath, label_pos: QPointF) -> None:
        # geometry is computed here, once per route, never in boundingRect()/shape()/paint()
        self.prepareGeometryChange()
        self._path = path
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        self._shape = stroker.createStroke(path)
        self._label_pos = label_pos
        self._place_label()

    def set_label(self, text: str) -> None:
        if text != self.label:
            self.prepareGeometryChange()
            self.label = text
            self.setToolTip(f"{self.edge.label}\n{text}" if text else self.edge.label)
            self._place_label()

    def set_theme(self, theme) -> None:
        self.theme = theme
        self.update()

    def set_overlay(self, overlay) -> None:
        if overlay != self.overlay:
            self.prepareGeometryChange()
            self.overlay = overlay
            self.update()

    def _place_label(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
        else:
            w = self._fm.horizontalAdvance(self.label) + 8
            h = self._fm.height() + 2
            self._label_rect = QRectF(self._label_pos.x() - w / 2, self._label_pos.y() - h - 3, w, h)
        rect = self._path.controlPointRect().adjusted(-4, -4, 4, 4)
        self._rect = rect.united(self._label_rect) if self.label else rect

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self):
        return self._shape

    def hoverEnterEvent(self, event):
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event):
        self._hover = False
        self.update()

    def paint(self, painter, option, widget=None):
        t = self.theme
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        highlight = self.isSelected() or self._hover
        if self.overlay is not None and not highlight:
            pen = QPen(self.overlay[0], self.overlay[1])
        else:
            pen = QPen(t.color("node_selected") if highlight else t.color("edge"), 2.2 if highlight else 1.5)
        pen.setCapStyle(Qt.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if self.label and lod >= LABEL_MIN_LOD:
            painter.setPen(Qt.NoPen)
            painter.setBrush(QBrush(t.color("edge_label_bg")))
            painter.drawRoundedRect(self._label_rect, 3, 3)
            painter.setPen(t.color("muted"))
            painter.setFont(self._font)
            painter.drawText(self._label_rect, Qt.AlignCenter, self.label)
