"""Blocks on the canvas: a folded block is one box (``BlockItem``) with the ports where edges
cross its boundary, its output shape, its members' parameters and FLOPs, and the worst health
of its members while a run is shown; an open block is a frame (``FrameItem``) around its
members, which are its child items, so dragging the frame carries them along.

Both only show what the scene tells them (from the document and the last analysis).
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from .geometry import HEAD, PAD
from .layout import NODE_H, NODE_W
from .node_item import NodeItem, Tinted

_POS_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_SELECTED_CHANGED = QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged


def _tint(theme, depth: int) -> QColor:
    """A frame's fill: the canvas, a little darker (lighter on dark) at each depth."""
    base = QColor(theme.canvas)
    accent = QColor(theme.accent)
    k = min(0.035 * (depth + 1), 0.16)
    return QColor(int(base.red() * (1 - k) + accent.red() * k), int(base.green() * (1 - k) + accent.green() * k),
                  int(base.blue() * (1 - k) + accent.blue() * k))


class BlockItem(NodeItem):
    """A folded block, drawn as a node: its name, its output shape and a summary line."""

    is_block = True

    def __init__(self, block_id: str, name: str, theme, inputs: list[str], outputs: list[str], parent=None):
        super().__init__(block_id, "Block", theme, parent)
        self.title = name
        self.category = "Block"
        self.make_ports([(p, False) for p in inputs], [(p, False) for p in outputs], connectable=False)
        self._layout_text()

    layers = ""

    def set_block(self, name: str, summary: str) -> None:
        """``summary``: "N layers · P params · F FLOPs"; the box shows the layer count in
        its corner and the rest on its last line."""
        layers, _, rest = summary.partition(" · ")
        if (name, layers, rest) != (self.title, self.layers, self.summary):
            self.title, self.layers, self.summary = name, layers, rest
            self.setToolTip(self._tooltip())
            self._layout_text()

    def corner_text(self) -> str:
        return self.layers

    def _tooltip(self) -> str:
        # names and problems come from the file: shown as text, never as markup
        lines = [f"<b>{_text(self.title)}</b> (block '{_text(self.node_id)}')", f"{self.layers} · {self.summary}"]
        if self.problem:
            lines.append(f"<span style='color:{self.theme.error}'>{_text(self.problem)}</span>")
        elif self.shape_text:
            lines.append(f"output {self.shape_text}")
        if self.overlay is not None:
            lines.append(self.overlay[1])
        lines.append("Double-click to open it.")
        return "<br>".join(lines)

    def _paint_body(self, painter, body, t) -> None:
        # a second card behind the first: "there is more inside"
        pen = painter.pen()
        painter.setBrush(QBrush(_tint(t, 1)))
        painter.drawRoundedRect(body.translated(4, 4), 7, 7)
        painter.setPen(pen)
        painter.setBrush(QBrush(t.color("node")))
        painter.drawRoundedRect(body, 7, 7)

    def boundingRect(self) -> QRectF:
        return QRectF(-12, -3, NODE_W + 24, NODE_H + 10)


class FrameItem(Tinted, QGraphicsItem):
    """An open block: a tinted frame with the block's name in its header. Its coordinates
    start at the frame's content origin, where its members' positions start."""

    is_block = True

    def __init__(self, block_id: str, name: str, theme, depth: int, parent=None):
        super().__init__(parent)
        self.node_id = block_id
        self.title = name
        self.theme = theme
        self.depth = depth
        self.summary = ""
        self.problem: str | None = None
        self.overlay = None
        self._rect = QRectF(-PAD, -HEAD, NODE_W, NODE_H)
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setZValue(-1)
        self._font = QFont()
        self._font.setPointSizeF(9.5)
        self._font.setBold(True)
        self._small = QFont()
        self._small.setPointSizeF(8.5)
        self._texts: dict = {}

    def set_frame(self, rect: QRectF) -> None:
        """The frame's rect in this item's coordinates."""
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = QRectF(rect)
            self.update()

    def set_block(self, name: str, summary: str) -> None:
        if (name, summary) != (self.title, self.summary):
            self.title, self.summary = name, summary
            self.setToolTip(self._tooltip())
            self.update()

    def set_info(self, problem: str | None) -> None:
        if problem != self.problem:
            self.problem = problem
            self.setToolTip(self._tooltip())
            self.update()

    def set_theme(self, theme) -> None:
        self.theme = theme
        self.update()

    def _tooltip(self) -> str:
        lines = [f"<b>{_text(self.title)}</b> (block '{_text(self.node_id)}')", self.summary]
        if self.problem:
            lines.append(f"<span style='color:{self.theme.error}'>{_text(self.problem)}</span>")
        if self.overlay is not None:
            lines.append(self.overlay[1])
        lines.append("Double-click the header to fold it.")
        return "<br>".join(lines)

    def header_rect(self) -> QRectF:
        r = self._rect
        return QRectF(r.left(), r.top(), r.width(), HEAD - 6)

    def rect_in_scene(self) -> QRectF:
        return self.mapRectToScene(self._rect)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-3, -3, 3, 3)

    def shape(self):
        # the header and the border take clicks; the inside is canvas (rubber band, drops)
        path = QPainterPath()
        path.addRect(self.header_rect())
        outer = QPainterPath()
        outer.addRect(self._rect.adjusted(-3, -3, 3, 3))
        inner = QPainterPath()
        inner.addRect(self._rect.adjusted(5, HEAD - 6, -5, -5))
        return path.united(outer.subtracted(inner))

    def paint(self, painter, option, widget=None):
        t = self.theme
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        r = self._rect
        if self.isSelected():
            pen = QPen(t.color("node_selected"), 2.2)
        elif self.problem:
            pen = QPen(t.color("error"), 2.0)
        else:
            pen = QPen(t.color("node_border"), 1.0, Qt.DashLine)
        if self.overlay is not None:
            halo = QColor(self.overlay[0])
            painter.setPen(QPen(halo, 5.0))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(r.adjusted(-1.5, -1.5, 1.5, 1.5), 11, 11)
        painter.setPen(pen)
        painter.setBrush(QBrush(_tint(t, self.depth)))
        painter.drawRoundedRect(r, 10, 10)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        detail = lod >= 0.62
        size = 9.5 if detail else float(round(min(7.0 / max(lod, 0.05), 40.0)))
        key = (size, r.width(), self.title, self.problem is not None, self.summary)
        texts = self._texts.get(key)
        if texts is None:  # laid out once per size: zooming repaints every frame on screen
            font = QFont(self._font)
            font.setPointSizeF(size)
            fm = QFontMetricsF(font)
            head = QRectF(r.left() + 12, r.top() + 4, r.width() - 24, HEAD - 10)
            title = ("▾ " if detail else "") + self.title + (" ⚠" if self.problem else "")
            texts = [(font, head, fm.elidedText(title, Qt.ElideRight, head.width()), "text")]
            if detail and self.summary:
                used = fm.horizontalAdvance(title) + 16
                rest = QRectF(head.left() + used, head.top(), max(0.0, head.width() - used), head.height())
                texts.append((self._small, rest, QFontMetricsF(self._small).elidedText(
                    self.summary, Qt.ElideRight, rest.width()), "muted"))
            if len(self._texts) > 16:
                self._texts.clear()
            self._texts[key] = texts
        for font, rect, text, colour in texts:
            painter.setFont(font)
            painter.setPen(t.color("error") if self.problem and colour == "text" else t.color(colour))
            painter.drawText(rect, Qt.AlignLeft | Qt.AlignVCenter, text)

    def itemChange(self, change, value):
        if change == _POS_CHANGED and self.scene() is not None:
            self.scene().node_geometry_changed(self)
        return super().itemChange(change, value)

    def content_pos(self) -> QPointF:
        """Where the block's ``pos`` is, in its parent's coordinates."""
        return self.pos() - QPointF(PAD, HEAD)


def _text(value) -> str:
    return escape(str(value), quote=False)
