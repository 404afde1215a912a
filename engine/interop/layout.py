"""Positions for an imported graph: left to right by longest path from the input, the
units of one layer stacked in document order. Plain and deterministic (the round trip
import -> export -> import gives the same positions); the editor's own layered layout
(visualizer/editor/layout.py) can tidy it further.

Positions nest in blocks (engine/graph/blocks.py): each level of the block tree is laid out
on its own, a folded block taking the room of one node."""
from __future__ import annotations

from ..graph.document import GraphDocument

DX, DY = 280.0, 110.0  # the editor's node box plus room for edge labels


def layered_positions(doc: GraphDocument) -> dict[str, tuple[float, float]]:
    """Positions of every node and block, each relative to its level."""
    tree = doc.tree()
    out: dict[str, tuple[float, float]] = {}
    for level, units in tree.children.items():
        at_level = set(units)

        def unit_of(node_id):
            u = node_id
            while u is not None and u not in at_level:
                u = tree.parent.get(u)
            return u
        incoming: dict[str, list[str]] = {u: [] for u in units}
        for e in doc.edges:
            a, b = unit_of(e.src), unit_of(e.dst)
            if a is not None and b is not None and a != b:
                incoming[b].append(a)
        depth: dict[str, int] = {}
        # document order is a topological order for an imported graph; a block comes where its
        # first member does, so its inputs are placed before it
        for u in units:
            depth[u] = max((depth.get(s, 0) + 1 for s in incoming[u]), default=0)
        lanes: dict[int, int] = {}
        for u in units:
            d = depth[u]
            lane = lanes.get(d, 0)
            lanes[d] = lane + 1
            out[u] = (d * DX, lane * DY)
    return out
