"""Auto-layout: layered, left to right (a Sugiyama-style sketch on networkx).

Layers are the longest-path generations; edges that skip layers get dummy points so
that they reserve a lane of their own; lanes are ordered by barycentre sweeps to reduce
crossings and placed so chains run straight. A long chain wraps into rows (like text) at
points where a single edge crosses, so a 15-layer LeNet fits a landscape window.
"""
from __future__ import annotations

import math

import networkx as nx

from engine.graph.document import Edge, GraphDocument, Node

NODE_W, NODE_H = 184.0, 66.0     # the node box; node_item draws to these
LAYER_GAP = 96.0                 # room for an edge's shape label between layers
LANE_GAP = 44.0
ROW_GAP = 84.0                   # between wrapped rows: where return edges run
DX, DY = NODE_W + LAYER_GAP, NODE_H + LANE_GAP
VIEWPORT = (1100.0, 700.0)       # the canvas size wrapping aims to fill at full scale
BLOCK_VIEWPORT = (2200.0, 1400.0)  # inside a block: a basic block's chain stays one row
MAX_DUMMIES = 20000


def layered_layout(doc: GraphDocument, viewport: tuple[float, float] = VIEWPORT) -> dict[str, tuple[float, float]]:
    """Top-left positions for every node."""
    if not doc.nodes:
        return {}
    order = {n.id: i for i, n in enumerate(doc.nodes)}
    g = nx.DiGraph()
    g.add_nodes_from(order)
    g.add_edges_from((e.src, e.dst) for e in doc.edges if e.src in order and e.dst in order)
    if not nx.is_directed_acyclic_graph(g):
        return _grid(doc)
    layer_of: dict = {}
    for v in nx.lexicographical_topological_sort(g, key=order.__getitem__):
        layer_of[v] = max((layer_of[u] + 1 for u in g.predecessors(v)), default=0)

    # Chains of dummy points for edges that skip layers.
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    long_edges = sum(layer_of[v] - layer_of[u] - 1 for u, v in g.edges)
    for u, v in g.edges:
        span = layer_of[v] - layer_of[u]
        if span <= 1 or long_edges > MAX_DUMMIES:
            h.add_edge(u, v)
            continue
        prev = u
        for k in range(1, span):
            d = ("dummy", u, v, k)
            layer_of[d] = layer_of[u] + k
            h.add_edge(prev, d)
            prev = d
        h.add_edge(prev, v)
    n_layers = max(layer_of.values()) + 1
    layers: list[list] = [[] for _ in range(n_layers)]
    for v in sorted(h.nodes, key=lambda v: (order.get(v, len(order)), str(v))):
        layers[layer_of[v]].append(v)

    _order_lanes(h, layers)
    y = _place_lanes(h, layers)
    rows = _rows(g, layer_of, layers, y, viewport)

    pos: dict[str, tuple[float, float]] = {}
    top = 0.0
    for first, last in rows:
        members = [v for k in range(first, last + 1) for v in layers[k]]
        y_min = min(y[v] for v in members)
        y_max = max(y[v] for v in members)
        for k in range(first, last + 1):
            for v in layers[k]:
                if v in order:
                    pos[v] = ((k - first) * DX, top + y[v] - y_min)
        top += y_max - y_min + NODE_H + ROW_GAP
    return pos


def _order_lanes(h: nx.DiGraph, layers: list[list], sweeps: int = 4) -> None:
    """Barycentre heuristic: each layer sorted by the mean index of its neighbours."""
    index = {v: i for layer in layers for i, v in enumerate(layer)}
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        seq = layers[1:] if down else layers[-2::-1]
        for layer in seq:
            def bary(v):
                nbrs = list(h.predecessors(v) if down else h.successors(v))
                return sum(index[u] for u in nbrs) / len(nbrs) if nbrs else index[v]
            layer.sort(key=lambda v: (bary(v), index[v]))
            for i, v in enumerate(layer):
                index[v] = i


def _place_lanes(h: nx.DiGraph, layers: list[list]) -> dict:
    """Vertical positions: each node as close as it can be to its neighbours' mean (so chains
    run straight), lanes at least DY apart, in the order found above."""
    y = {v: i * DY for layer in layers for i, v in enumerate(layer)}
    for sweep in range(4):
        down = sweep % 2 == 0
        seq = layers if down else layers[::-1]
        for layer in seq:
            want = []
            for v in layer:
                nbrs = list(h.predecessors(v) if down else h.successors(v))
                want.append(sum(y[u] for u in nbrs) / len(nbrs) if nbrs else y[v])
            placed = []
            for w in want:
                placed.append(w if not placed else max(w, placed[-1] + DY))
            shift = sum(w - p for w, p in zip(want, placed)) / len(placed)
            for v, p in zip(layer, placed):
                y[v] = p + shift
    return y


def _rows(g: nx.DiGraph, layer_of: dict, layers: list[list], y: dict, viewport) -> list[tuple[int, int]]:
    """Split the layers into rows at single-edge cuts: the row count that lets the whole
    graph be shown at the largest zoom in ``viewport`` (fewest rows on a tie)."""
    n = len(layers)
    # a row may end after layer k when every edge crossing that boundary leaves one node of
    # layer k (a chain link, or a DenseNet concat feeding both the next layer and the next concat)
    sources: list[set] = [set() for _ in range(n)]
    for u, v in g.edges:
        for k in range(layer_of[u], layer_of[v]):
            sources[k].add(u)
    cuts = [k for k in range(n - 1) if len(sources[k]) == 1 and layer_of[next(iter(sources[k]))] == k]
    vw, vh = viewport
    best, best_scale = [(0, n - 1)], -1.0
    for n_rows in range(1, len(cuts) + 2):
        rows = _split(n, cuts, n_rows)
        width = max(last - first + 1 for first, last in rows) * DX - LAYER_GAP
        height = sum(_row_height(layers, y, r) for r in rows) + ROW_GAP * (len(rows) - 1)
        scale = min(1.0, vw / width, vh / height)
        if scale > best_scale + 0.02:
            best, best_scale = rows, scale
        if height > 2 * vh and height > width:
            break
    return best


def _row_height(layers, y, row) -> float:
    vals = [y[v] for k in range(row[0], row[1] + 1) for v in layers[k]]
    return max(vals) - min(vals) + NODE_H


def _split(n: int, cuts: list[int], n_rows: int) -> list[tuple[int, int]]:
    """Greedy: break at the cut closest to each ideal row end."""
    rows, first = [], 0
    for r in range(1, n_rows):
        ideal = round(n * r / n_rows) - 1
        options = [c for c in cuts if c >= first and c < n - 1]
        if not options:
            break
        c = min(options, key=lambda c: (abs(c - ideal), c))
        rows.append((first, c))
        first = c + 1
    rows.append((first, n - 1))
    return rows


def _grid(doc: GraphDocument) -> dict[str, tuple[float, float]]:
    """A graph with a cycle cannot be layered: a plain grid keeps every node visible."""
    cols = max(1, int(math.ceil(math.sqrt(len(doc.nodes)))))
    return {n.id: ((i % cols) * DX, (i // cols) * DY) for i, n in enumerate(doc.nodes)}


def level_layout(doc: GraphDocument, tree, container, viewport=BLOCK_VIEWPORT) -> dict[str, tuple[float, float]]:
    """Positions for one level of the block tree (its nodes and child blocks, each as a box the
    size of a node), relative to the level's origin. Edges count between the units they join."""
    units = tree.children.get(container, [])
    if not units:
        return {}
    at_level = set(units)
    parent = tree.parent

    def unit_of(node_id):
        u = node_id
        while u is not None and u not in at_level:
            u = parent.get(u)
        return u
    edges, seen = [], set()
    for e in doc.edges:
        a, b = unit_of(e.src), unit_of(e.dst)
        if a is not None and b is not None and a != b and (a, b) not in seen:
            seen.add((a, b))
            edges.append(Edge(a, "out", b, "in"))
    proxy = GraphDocument(nodes=[Node(u, "") for u in units], edges=edges)
    return layered_layout(proxy, viewport)


def layout_all(doc: GraphDocument, viewport=VIEWPORT) -> dict[str, tuple[float, float]]:
    """Positions for every node and block: each level laid out on its own, then every expanded
    block, innermost first, pushes its neighbours to make room for its frame. For a graph
    without blocks this is ``layered_layout``."""
    from .geometry import Geometry, grow_moves
    if not doc.blocks:
        return layered_layout(doc, viewport)
    tree = doc.tree()
    pos: dict[str, tuple[float, float]] = {}
    for container in [None, *tree.blocks]:
        pos.update(level_layout(doc, tree, container, viewport if container is None else BLOCK_VIEWPORT))
    geo = Geometry(doc, tree, pos=pos, collapsed={b: True for b in tree.blocks})
    for b in sorted(tree.blocks, key=tree.depth, reverse=True):
        if not tree.blocks[b].collapsed:
            grow_moves(geo, b, lambda g, b=b: g.set_collapsed(b, False))
    return {u: geo.pos(u) for u in pos}


def apply_positions(doc: GraphDocument, positions: dict) -> None:
    """Set node and block positions on a document that is not yet in the editor."""
    blocks = {b.id: b for b in doc.blocks}
    for unit, p in positions.items():
        target = blocks.get(unit) or doc.node(unit)
        target.pos = (float(p[0]), float(p[1]))


def needs_layout(doc: GraphDocument) -> bool:
    """True when the units of some level overlap or sit too close for their edge labels
    (e.g. a hand-written file with all positions at 0, or positions spaced for smaller boxes)."""
    from .geometry import Geometry, overlapping
    tree = doc.tree()
    geo = Geometry(doc, tree)
    return any(overlapping(geo, c) for c in [None, *tree.blocks])
