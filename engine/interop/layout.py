"""Positions for an imported graph: left to right by longest path from the input, the
nodes of one layer stacked in document order. Plain and deterministic (the round trip
import -> export -> import gives the same positions); the editor's own layered layout
(visualizer/editor/layout.py) can tidy it further."""
from __future__ import annotations

from ..graph.document import GraphDocument

DX, DY = 280.0, 110.0  # the editor's node box plus room for edge labels


def layered_positions(doc: GraphDocument) -> dict[str, tuple[float, float]]:
    depth: dict[str, int] = {}
    incoming: dict[str, list[str]] = {n.id: [] for n in doc.nodes}
    for e in doc.edges:
        incoming[e.dst].append(e.src)
    for node in doc.nodes:  # document order is a topological order for an imported graph
        depth[node.id] = max((depth.get(s, 0) + 1 for s in incoming[node.id]), default=0)
    lanes: dict[int, int] = {}
    out = {}
    for node in doc.nodes:
        d = depth[node.id]
        lane = lanes.get(d, 0)
        lanes[d] = lane + 1
        out[node.id] = (d * DX, lane * DY)
    return out
