"""Which items the canvas holds, and keeping them in step with the document.

Items exist only for what is drawn and near the screen: every unit of a graph of up to
ALL_ITEMS drawn units, otherwise those meeting the views' rect widened by a margin, so that
panning a little needs nothing new. Zoomed out past MAP_ZOOM over a big graph the scene
holds no unit items at all and paints a map (map_paint.py). Where items are made, the
units on screen come first; the margin's follow in later event-loop passes, a few
milliseconds at a time, so neither opening nor panning waits for them.
"""
from __future__ import annotations

import bisect
import time

from PySide6.QtCore import QPointF, QRectF

from engine.graph.catalogue import fmt_shape

from .block_facts import block_facts
from .block_item import BlockItem, FrameItem
from .edge_item import EdgeItem, route
from .geometry import HEAD, PAD, Geometry, intersects
from .layout import NODE_H, NODE_W
from .node_item import NodeItem
from .shown import Shown

ALL_ITEMS = 300        # drawn units up to which every one has an item (no culling)
MAP_ZOOM = 0.3         # below this zoom a big graph is painted as a map, without items
MARGIN = 0.6           # the rect with items reaches this many view widths (heights) past it
BUDGET_S = 0.004       # time per event-loop pass for the items off screen
HUGE = (-1e12, -1e12, 1e12, 1e12)


def _qrect(r) -> QRectF:
    return QRectF(r[0], r[1], r[2] - r[0], r[3] - r[1])


class ItemsMixin:
    # -- state --------------------------------------------------------------------------
    def init_items(self) -> None:
        self.node_items: dict[str, NodeItem] = {}   # boxes: nodes and folded blocks
        self.frame_items: dict[str, FrameItem] = {}  # open blocks
        self.edge_items: dict = {}                   # drawn Edge -> [EdgeItem]
        self._dirty_edges: set = set()
        self._queue: list = []                       # (unit, rect) to make when there is time
        self.map_mode = False
        self._region = None
        self._count = None
        self._facts: dict = {}
        self.node_overlays: dict = {}
        self.edge_overlays: dict = {}
        self.block_overlays: dict = {}
        self.geo = None
        self.shown = None
        self._stale = False     # nodes came or went: the drawn graph is worked out on the next flush
        self._pending = False   # what is near the screen may have changed: refresh on the next flush
        self._problems: dict = {}

    def reset_display(self) -> None:
        self.geo = Geometry(self.model.doc, self.model.tree)
        self.shown = Shown(self.geo)
        self._count = None
        self._facts = {}
        self._stale = False
        self.map.dirty()

    def ensure(self) -> None:
        """Catch up with nodes added or removed since the last pass (a paste of many nodes
        works the drawn graph out once, not once per node)."""
        if self._stale:
            self.reset_display()
            self.refresh()

    def clear_items(self) -> None:
        self.clear()
        self.node_items.clear()
        self.frame_items.clear()
        self.edge_items.clear()
        self._dirty_edges.clear()
        self._queue = []

    def count(self) -> int:
        if self._count is None:
            self._count = self.shown.count()
        return self._count

    @property
    def tree(self):
        return self.model.tree

    # -- which units get items -------------------------------------------------------------
    def _view_rects(self):
        out = []
        for v in self.views():
            if v.isVisible() and v.viewport().width() > 1:
                r = v.mapToScene(v.viewport().rect()).boundingRect()
                out.append((r.left(), r.top(), r.right(), r.bottom()))
        return out

    def view_changed(self, view=None) -> None:
        """A view scrolled, zoomed or resized: switch to or from the map, and make items for
        what came near the screen."""
        if self.shown is None:
            return
        self.ensure()
        big = self.count() > ALL_ITEMS
        zoom = min((v.transform().m11() for v in self.views()), default=1.0)
        want_map = big and zoom < MAP_ZOOM
        if want_map != self.map_mode:
            self.map_mode = want_map
            self._region = None
            self.refresh()
            self.update()
            return
        if not big or self.map_mode:
            return
        rects = self._view_rects()
        if not rects:
            return
        r = self._region
        for v in rects:
            w, h = v[2] - v[0], v[3] - v[1]
            inner = None if r is None else (r[0] + 0.25 * w, r[1] + 0.25 * h, r[2] - 0.25 * w, r[3] - 0.25 * h)
            if inner is None or not (inner[0] <= v[0] and inner[1] <= v[1] and v[2] <= inner[2] and v[3] <= inner[3]):
                self.refresh()
                return

    def refresh(self) -> None:
        """Bring the items in line with what should have one."""
        if self.shown is None:
            return
        self._stale = self._pending = False
        screen = None
        if self.map_mode:
            target, region = [], None
        elif self.count() <= ALL_ITEMS:
            region = HUGE
            target = self.shown.visible(HUGE)
        else:
            rects = self._view_rects()
            if rects:
                x0 = min(r[0] for r in rects)
                y0 = min(r[1] for r in rects)
                x1 = max(r[2] for r in rects)
                y1 = max(r[3] for r in rects)
                screen = (x0, y0, x1, y1)
            else:  # no view yet: the graph's top-left, a screen or two of it
                box = self.geo.bbox() or (0, 0, 0, 0)
                screen = (box[0], box[1], box[0] + 2500, box[1] + 1600)
            w, h = screen[2] - screen[0], screen[3] - screen[1]
            region = (screen[0] - MARGIN * w, screen[1] - MARGIN * h, screen[2] + MARGIN * w, screen[3] + MARGIN * h)
            target = self.shown.visible(region)
        self._region = region
        want = {u for u, _ in target}
        for u in [u for u in self.frame_items if u not in want or not self.geo.expanded(u)]:
            self.drop_unit(u)
        for u in [u for u in self.node_items if u not in want or self.geo.expanded(u)]:
            self.drop_unit(u)
        now, later = [], []
        for u, rect in target:
            if u in self.node_items or u in self.frame_items:
                continue
            (now if screen is None or intersects(rect, screen) else later).append((u, rect))
        for u, _ in now:
            self._make(u)
        cx, cy = (screen[0] + screen[2]) / 2 if screen else 0, (screen[1] + screen[3]) / 2 if screen else 0
        later.sort(key=lambda t: -abs((t[1][0] + t[1][2]) / 2 - cx) - abs((t[1][1] + t[1][3]) / 2 - cy))
        self._queue = later  # nearest the screen last: popped first
        self._sync_edges()
        if later:
            self.schedule()

    def _make_queued(self) -> bool:
        """Make queued items for BUDGET_S; True while some are left."""
        t0 = time.perf_counter()
        made = False
        while self._queue and time.perf_counter() - t0 < BUDGET_S:
            u, _ = self._queue.pop()
            if u in self.node_items or u in self.frame_items or u not in self.tree.parent:
                continue
            # its frames first (the queue is ordered by distance from the screen, not depth)
            chain = [b for b in reversed(self.tree.ancestors(u)) if b not in self.frame_items]
            if not all(self.geo.expanded(b) for b in chain):
                continue  # folded meanwhile
            for b in chain:
                self._make(b)
            self._make(u)
            made = True
        if made:
            self._sync_edges()
        return bool(self._queue)

    def _make(self, u: str) -> None:
        parent = self.frame_items.get(self.tree.parent.get(u))
        if self.geo.expanded(u):
            block = self.tree.blocks[u]
            item = FrameItem(u, block.name, self.theme, self.tree.depth(u), parent)
            x, y = self.geo.pos(u)
            item.setPos(x + PAD, y + HEAD)
            self._set_frame_rect(u, item)
            self.frame_items[u] = item
        elif u in self.tree.blocks:
            ins, outs = self.shown.ports(u)
            item = BlockItem(u, self.tree.blocks[u].name, self.theme, ins, outs, parent)
            item.setPos(*self.geo.pos(u))
            self.node_items[u] = item
        else:
            node = self.model.doc.node(u)
            item = NodeItem(u, node.type, self.theme, parent)
            item.set_params(node.params)
            item.setPos(*node.pos)
            self.node_items[u] = item
        item.setFlag(item.GraphicsItemFlag.ItemIsMovable, not self.read_only)
        if parent is None:
            self.addItem(item)
        self._show_info(u, item)
        if u in self._hidden_selection:
            self._hidden_selection.discard(u)
            item.setSelected(True)

    def _set_frame_rect(self, u: str, item: FrameItem) -> None:
        r = self.geo.rect(u)
        x, y = self.geo.pos(u)
        item.set_frame(QRectF(r[0] - x - PAD, r[1] - y - HEAD, r[2] - r[0], r[3] - r[1]))

    def drop_unit(self, u: str) -> None:
        """Remove ``u``'s item (a frame takes its members' items with it)."""
        item = self.node_items.pop(u, None) or self.frame_items.pop(u, None)
        if item is None:
            return
        if isinstance(item, FrameItem):
            for table in (self.node_items, self.frame_items):
                for v in [v for v in table if u in self.tree.ancestors(v)]:
                    it = table.pop(v)
                    if it.isSelected():
                        self._hidden_selection.add(v)
        if item.isSelected():
            self._hidden_selection.add(u)
        if item.scene() is self:
            self.removeItem(item)

    # -- edges --------------------------------------------------------------------------
    def _sync_edges(self) -> None:
        want: set = set()
        for u in self.node_items:
            want |= self.shown.unit_edges.get(u, set())
        for k in [k for k in self.edge_items if k not in want]:
            for it in self.edge_items.pop(k):
                self.removeItem(it)
            self._dirty_edges.discard(k)
        for k in want:
            n = self.shown.items_count(k)
            items = self.edge_items.setdefault(k, [])
            if len(items) == n:
                continue
            while len(items) > n:
                self.removeItem(items.pop())
            while len(items) < n:
                it = EdgeItem(k, self.theme)
                self.addItem(it)
                items.append(it)
                self._dirty_edges.add(k)
            self._edge_info(k, items)
        if self._dirty_edges:
            self.schedule()

    def _edge_info(self, k, items) -> None:
        sources = self.shown.edges.get(k, ())
        info = self.model.analysis.nodes.get(sources[0].src) if sources else None
        label = fmt_shape(info.out_shape) if info else ""
        overlay = next((self.edge_overlays[e] for e in sources if e in self.edge_overlays), None)
        for it in items:
            it.set_label(label)
            it.set_overlay(overlay)

    def edges_changed(self, nodes) -> None:
        """Edges came or went at these nodes: the drawn edges are worked out again on the
        next pass (once for a command that removes hundreds), and folded blocks around them
        get new ports."""
        for n in nodes:
            for b in self.tree.ancestors(n):
                if b in self.node_items:
                    self.drop_unit(b)
        self._stale = True
        self.schedule()

    def node_geometry_changed(self, item) -> None:
        """An item moved (a drag): the edges at it, or at anything inside a frame, re-route."""
        u = item.node_id
        units = [u]
        if isinstance(item, FrameItem):
            units += [v for v in self.node_items if u in self.tree.ancestors(v)]
        for v in units:
            self._dirty_edges.update(self.shown.unit_edges.get(v, ()))
        self.schedule()

    def flush(self) -> None:
        """Catch up: the drawn graph, what is near the screen, the edges marked dirty, and
        queued items (one budget's worth)."""
        if self.shown is None:
            return
        if self._stale:
            self.ensure()
        elif self._pending:
            self.view_changed()
            if self._pending:
                self.refresh()
        if self._queue and self._make_queued():
            self.schedule()
        dirty, self._dirty_edges = self._dirty_edges, set()
        for k in dirty:
            for item in self.edge_items.get(k, []):
                self._route(item)

    def _end(self, unit: str, port: str, is_input: bool):
        item = self.node_items.get(unit)
        if item is not None:
            return item.port_pos(port, is_input), item.rect_in_scene()
        r = self.geo.abs_rect(unit)
        x, y = self.shown.port_point(unit, port, is_input, r)
        return QPointF(x, y), _qrect(r)

    def _route(self, item: EdgeItem) -> None:
        k = item.edge
        if k.src not in self.tree.parent or k.dst not in self.tree.parent:
            return
        p1, r1 = self._end(k.src, k.src_port, False)
        p2, r2 = self._end(k.dst, k.dst_port, True)
        path, label = route(p1, p2, r1, r2, self._obstacles(k.src, k.dst))
        item.set_route(path, label)

    def _obstacles(self, src: str, dst: str):
        """Boxes at the levels of an edge's two ends (frames that hold neither end too), from
        the document's geometry: routes do not depend on which items exist."""
        tree, shown = self.tree, self.shown
        exclude = {src, dst, *tree.ancestors(src), *tree.ancestors(dst)}
        levels = {tree.parent.get(src), tree.parent.get(dst)}

        def find(rect: QRectF):
            out = []
            for level in levels:
                ox, oy = self.geo.origin(level)
                xs, rects, widest = shown._level(level)
                lo = bisect.bisect_left(xs, rect.left() - ox - widest)
                hi = bisect.bisect_right(xs, rect.right() - ox)
                for r, u in rects[lo:hi]:
                    if u in exclude:
                        continue
                    q = QRectF(r[0] + ox, r[1] + oy, r[2] - r[0], r[3] - r[1])
                    if q.intersects(rect):
                        out.append(q)
            return out
        return find

    # -- following changes ---------------------------------------------------------------
    def unit_moved(self, unit: str) -> None:
        if unit not in self.tree.parent:
            return
        self.shown.moved(unit)
        item = self.node_items.get(unit) or self.frame_items.get(unit)
        if item is not None:
            x, y = self.geo.pos(unit)
            pos = QPointF(x + PAD, y + HEAD) if isinstance(item, FrameItem) else QPointF(x, y)
            if item.pos() != pos:
                item.setPos(pos)  # itemChange marks its edges for re-routing
        self._frames_around(unit)
        self.map.dirty()
        if self.count() > ALL_ITEMS:
            self._pending = True  # what is near the screen may have changed
        self.schedule()

    def _frames_around(self, unit: str) -> None:
        for b in self.tree.ancestors(unit):
            item = self.frame_items.get(b)
            if item is not None:
                self._set_frame_rect(b, item)

    def refold(self, block_id: str) -> None:
        """A block folded or opened: it and its members get new items, edges re-gather."""
        self.shown.refold(block_id)
        self._count = None
        self._facts.pop(block_id, None)
        self.drop_unit(block_id)
        self._frames_around(block_id)
        for k in list(self._dirty_edges):
            if k not in self.shown.edges:
                self._dirty_edges.discard(k)
        self.map.dirty()
        self.view_changed()  # the map may come or go
        self.refresh()
        for items in self.edge_items.values():  # edges at the block and its neighbours
            for it in items:
                if it.edge.src == block_id or it.edge.dst == block_id:
                    self._dirty_edges.add(it.edge)
        self.schedule()
        self.block_toggled.emit(block_id)

    # -- what the model says about each unit ---------------------------------------------
    def facts(self, block_id: str):
        got = self._facts.get(block_id)
        if got is None:
            got = block_facts(self.tree, self.model.analysis, block_id, self.shown.ports(block_id))
            self._facts[block_id] = got
        return got

    def _show_info(self, u: str, item) -> None:
        analysis = self.model.analysis
        if isinstance(item, (BlockItem, FrameItem)):
            f = self.facts(u)
            item.set_block(self.tree.blocks[u].name, f.summary)
            if isinstance(item, FrameItem):
                item.set_info(str(f.problem) if f.problem else None)
            else:
                item.set_info(f.shape_text, str(f.problem) if f.problem else None)
            item.set_overlay(self.block_overlays.get(u))
            return
        info = analysis.nodes.get(u)
        problem = self._problems.get(u)
        shape = fmt_shape(info.out_shape) if info and item.outputs else ""
        if info and not item.outputs:  # a loss: show what it receives
            shape = "← " + ", ".join(fmt_shape(s) for s in info.in_shapes)
        item.set_info(shape, str(problem) if problem else None)
        item.set_overlay(self.node_overlays.get(u))

    def analysis_shown(self, analysis) -> None:
        self._facts = {}
        self._problems = {}
        for p in analysis.problems:
            if p.node and p.node not in self._problems:
                self._problems[p.node] = p
        for u, item in (*self.node_items.items(), *self.frame_items.items()):
            self._show_info(u, item)
        for k, items in self.edge_items.items():
            self._edge_info(k, items)
        self.map.dirty()

    def update_block_text(self, block_id: str) -> None:
        item = self.node_items.get(block_id) or self.frame_items.get(block_id)
        if item is not None:
            self._show_info(block_id, item)

    def set_overlays(self, nodes: dict, edges: dict, blocks: dict) -> None:
        """The live overlay at the shown step: node halos, edge colours, block summaries."""
        self.node_overlays, self.edge_overlays, self.block_overlays = nodes, edges, blocks
        for u, item in self.node_items.items():
            item.set_overlay(blocks.get(u) if u in self.tree.blocks else nodes.get(u))
        for u, item in self.frame_items.items():
            item.set_overlay(blocks.get(u))
        for k, items in self.edge_items.items():
            self._edge_info(k, items)

    def item_rects(self) -> list[QRectF]:
        """The boxes that have items (where a new node should not be dropped)."""
        return [it.rect_in_scene() for it in self.node_items.values()]


__all__ = ["ItemsMixin", "ALL_ITEMS", "MAP_ZOOM", "NODE_W", "NODE_H"]
