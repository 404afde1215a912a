"""Structural validation of a graph document (no shapes: see shapes.py)."""
from __future__ import annotations

import networkx as nx

from .catalogue import CATALOGUE
from .document import GraphDocument, excerpt
from .errors import GraphError
from .settings import TRAINING_PARAMS


def check_params(node_id: str, type_name: str, params: dict) -> None:
    """Raise GraphError for an unknown, missing, mistyped or out-of-range param."""
    spec = CATALOGUE[type_name]
    for key in params:
        if spec.param(key) is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise GraphError(f"Node '{node_id}' ({type_name}) has an unknown param {excerpt(key)} "
                             f"(known params: {known}).", node=node_id)
    for p in spec.params:
        if p.name not in params:
            if p.required:
                raise GraphError(f"Node '{node_id}' ({type_name}) is missing its required param "
                                 f"'{p.name}'.", node=node_id)
            continue
        problem = p.problem(params[p.name])
        if problem:
            raise GraphError(f"Node '{node_id}' ({type_name}): param '{p.name}' {_short(problem)}.",
                             node=node_id)


def _short(problem: str, limit: int = 160) -> str:
    """A problem sentence quotes the value it got: keep a long value from flooding it."""
    return problem if len(problem) <= limit else problem[:limit] + "…"


def resolved_params(type_name: str, params: dict) -> dict:
    """The node's params with defaults filled in for the ones it does not set."""
    out = CATALOGUE[type_name].defaults()
    out.update(params)
    return out


def to_networkx(doc: GraphDocument) -> nx.DiGraph:
    """Which node feeds which. Parallel edges collapse into one: order, cycles and ancestry do
    not depend on them, and a DiGraph sorts ~4x faster than a MultiDiGraph."""
    g = nx.DiGraph()
    g.add_nodes_from(n.id for n in doc.nodes)
    # an edge to a missing node is reported by find_problems; here it would add a phantom node
    g.add_edges_from((e.src, e.dst) for e in doc.edges if e.src in g and e.dst in g)
    return g


# (structure key, order) of the last graph sorted: validation and analysis sort the same graph
# in a row. One tuple, swapped whole, so a reader in another thread never sees half of it.
_last_order: tuple = ((), [])


def topological_order(doc: GraphDocument) -> list[str]:
    """Node ids in a stable topological order (ties broken by document order)."""
    global _last_order
    key = (tuple(n.id for n in doc.nodes), tuple((e.src, e.dst) for e in doc.edges))
    last_key, last = _last_order
    if last_key == key:
        return list(last)
    order = _sorted(doc)
    _last_order = (key, order)
    return list(order)


def _sorted(doc: GraphDocument) -> list[str]:
    g = to_networkx(doc)
    order = {n.id: i for i, n in enumerate(doc.nodes)}
    try:
        return list(nx.lexicographical_topological_sort(g, key=order.__getitem__))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(g)
        path = " -> ".join([c[0] for c in cycle] + [cycle[0][0]])
        raise GraphError(f"The graph has a cycle ({path}); connections must flow forward.",
                         node=cycle[0][0]) from None


def validate_document(doc: GraphDocument) -> None:
    """Raise the first GraphError found, naming the node or edge at fault."""
    for problem in find_problems(doc):
        raise problem


def find_problems(doc: GraphDocument):
    """Yield every structural problem (GraphError) of the document, worst first.

    The editor lists them all; loading a file stops at the first."""
    seen: set[str] = set()
    known: dict[str, str] = {}  # id -> type, for nodes whose type exists
    for n in doc.nodes:
        if n.id in seen:
            yield GraphError(f"Two nodes share the id '{n.id}'; ids must be unique.", node=n.id)
            continue
        seen.add(n.id)
        if n.type not in CATALOGUE:
            yield GraphError(f"Node '{n.id}' has an unknown layer type {excerpt(n.type)}.", node=n.id)
            continue
        known[n.id] = n.type
        try:
            check_params(n.id, n.type, n.params)
        except GraphError as err:
            yield err

    fed: dict[tuple[str, str], str] = {}
    good_edges = []
    for e in doc.edges:
        problem = _edge_problem(e, known, seen, fed)
        if problem:
            yield problem
            continue
        fed[(e.dst, e.dst_port)] = e.src
        good_edges.append(e)

    try:
        topological_order(doc)
    except GraphError as err:
        yield err
        return

    inputs = [n for n in doc.nodes if n.id in known and CATALOGUE[n.type].role == "input"]
    losses = [n for n in doc.nodes if n.id in known and CATALOGUE[n.type].role == "loss"]
    if not inputs:
        yield GraphError("The graph has no Input node; add one to receive the dataset's samples.")
    elif len(inputs) > 1:
        yield GraphError(f"The graph has {len(inputs)} Input nodes ({', '.join(n.id for n in inputs)}); "
                         f"it takes exactly one.", node=inputs[1].id)
    if not losses:
        yield GraphError("The graph has no output: add a loss node (e.g. CrossEntropy) after the last "
                         "layer so training knows what to minimise.")
    elif len(losses) > 1:
        yield GraphError(f"The graph has {len(losses)} loss nodes ({', '.join(n.id for n in losses)}); "
                         f"it takes exactly one.", node=losses[1].id)
    for n in doc.nodes:
        if n.id not in known:
            continue
        spec = CATALOGUE[n.type]
        for port in spec.inputs:
            if (n.id, port.name) not in fed:
                yield GraphError(f"Node '{n.id}' ({spec.name}) has nothing connected to its input "
                                 f"'{port.name}'.", node=n.id)
    # A loss with nothing connected is the one problem to show: every other node "does not
    # lead to the loss" only because of it (the whole graph turned red).
    if len(losses) == 1 and any(e.dst == losses[0].id for e in doc.edges):
        loss_id = losses[0].id
        reach = nx.ancestors(to_networkx(doc), loss_id) | {loss_id}
        for n in doc.nodes:
            if n.id not in reach and n.id in known and CATALOGUE[n.type].role != "input":
                yield GraphError(f"Node '{n.id}' ({n.type}) does not lead to the loss '{loss_id}'; "
                                 f"connect it or delete it.", node=n.id)

    for key, value in doc.training.items():
        p = next((p for p in TRAINING_PARAMS if p.name == key), None)
        if p is None:
            yield GraphError(f"Training setting {excerpt(key)} is unknown.")
            continue
        problem = p.problem(value)
        if problem:
            yield GraphError(f"Training setting '{key}' {_short(problem)}.")
    if doc.dataset and not isinstance(doc.dataset.get("name", doc.dataset.get("path")), str):
        yield GraphError("The dataset entry names no dataset: expected {\"name\": ...} or {\"path\": ...}.")


def _edge_problem(e, known, seen, fed) -> GraphError | None:
    for end, port, direction in ((e.src, e.src_port, "outputs"), (e.dst, e.dst_port, "inputs")):
        if end not in seen:
            return GraphError(f"Edge {e.label} refers to a missing node '{end}'.", edge=e.label)
        if end not in known:
            return GraphError(f"Edge {e.label} touches node '{end}', whose type is unknown.", edge=e.label)
        spec = CATALOGUE[known[end]]
        ports = getattr(spec, direction)
        if not any(p.name == port for p in ports):
            names = ", ".join(p.name for p in ports) or "none"
            return GraphError(f"Edge {e.label} refers to a missing port '{port}' of node '{end}' "
                              f"({spec.name} {direction}: {names}).", edge=e.label, node=end)
    if e.src == e.dst:
        return GraphError(f"Edge {e.label} connects node '{e.src}' to itself.", node=e.src, edge=e.label)
    port = next(p for p in CATALOGUE[known[e.dst]].inputs if p.name == e.dst_port)
    key = (e.dst, e.dst_port)
    if key in fed and not port.multi:
        return GraphError(f"Input '{e.dst_port}' of node '{e.dst}' is fed by both '{fed[key]}' and "
                          f"'{e.src}'; it takes one connection (use an Add or Concat node to merge).",
                          node=e.dst, edge=e.label)
    return None
