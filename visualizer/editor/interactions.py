"""Mouse gestures on the canvas, each in its own class (orange-canvas-core's
interactions): the scene hands them its mouse events while they run.

NewLinkInteraction: press on a port, drag, release on a compatible port. Compatible
ports light up while dragging; the rest dim. Dragging from an input that is already fed
picks up its edge: drop it on another input to re-route it, or on empty canvas to
remove it (one undo step either way).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem

from . import edits
from .edge_item import curve
from .port_item import PortItem

SNAP_DISTANCE = 24.0  # a release this close to a compatible port connects to it


def _end(port: PortItem) -> tuple[str, str]:
    """The node and port a port item stands for (a folded block's port names the member's)."""
    if port.connectable:
        return port.node_id, port.name
    node, _, name = port.name.partition(".")
    return node, name


class NewLinkInteraction:
    def __init__(self, scene, port: PortItem):
        self.scene = scene
        self.model = scene.model
        self.detached = None  # the existing edge picked up from a fed input
        if port.is_input and not port.multi:
            fed = [e for e in self.model.doc.incoming(port.node_id) if e.dst_port == port.name]
            if fed:
                self.detached = fed[-1]
                src, sport = self.detached.src, self.detached.src_port
                src_item = scene.node_items.get(src)
                if src_item is not None:
                    port = src_item.outputs.get(sport, port)
                else:  # its source is folded in a block: the drag starts at the block's port
                    block_item = scene.node_items.get(scene.shown.shown.get(src))
                    if block_item is not None:
                        port = block_item.outputs.get(f"{src}.{sport}", port)
                for item in scene.edge_items.get(scene.shown.key(self.detached), []):
                    item.setVisible(False)
        self.anchor = port
        self.compatible = self._compatible_ports()
        for p in scene.all_ports():
            if p is not self.anchor:
                p.set_state(PortItem.COMPATIBLE if p in self.compatible else PortItem.DIMMED)
        self.line = QGraphicsPathItem()
        pen = QPen(scene.theme.color("node_selected"), 2.0, Qt.DashLine)
        self.line.setPen(pen)
        self.line.setZValue(10)
        scene.addItem(self.line)

    def _ends(self, other: PortItem):
        a, b = self.anchor, other
        out, inp = (a, b) if not a.is_input else (b, a)
        return (*_end(out), *_end(inp))

    def _compatible_ports(self) -> set:
        doc = self.model.doc
        if self.detached is not None:  # judge as if the picked-up edge were gone
            doc = doc.copy()
            doc.edges.remove(self.detached)
        ok = set()
        for p in self.scene.all_ports():
            if p.is_input == self.anchor.is_input or p.node_item is self.anchor.node_item:
                continue
            if edits.connect_problem(doc, *self._ends(p)) is None:
                ok.add(p)
        return ok

    def _target(self, pos: QPointF) -> PortItem | None:
        best, best_d = None, SNAP_DISTANCE
        for p in self.compatible:
            d = (p.scenePos() - pos).manhattanLength()
            if d < best_d:
                best, best_d = p, d
        return best

    def mouse_move(self, pos: QPointF) -> None:
        start = self.anchor.scenePos()
        target = self._target(pos)
        end = target.scenePos() if target is not None else pos
        self.line.setPath(curve(start, end) if not self.anchor.is_input else curve(end, start))

    def mouse_release(self, pos: QPointF) -> None:
        target = self._target(pos)
        stack = self.model.undo_stack
        if self.detached is not None:
            if target is None:
                edits.delete(self.model, [], [self.detached], text="Disconnect")
            elif self._ends(target) != (self.detached.src, self.detached.src_port,
                                        self.detached.dst, self.detached.dst_port):
                stack.beginMacro("Reconnect")
                edits.delete(self.model, [], [self.detached], text="Disconnect")
                edits.connect(self.model, *self._ends(target))
                stack.endMacro()
        elif target is not None:
            edits.connect(self.model, *self._ends(target))
        self.finish()

    def finish(self) -> None:
        self.scene.removeItem(self.line)
        for p in self.scene.all_ports():
            p.set_state(PortItem.NORMAL)
        if self.detached is not None:
            for item in self.scene.edge_items.get(self.scene.shown.key(self.detached), []):
                item.setVisible(True)
