"""Which views fit a graph, and which node they should follow first. Qt-free: it reads the
graph document and the layer catalogue only.

The Watch and Replay workspaces open with a grid of the views that say most about the
network in front of the user: a CNN's feature maps and filters, a recurrent network's gates
and gradients through time, the decision boundary of a net on 2-D points. The user's own
choice for a kind of graph is remembered and wins over these defaults."""
from __future__ import annotations

from engine.graph.catalogue import CATALOGUE
from engine.graph.document import GraphDocument

PANES = 4  # a 2 x 2 grid: at 1280 x 720 each pane keeps ~400 x 280 px
ALWAYS = "Curves"
# per kind of graph, the views that speak for it, most telling first
SPECIFIC = {
    "recurrent": ("Gates", "Gradients through time"),
    "conv": ("Feature maps", "Activations"),
    "points2d": ("Decision boundary", "Activations"),
    "binary": ("Binary weights", "Activations"),
}
FILLERS = ("Layer health", "Activations", "Predictions")
# the probe a view needs on the node it follows (first such node in the graph)
FOLLOWS = {"Gates": ("lstm_gates", "gru_gates", "convlstm_gates"), "Gradients through time": ("recurrent",),
           "Feature maps": ("feature_maps",), "Activations": ("activation",), "Binary weights": ("binary",)}


def _probes(doc: GraphDocument) -> list[tuple[str, tuple[str, ...]]]:
    return [(n.id, CATALOGUE[n.type].probes) for n in doc.nodes if n.type in CATALOGUE]


def graph_kind(doc: GraphDocument) -> str:
    """'recurrent', 'binary', 'conv', 'points2d' or 'other': what the graph is mostly about."""
    probes = {p for _, ps in _probes(doc) for p in ps}
    if probes & {"recurrent", "lstm_gates", "gru_gates", "convlstm_gates"}:
        return "recurrent"
    if "binary" in probes:  # BWN/XNOR layers: what sets the net apart is its binary weights
        return "binary"
    if "feature_maps" in probes:
        return "conv"
    inputs = [n for n in doc.nodes if n.type == "Input"]
    if inputs and list(inputs[0].params.get("shape") or []) == [2]:
        return "points2d"
    return "other"


def default_views(kind: str, available: list[str], panes: int = PANES) -> list[str]:
    """View titles for a grid of ``panes``, in reading order, each at most once."""
    out: list[str] = []
    # the kind's own views first: on a small screen the grid has only two panes
    for title in (*SPECIFIC.get(kind, ()), ALWAYS, *FILLERS):
        if title in available and title not in out:
            out.append(title)
    out += [t for t in available if t not in out]
    return out[:panes]


def node_to_follow(doc: GraphDocument, shown: list[str]) -> str | None:
    """The node the shown per-layer views should follow when the user has chosen none: the
    first node carrying the probe of the first shown view that needs one."""
    probes = _probes(doc)
    for title in shown:
        wanted = FOLLOWS.get(title)
        if wanted:
            for node_id, ps in probes:
                if set(ps) & set(wanted):
                    return node_id
    return None
