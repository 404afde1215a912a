"""A port: a small circle on a node's side (inputs left, outputs right). A multi-input
port (merge nodes) is drawn as a pill, to say it takes several connections.

The item itself paints nothing: its node draws it (inside the node's cached pixmap), so
1,000 nodes cost 1,000 cached blits per frame rather than 3,000 Python paint calls."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem

RADIUS = 5.5


class PortItem(QGraphicsItem):
    NORMAL, COMPATIBLE, DIMMED = range(3)

    def __init__(self, node_item, name: str, is_input: bool, multi: bool = False, connectable: bool = True):
        super().__init__(node_item)
        self.node_item = node_item
        self.name = name
        self.is_input = is_input
        self.multi = multi
        self.connectable = connectable  # a folded block's ports show where edges cross; open it to connect
        self.state = self.NORMAL
        self.setZValue(2)
        self.setFlag(QGraphicsItem.ItemHasNoContents, True)
        self._hover = False
        kind = "input" if is_input else "output"
        if connectable:
            self.setAcceptHoverEvents(True)  # the cross cursor is set on hover: setCursor per port
            self.setToolTip(f"{kind} '{name}'" + (" (takes several connections)" if multi else "")
                            + ": drag to connect")
        else:
            self.setAcceptedMouseButtons(Qt.NoButton)
            node = name.split(".")[0]
            self.setToolTip(f"input from '{node}'" if is_input else f"output of '{node}'")

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        return QRectF(-10, -12, 20, 24)

    def set_state(self, state: int) -> None:
        if state != self.state:
            self.state = state
            self.node_item.update()

    def hoverEnterEvent(self, event):
        self._hover = True
        self.node_item.update()
        if event.widget() is not None:  # ~0.5 ms each on X11 when every port had its own
            event.widget().setCursor(Qt.CrossCursor)

    def hoverLeaveEvent(self, event):
        self._hover = False
        self.node_item.update()
        if event.widget() is not None:
            event.widget().unsetCursor()

    def paint(self, painter, option, widget=None):
        pass  # ItemHasNoContents: never called

    def draw(self, painter) -> None:
        """Paint this port in its node's coordinates (called from NodeItem.paint)."""
        theme = self.node_item.theme
        painter.save()
        painter.translate(self.pos())
        colour = theme.color("port")
        r = RADIUS
        if self.state == self.COMPATIBLE:
            colour, r = theme.color("port_ok"), RADIUS + 2
        elif self.state == self.DIMMED:
            colour = QColor(colour)
            colour.setAlpha(70)
        if self._hover:
            r += 1.5
        painter.setPen(QPen(theme.color("node"), 1.5))
        painter.setBrush(QBrush(colour))
        if self.multi:
            painter.drawRoundedRect(QRectF(-r + 1, -r * 1.7, 2 * r - 2, r * 3.4), r - 1, r - 1)
        else:
            painter.drawEllipse(QRectF(-r, -r, 2 * r, 2 * r))
        painter.restore()
