"""The graph overlay: during or after a run, edges coloured and thickened by gradient norm
and nodes tinted by layer health, at the timeline's step. Health rules come from the
layer-health view, so the canvas and the table always agree."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QColor

from ..views.health import COLUMNS, grade
from ..views.style import colormap

_SUFFIXES = tuple(c[1] for c in COLUMNS)


def layer_values(reader, step: int) -> dict[str, dict[str, float]]:
    """node id -> {suffix: value} for the per-layer scalars at or before ``step``."""
    out: dict[str, dict[str, float]] = {}
    for name, value in reader.scalars_at(step).items():
        if name.startswith("layer/"):
            _, node, suffix = name.split("/", 2)
            if suffix in _SUFFIXES:
                out.setdefault(node, {})[suffix] = value
    return out


def node_overlays(values: dict[str, dict[str, float]], ranks: dict | None = None) -> dict[str, tuple[QColor, str]]:
    """The worst grade of each layer's cells as a translucent halo, with the reasons
    (``ranks``, if given, gets each node's worst grade: 1 fine, 2 warning, 3 bad)."""
    from ..views.health import BAD, GOOD, WARN
    rank = {GOOD.name(): 1, WARN.name(): 2, BAD.name(): 3}
    out = {}
    for node, cells in values.items():
        worst, reasons = None, []
        for suffix, value in cells.items():
            colour, why = grade(suffix, value)
            if colour is None:
                continue
            if worst is None or rank[colour.name()] > rank[worst.name()]:
                worst = colour
            if colour != GOOD:
                reasons.append(f"{suffix.replace('_', ' ')}: {why}")
        if worst is not None:
            halo = QColor(worst).darker(115)
            halo.setAlpha(200)
            out[node] = (halo, "Health: " + ("; ".join(reasons) if reasons else "fine"))
            if ranks is not None:
                ranks[node] = rank[worst.name()]
    return out


def block_overlays(tree, nodes: dict, ranks: dict) -> dict[str, tuple[QColor, str]]:
    """Each block's halo: the worst health among its members, naming the member."""
    worst: dict[str, str] = {}  # block -> its worst member so far
    for node, r in ranks.items():
        for b in tree.ancestors(node) if node in tree.parent else ():
            w = worst.get(b)
            if w is None or r > ranks[w]:
                worst[b] = node
    out = {}
    for b, node in worst.items():
        colour, why = nodes[node]
        word = {1: "fine", 2: "a warning", 3: "a problem"}[ranks[node]]
        text = f"Worst member: {node}, {word}" + ("" if ranks[node] == 1 else f" ({why.removeprefix('Health: ')})")
        out[b] = (colour, text)
    return out


def edge_overlays(graph_edges, values: dict[str, dict[str, float]]) -> dict:
    """Edge -> (colour, width): the gradient norm of the layer at either end, on a log scale
    normalised over the layers at this step (thick and bright = large gradients)."""
    norms = {n: v["grad_norm"] for n, v in values.items()
             if "grad_norm" in v and math.isfinite(v["grad_norm"]) and v["grad_norm"] > 0}
    if not norms:
        return {}
    logs = {n: math.log10(g) for n, g in norms.items()}
    lo, hi = min(logs.values()), max(logs.values())
    span = max(hi - lo, 1e-9)
    lut = colormap("plasma").getLookupTable(0.1, 0.85, 256)
    out = {}
    for e in graph_edges:
        node = e.dst if e.dst in logs else e.src if e.src in logs else None
        if node is None:
            continue
        t = (logs[node] - lo) / span if hi > lo else 0.5
        r, g, b = (int(c) for c in np.asarray(lut[int(t * 255)])[:3])
        out[e] = (QColor(r, g, b), 1.2 + 4.0 * t)
    return out


def apply_overlay(scene, reader, step: int | None) -> None:
    """Paint the overlay for ``step`` on the scene; ``reader`` None clears it. A folded
    block shows its members' worst health, and its edges the gradient norm of the members
    they reach."""
    if reader is None or step is None:
        scene.set_overlays({}, {}, {})
        return
    values = layer_values(reader, step)
    ranks: dict = {}
    nodes = node_overlays(values, ranks)
    edges = edge_overlays(scene.model.doc.edges, values)
    scene.set_overlays(nodes, edges, block_overlays(scene.model.tree, nodes, ranks))
