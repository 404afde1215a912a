"""The canvas scene: follows the DocumentModel's signals and never edits the document
itself except through editor.edits / block_edits (which push undo commands).

It holds items only for what is drawn and near the screen (scene_items.py decides which), so
a 10,000-node graph costs what is on screen; zoomed far out over a big graph it holds none
and paints a map of boxes instead (map_paint.py). Selection is kept by id, so a selected
node that scrolls away and comes back is still selected.
"""
from __future__ import annotations

import weakref

import shiboken6

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QPainter, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsScene

from . import block_edits, edits
from .block_item import BlockItem, FrameItem
from .edge_item import EdgeItem
from .interactions import NewLinkInteraction
from .map_paint import MapPainter
from .model import DocumentModel
from .node_item import NodeItem
from .port_item import PortItem
from .scene_items import ItemsMixin

GRID = 24


class EditorScene(ItemsMixin, QGraphicsScene):
    node_activated = Signal(str)  # double-click on a node
    block_toggled = Signal(str)   # a block was folded or opened (the graph's extent changed)

    def __init__(self, model: DocumentModel, theme, parent=None):
        super().__init__(parent)
        self.model = model
        self.theme = theme
        self.read_only = False  # a replayed session: select, inspect and fold, but no edits
        self.interaction = None
        self._grid_brush = None
        self._hidden_selection: set[str] = set()  # selected units that have no item now
        self.map = MapPainter(self)
        self._edge_timer = QTimer(self)
        self._edge_timer.setSingleShot(True)
        self._edge_timer.setInterval(0)
        self._edge_timer.timeout.connect(self.flush)
        self.setItemIndexMethod(QGraphicsScene.BspTreeIndex)
        self.init_items()
        model.node_added.connect(self._on_node_added)
        model.node_removed.connect(self._on_node_removed)
        model.node_changed.connect(self._on_node_changed)
        model.node_moved.connect(self._on_unit_moved)
        model.block_moved.connect(self._on_unit_moved)
        model.edge_added.connect(self._on_edge_added)
        model.edge_removed.connect(self._on_edge_removed)
        model.blocks_changed.connect(self.rebuild)
        model.block_changed.connect(self._on_block_changed)
        model.block_collapsed.connect(self._on_block_collapsed)
        model.reset.connect(self.rebuild)
        model.analysis_changed.connect(self._on_analysis)
        # after each command, catch up at once (items for what it added); through a weak
        # reference: the stack outlives the scene when a window closes, and clears itself then
        ref = weakref.ref(self)

        def after_command(*_args):
            scene = ref()
            if scene is not None and shiboken6.isValid(scene):
                scene.flush()
        model.undo_stack.indexChanged.connect(after_command)
        self.rebuild()

    def schedule(self) -> None:
        if not self._edge_timer.isActive():
            self._edge_timer.start()

    def flush_edges(self) -> None:
        self.flush()

    # -- following the model ------------------------------------------------------------
    def rebuild(self) -> None:
        """A new document or new blocks: everything drawn is worked out again."""
        self.interaction = None
        keep = set(self.selected_units()) if self.node_items or self.frame_items else set()
        self.clear_items()
        self.reset_display()
        self._hidden_selection = {u for u in keep if u in self.model.doc.tree().blocks or self.model.doc.has_node(u)}
        self.refresh()
        self.flush()
        self._on_analysis(self.model.analysis)

    def _on_node_added(self, node_id: str) -> None:
        self._stale = True
        self.schedule()

    def _on_node_removed(self, node_id: str) -> None:
        self._hidden_selection.discard(node_id)
        self.drop_unit(node_id)
        self._stale = True
        self.schedule()

    def _on_node_changed(self, node_id: str) -> None:
        item = self.node_items.get(node_id)
        if item is not None:
            item.set_params(self.model.doc.node(node_id).params)

    def _on_unit_moved(self, unit: str) -> None:
        if not self._stale:
            self.unit_moved(unit)

    def _on_edge_added(self, edge) -> None:
        self.edges_changed({edge.src, edge.dst})

    def _on_edge_removed(self, edge) -> None:
        self.edges_changed({edge.src, edge.dst})

    def _on_block_changed(self, block_id: str) -> None:
        self.update_block_text(block_id)

    def _on_block_collapsed(self, block_id: str) -> None:
        if not self._stale:
            self.refold(block_id)

    def _on_analysis(self, analysis) -> None:
        self.ensure()
        self.analysis_shown(analysis)

    def set_theme(self, theme, scale: float = 1.0) -> None:
        """Colours of every item; ``scale`` > 1 (presentation mode) raises the zoom below
        which the canvas stops fitting the graph, so node text stays legible on a projector."""
        self.theme = theme
        for view in self.views():
            if hasattr(view, "min_readable"):
                view.min_readable = type(view).min_readable * scale
        self._grid_brush = None
        for item in (*self.node_items.values(), *self.frame_items.values()):
            item.set_theme(theme)
        for items in self.edge_items.values():
            for it in items:
                it.set_theme(theme)
        self.map.dirty()
        self.update()

    # -- selection, by id ---------------------------------------------------------------
    def selected_units(self) -> list[str]:
        """Selected nodes and blocks, in document order (items or not)."""
        ids = {it.node_id for it in self.selectedItems() if isinstance(it, (NodeItem, FrameItem))}
        ids |= self._hidden_selection
        tree = self.model.tree
        order = tree.order
        ids = {u for u in ids if u in tree.parent}
        return sorted(ids, key=lambda u: (order.get(u, 0), u in tree.blocks))

    def selected_node_ids(self) -> list[str]:
        blocks = self.model.tree.blocks
        return [u for u in self.selected_units() if u not in blocks]

    def selected_block_ids(self) -> list[str]:
        blocks = self.model.tree.blocks
        return [u for u in self.selected_units() if u in blocks]

    def selected_edges(self) -> list:
        out = []
        for it in self.selectedItems():
            if isinstance(it, EdgeItem):
                out.extend(self.shown.edges.get(it.edge, ()) if not self.shown.doc_edge(it.edge) else [it.edge])
        return list(dict.fromkeys(out))

    def select_nodes(self, ids) -> None:
        """Select these units (nodes or blocks), and only them."""
        ids = set(ids)
        self.blockSignals(True)
        self.clearSelection()
        self._hidden_selection = set()
        for uid in ids:
            item = self.node_items.get(uid) or self.frame_items.get(uid)
            if item is not None:
                item.setSelected(True)
            else:
                self._hidden_selection.add(uid)
        self.blockSignals(False)
        self.selectionChanged.emit()

    def select_all(self) -> None:
        self.select_nodes(u for u in self.model.tree.parent if self.geo.shown(u))

    def all_ports(self):
        for item in self.node_items.values():
            for p in (*item.inputs.values(), *item.outputs.values()):
                if p.connectable:
                    yield p

    def frame_at(self, scene_pos: QPointF):
        """The innermost open block's frame at a point, or None."""
        frames = [it for it in self.frame_items.values() if it.rect_in_scene().contains(scene_pos)]
        return max(frames, key=lambda it: it.depth, default=None)

    def nodes_rect(self) -> QRectF:
        box = self.geo.bbox()
        return QRectF() if box is None else QRectF(box[0], box[1], box[2] - box[0], box[3] - box[1])

    # -- mouse: gestures and committing drags -------------------------------------------
    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton:
            under = self.itemAt(event.scenePos(), self.views()[0].transform()) if self.views() else None
            if not event.modifiers() & (Qt.ControlModifier | Qt.ShiftModifier) and not (under and under.isSelected()):
                self._hidden_selection.clear()
            if not self.read_only:
                port = next((it for it in self.items(event.scenePos()) if isinstance(it, PortItem)
                             and it.connectable), None)
                if port is not None:
                    self.interaction = NewLinkInteraction(self, port)
                    self.interaction.mouse_move(event.scenePos())
                    event.accept()
                    return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self.interaction is not None:
            self.interaction.mouse_move(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self.interaction is not None:
            interaction, self.interaction = self.interaction, None
            interaction.mouse_release(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.LeftButton:
            self.commit_moves()

    def commit_moves(self) -> None:
        """Item drags move the items only; on release the model learns every new position
        in one undo step, and the items are already where the model now says."""
        if self.read_only:
            return
        moved = {}
        for unit, item in (*self.node_items.items(), *self.frame_items.items()):
            x, y = self.geo.pos(unit)
            p = item.content_pos() if isinstance(item, FrameItem) else item.pos()
            if (p.x(), p.y()) != (x, y):
                moved[unit] = (p.x(), p.y())
        if moved:
            edits.move_nodes(self.model, moved, "Move" if len(moved) == 1 else f"Move {len(moved)} nodes")

    def mouseDoubleClickEvent(self, event):
        items = self.items(event.scenePos())
        item = next((it for it in items if isinstance(it, (NodeItem, FrameItem))), None)
        if isinstance(item, BlockItem):
            self.toggle_block(item.node_id, False)
        elif isinstance(item, FrameItem):
            if item.header_rect().contains(item.mapFromScene(event.scenePos())):
                self.toggle_block(item.node_id, True)
        elif item is not None:
            self.node_activated.emit(item.node_id)
        elif self.map_mode and self.views():
            self.views()[0].zoom_in_at(event.scenePos())
        super().mouseDoubleClickEvent(event)

    def toggle_block(self, block_id: str, collapsed: bool) -> None:
        block_edits.set_collapsed(self.model, block_id, collapsed)

    def drawBackground(self, painter: QPainter, rect: QRectF):
        # filled in whole device pixels: a fill at fractional scene coordinates under a scaled
        # transform takes the antialiased path, 2-4 ms a frame on a full-HD canvas
        t = painter.worldTransform()
        zoom = t.m11()
        painter.save()
        painter.resetTransform()
        device = t.mapRect(rect).toAlignedRect()
        if self.map_mode or zoom < 0.35 or t.m12() or t.m21():
            painter.fillRect(device, self.theme.color("canvas"))
            painter.restore()
            if self.map_mode:
                self.map.paint(painter, rect)
            return
        step = max(4, round(GRID * zoom))  # the dotted grid, tiled at 1:1 (a blit)
        if self._grid_brush is None or self._grid_brush[0] != step:
            pm = QPixmap(step, step)
            pm.fill(self.theme.color("canvas"))
            p = QPainter(pm)
            dot = max(1, round(2 * zoom))
            p.fillRect(0, 0, dot, dot, self.theme.color("grid"))
            p.end()
            self._grid_brush = (step, QBrush(pm))
        brush = QBrush(self._grid_brush[1])
        brush.setTransform(QTransform.fromTranslate(round(t.dx()) % step, round(t.dy()) % step))
        painter.fillRect(device, brush)
        painter.restore()


__all__ = ["EditorScene", "GRID", "QPointF"]
