"""A node on the canvas: its type, id, output shape and a one-line summary of its params.

The item only shows what the model says: params come from the document, the shape and
the problem from the last analysis. Its text is laid out once per change (not per paint)
and the item is cached as a device-coordinate pixmap, so a 1,000-node graph pans smoothly.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem

from engine.graph.catalogue import CATALOGUE

from .layout import NODE_H, NODE_W
from .port_item import PortItem

PAD = 10.0
DETAIL_LOD = 0.62   # below this zoom the node's small text is unreadable: draw the overview
OVERVIEW_PT = 7.0   # the overview's type name, in points on screen


def _params_summary(type_name: str, params: dict) -> str:
    spec = CATALOGUE.get(type_name)
    if spec is None:
        return ""
    parts = []
    for p in spec.params:
        if "init" in p.name or p.kind == "bool" and p.name == "bias":
            continue
        value = params.get(p.name, p.default)
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = "×".join(map(str, value))
        elif isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{p.name} {value}")
    return " · ".join(parts[:3])


_FONTS: tuple | None = None
# enum members looked up once: itemChange runs for every flag and position change
_POS_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_SELECTED_CHANGED = QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged
_ELIDE_RIGHT, _ELIDE_MIDDLE, _PLAIN = Qt.ElideRight, Qt.ElideMiddle, Qt.PlainText


_STRIP: list = []
_OVERVIEW: dict = {}


def _strip() -> QPainterPath:
    """The category strip: the left edge of the rounded body (one path, made once)."""
    if not _STRIP:
        strip = QPainterPath()
        strip.addRoundedRect(QRectF(0.5, 0.5, 9, NODE_H - 1), 6, 6)
        clip = QPainterPath()
        clip.addRect(QRectF(0.5, 0.5, 5, NODE_H - 1))
        _STRIP.append(strip.intersected(clip))
    return _STRIP[0]


def _overview_font(size: float):
    got = _OVERVIEW.get(size)
    if got is None:
        font = QFont(_fonts()[0])
        font.setPointSizeF(size)
        got = _OVERVIEW[size] = (font, QFontMetricsF(font))
    return got


def _fonts():
    """Title, small and monospace fonts with their metrics, made once."""
    global _FONTS
    if _FONTS is None:
        title = QFont()
        title.setPointSizeF(9.5)
        title.setBold(True)
        small = QFont()
        small.setPointSizeF(8.5)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSizeF(8.5)
        _FONTS = (title, small, mono, QFontMetricsF(title), QFontMetricsF(small), QFontMetricsF(mono))
    return _FONTS


class Tinted:
    """What a layer's box and a block's frame share: a tint by layer health, said in the
    tooltip too."""

    def set_overlay(self, overlay) -> None:
        """Tint by the layer health at the shown step (None: no run shown)."""
        if overlay != self.overlay:
            self.overlay = overlay
            self.setToolTip(self._tooltip())
            self.update()


class NodeItem(Tinted, QGraphicsItem):
    def __init__(self, node_id: str, type_name: str, theme, parent=None):
        super().__init__(parent)
        self.node_id = node_id
        self.type_name = type_name
        self.title = type_name
        self.theme = theme
        spec = CATALOGUE.get(type_name)
        self.category = spec.category if spec else ""
        self.shape_text = ""
        self.summary = ""
        self.problem: str | None = None
        self.overlay = None  # (QColor health tint, tooltip line) while a run is shown, else None
        self._texts: dict = {}
        self._overview: dict = {}
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        if spec is not None:
            self.make_ports([(p.name, p.multi) for p in spec.inputs], [(p.name, False) for p in spec.outputs])

    def make_ports(self, inputs, outputs, connectable: bool = True) -> None:
        """Ports down each side: ``inputs`` and ``outputs`` are (name, takes several) pairs."""
        for ports, is_input, table in ((inputs, True, self.inputs), (outputs, False, self.outputs)):
            for i, (name, multi) in enumerate(ports):
                item = PortItem(self, name, is_input, multi, connectable)
                y = NODE_H * (i + 1) / (len(ports) + 1)
                item.setPos(0.0 if is_input else NODE_W, y)
                table[name] = item

    # -- what the model says --------------------------------------------------------
    def set_params(self, params: dict) -> None:
        self.summary = _params_summary(self.type_name, params)
        self._layout_text()

    def set_info(self, shape_text: str, problem: str | None) -> None:
        if (shape_text, problem) == (self.shape_text, self.problem):
            return
        self.shape_text, self.problem = shape_text, problem
        self.setToolTip(self._tooltip())
        self._layout_text()

    def set_theme(self, theme) -> None:
        self.theme = theme
        self.update()
        for p in (*self.inputs.values(), *self.outputs.values()):
            p.update()

    def _tooltip(self) -> str:
        spec = CATALOGUE.get(self.type_name)
        lines = [f"<b>{html.escape(self.type_name, quote=False)}</b> '{html.escape(self.node_id, quote=False)}'"]
        if self.problem:
            lines.append(f"<span style='color:{self.theme.error}'>{html.escape(self.problem, quote=False)}</span>")
        elif self.shape_text:
            lines.append(f"output {self.shape_text}")
        if self.overlay is not None:
            lines.append(self.overlay[1])
        if spec is not None:
            lines.append(spec.help)
        return "<br>".join(lines)

    def _layout_text(self) -> None:
        """The text changed: lay it out when the item is next painted (once, however many
        changes come first; an item made off screen may never be)."""
        self._texts = {}
        self._overview = {}
        self.update()

    def corner_text(self) -> str:
        """The small text at the top right: the node's id."""
        return self.node_id

    def _do_layout(self) -> None:
        """Elided strings, computed once per change of content, not per paint."""
        title, small, mono, fm_title, fm_small, fm_mono = _fonts()
        width = NODE_W - 2 * PAD - 4
        # The type name comes first: the id takes the room the title leaves, and moves down
        # to the summary line when that room is too small to read it.
        title_w = fm_title.horizontalAdvance(self.title)
        corner = self.corner_text()
        full_id = fm_small.horizontalAdvance(corner)
        id_w = min(full_id, max(0.0, width - title_w - 8))
        id_in_header = id_w >= min(full_id, 28.0)
        summary = self.summary if id_in_header else " · ".join(filter(None, [corner, self.summary]))
        if not id_in_header:
            id_w = 0.0
        shape = self.problem and "⚠ " + self.problem or self.shape_text or "…"
        self._texts = {
            "title": (title, fm_title.elidedText(self.title, _ELIDE_RIGHT, width - (id_w + 8 if id_w else 0))),
            "id": (small, fm_small.elidedText(corner, _ELIDE_MIDDLE, id_w) if id_w else ""),
            "shape": (mono if not self.problem else small, (fm_mono if not self.problem else fm_small)
                      .elidedText(shape, _ELIDE_RIGHT, width)),
            "summary": (small, fm_small.elidedText(summary, _ELIDE_RIGHT, width)),
            "id_w": id_w,
        }
        self._static = {k: QStaticText(v[1]) for k, v in self._texts.items() if isinstance(v, tuple)}
        self._overview = {}
        for st in self._static.values():
            st.setTextFormat(_PLAIN)

    # -- geometry and painting --------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(-12, -3, NODE_W + 24, NODE_H + 6)  # ports stick out on both sides

    def shape(self):
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, NODE_W, NODE_H), 7, 7)
        return path

    def rect_in_scene(self) -> QRectF:
        return QRectF(self.scenePos(), QRectF(0, 0, NODE_W, NODE_H).size())

    def port_pos(self, name: str, is_input: bool) -> QPointF:
        table = self.inputs if is_input else self.outputs
        port = table.get(name)
        if port is None:  # an edge to a port the type lacks: draw it to the side's middle
            return self.scenePos() + QPointF(0.0 if is_input else NODE_W, NODE_H / 2)
        return self.scenePos() + port.pos()

    def paint(self, painter, option, widget=None):
        t = self.theme
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        body = QRectF(0, 0, NODE_W, NODE_H)
        if self.isSelected():
            pen = QPen(t.color("node_selected"), 2.2)
        elif self.problem:
            pen = QPen(t.color("error"), 2.2)
        else:
            pen = QPen(t.color("node_border"), 1.0)
        if self.overlay is not None:  # live health halo, behind the body
            halo = QColor(self.overlay[0])
            painter.setPen(QPen(halo, 5.0))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(body.adjusted(-1.5, -1.5, 1.5, 1.5), 8, 8)
        painter.setPen(pen)
        self._paint_body(painter, body, t)
        painter.setPen(Qt.NoPen)  # category strip on the left
        painter.setBrush(t.category(self.category))
        painter.drawPath(_strip())
        if self.problem and self.isSelected():  # keep the error visible when selected
            painter.setPen(QPen(t.color("error"), 1.2, Qt.DashLine))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(body.adjusted(3, 3, -3, -3), 5, 5)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < DETAIL_LOD:
            self._paint_overview(painter, t, lod)
            return
        if not self._texts:
            self._do_layout()
        x = PAD + 2
        painter.setPen(t.color("text"))
        painter.setFont(self._texts["title"][0])
        painter.drawStaticText(QPointF(x, 7), self._static["title"])
        painter.setPen(t.color("muted"))
        painter.setFont(self._texts["id"][0])
        painter.drawStaticText(QPointF(NODE_W - PAD - self._texts["id_w"], 8.5), self._static["id"])
        painter.setPen(t.color("error") if self.problem else t.color("text"))
        painter.setFont(self._texts["shape"][0])
        painter.drawStaticText(QPointF(x, 27), self._static["shape"])
        painter.setPen(t.color("muted"))
        painter.setFont(self._texts["summary"][0])
        painter.drawStaticText(QPointF(x, 45), self._static["summary"])
        for port in (*self.inputs.values(), *self.outputs.values()):
            port.draw(painter)

    def _paint_body(self, painter, body, t) -> None:
        painter.setBrush(QBrush(t.color("node")))
        painter.drawRoundedRect(body, 7, 7)

    def _paint_overview(self, painter, t, lod: float) -> None:
        """Zoomed out: the small text would be specks, so only the type name is drawn, in a
        font that stays ~9 px on screen, with the id under it where there is room. Laid out
        once per font size (zooming repaints every node on screen)."""
        size = float(round(min(OVERVIEW_PT / max(lod, 0.05), 26.0)))
        got = self._overview.get(size)
        if got is None:
            font, fm = _overview_font(size)
            width = NODE_W - PAD - 4
            lines = [fm.elidedText(self.title, _ELIDE_RIGHT, width)]
            if fm.height() * 2 <= NODE_H - 4:
                lines.append(fm.elidedText(self.node_id, _ELIDE_MIDDLE, width))
            got = []
            top = 2 + (NODE_H - 4 - fm.height() * len(lines)) / 2
            for i, line in enumerate(lines):
                st = QStaticText(line)
                st.setTextFormat(_PLAIN)
                st.prepare(font=font)
                x = PAD + (width - fm.horizontalAdvance(line)) / 2
                got.append((QPointF(x, top + i * fm.height()), st))
            self._overview[size] = got
        painter.setFont(_overview_font(size)[0])
        painter.setPen(t.color("error") if self.problem else t.color("text"))
        for point, st in got:
            painter.drawStaticText(point, st)

    def itemChange(self, change, value):
        if change == _POS_CHANGED and self.scene() is not None:
            self.scene().node_geometry_changed(self)
        elif change == _SELECTED_CHANGED:
            self.setZValue(3 if value else 1)
        return super().itemChange(change, value)
