"""What the canvas shows (no Qt here): the units drawn (nodes, folded blocks as boxes, open
blocks as frames), the edges between them, each folded block's ports, and which units meet a
region of the canvas, so the scene makes items only for what is on screen.

An edge of the document is drawn between what shows its two ends: the nodes themselves, or
the outermost folded blocks around them. Several edges can become one drawn edge (a block's
input feeds two of its members); an edge inside one folded block is not drawn at all.
"""
from __future__ import annotations

import bisect

from engine.graph.catalogue import CATALOGUE
from engine.graph.document import Edge

from .geometry import Geometry, intersects
from .layout import NODE_H


def port_y(index: int, count: int) -> float:
    """A port's height on its box (the node item places its ports the same way)."""
    return NODE_H * (index + 1) / (count + 1)


class Shown:
    def __init__(self, geo: Geometry):
        self.geo = geo
        self.doc, self.tree = geo.doc, geo.tree
        self.shown: dict[str, str] = {}            # node id -> the unit drawn for it
        self.edges: dict[Edge, list[Edge]] = {}    # drawn edge -> the document edges it stands for
        self.unit_edges: dict[str, set] = {}       # unit -> drawn edges touching it
        self._node_edges: dict[str, list[Edge]] = {}
        self._ports: dict[str, tuple[list[str], list[str]]] = {}
        self._levels: dict = {}                    # container -> (xs, rects, units, widest)
        self.rebuild()

    # -- the drawn graph -----------------------------------------------------------------
    def rebuild(self) -> None:
        tree = self.tree
        # the unit that shows everything inside each block (None: the block is drawn open),
        # worked out level by level rather than by walking every node's ancestors
        folded: dict = {None: None}
        for b in sorted(tree.blocks, key=tree.depth):
            outer = folded.get(tree.parent.get(b))
            folded[b] = outer if outer is not None else (b if tree.blocks[b].collapsed else None)
        parent = tree.parent
        self.shown = {n.id: folded.get(parent.get(n.id)) or n.id for n in self.doc.nodes}
        self._node_edges = {}
        for e in self.doc.edges:
            self._node_edges.setdefault(e.src, []).append(e)
            if e.dst != e.src:
                self._node_edges.setdefault(e.dst, []).append(e)
        self.edges, self.unit_edges = {}, {}
        for e in self.doc.edges:
            self._add(e)
        self._ports.clear()
        self._levels.clear()

    def key(self, e: Edge) -> Edge | None:
        """The drawn edge standing for document edge ``e`` (None when it is folded away)."""
        s, d = self.shown.get(e.src), self.shown.get(e.dst)
        if s is None or d is None or s == d:
            return None
        if s == e.src and d == e.dst:
            return e
        end = f"{e.src}.{e.src_port}"
        return Edge(s, e.src_port if s == e.src else end, d, e.dst_port if d == e.dst else end)

    def _add(self, e: Edge) -> None:
        k = self.key(e)
        if k is None:
            return
        self.edges.setdefault(k, []).append(e)
        self.unit_edges.setdefault(k.src, set()).add(k)
        self.unit_edges.setdefault(k.dst, set()).add(k)

    def _drop(self, e: Edge) -> None:
        k = self.key(e)
        if k is None or k not in self.edges:
            return
        sources = self.edges[k]
        sources.remove(e)
        if not sources:
            del self.edges[k]
            for u in (k.src, k.dst):
                self.unit_edges.get(u, set()).discard(k)

    def items_count(self, k: Edge) -> int:
        """Items drawn for a drawn edge: one per document edge between two nodes (identical
        parallel edges are legal), one for all the edges a block's port gathers."""
        return len(self.edges.get(k, ())) if self.doc_edge(k) else 1

    def doc_edge(self, k: Edge) -> bool:
        return k.src not in self.tree.blocks and k.dst not in self.tree.blocks

    def refold(self, block_id: str) -> tuple[set, set]:
        """``block_id`` folded or opened: the drawn edges that went and came."""
        members = self.tree.members(block_id)
        touched: dict[Edge, None] = {}
        for n in members:
            for e in self._node_edges.get(n, ()):
                touched[e] = None
        before = set(self.edges)
        for e in touched:
            self._drop(e)
        for n in members:
            self.shown[n] = self.tree.shown_as(n)
        for e in touched:
            self._add(e)
        for b in (block_id, *self.tree.descendants(block_id)):
            self._ports.pop(b, None)
        self.moved(block_id)
        after = set(self.edges)
        return before - after, after - before

    # -- ports -----------------------------------------------------------------------------
    def ports(self, unit: str) -> tuple[list[str], list[str]]:
        """Input and output port names of a drawn unit."""
        got = self._ports.get(unit)
        if got is not None:
            return got
        if unit in self.tree.blocks:
            # a drawn block's ports are where its drawn edges end (every edge across its
            # boundary is drawn, to whatever shows the other end)
            ins, outs = {}, {}
            for k in self.unit_edges.get(unit, ()):
                if k.dst == unit:
                    ins[k.dst_port] = None
                if k.src == unit:
                    outs[k.src_port] = None
            order = self.tree.order
            key = lambda p: (order.get(p.split(".")[0], 0), p)  # noqa: E731
            got = (sorted(ins, key=key), sorted(outs, key=key))
        else:
            spec = CATALOGUE.get(self.doc.node(unit).type)
            got = ([p.name for p in spec.inputs], [p.name for p in spec.outputs]) if spec else ([], [])
        self._ports[unit] = got
        return got

    def port_point(self, unit: str, port: str, is_input: bool, rect=None) -> tuple[float, float]:
        """Where a port of ``unit`` is on the canvas (``rect``: the unit's rect, if known)."""
        x0, y0, x1, _ = rect or self.geo.abs_rect(unit)
        names = self.ports(unit)[0 if is_input else 1]
        y = port_y(names.index(port), len(names)) if port in names else NODE_H / 2
        return (x0 if is_input else x1, y0 + y)

    # -- what meets a region ---------------------------------------------------------------
    def moved(self, unit: str) -> None:
        """``unit`` moved or changed size: the levels holding it and its blocks re-sort."""
        self.geo.invalidate(unit)
        self._levels.pop(self.tree.parent.get(unit), None)
        for b in self.tree.ancestors(unit):
            self._levels.pop(self.tree.parent.get(b), None)
        if unit in self.tree.blocks:
            self._levels.pop(unit, None)

    def restructured(self) -> None:
        self._levels.clear()
        self._ports.clear()
        self.geo.clear()

    def _level(self, container):
        got = self._levels.get(container)
        if got is None:
            rects = sorted(((self.geo.rect(u), u) for u in self.tree.children.get(container, ())),
                           key=lambda t: t[0][0])
            widest = max((r[2] - r[0] for r, _ in rects), default=0.0)
            got = ([r[0] for r, _ in rects], rects, widest)
            self._levels[container] = got
        return got

    def visible(self, region, origin=(0.0, 0.0), container=None, out=None) -> list[tuple[str, tuple]]:
        """``(unit, rect on the canvas)`` of every drawn unit meeting ``region``, outer before
        inner (an open block's frame before its members)."""
        out = [] if out is None else out
        xs, rects, widest = self._level(container)
        ox, oy = origin
        lo = bisect.bisect_left(xs, region[0] - ox - widest)
        hi = bisect.bisect_right(xs, region[2] - ox)
        for r, u in rects[lo:hi]:
            a = (r[0] + ox, r[1] + oy, r[2] + ox, r[3] + oy)
            if not intersects(a, region):
                continue
            out.append((u, a))
            if self.geo.expanded(u):
                px, py = self.geo.pos(u)
                from .geometry import HEAD, PAD
                self.visible(region, (ox + px + PAD, oy + py + HEAD), u, out)
        return out

    def count(self, container=None) -> int:
        """How many units are drawn (every open block counted with its members)."""
        n = 0
        for u in self.tree.children.get(container, ()):
            n += 1
            if self.geo.expanded(u):
                n += self.count(u)
        return n
