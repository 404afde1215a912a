"""Every user edit, as a function that builds undo commands and pushes them.

These are what the scene, palette, inspector, settings panel and menus call; nothing else
changes the document. Each returns what the caller needs next (a new id, the new edge).
"""
from __future__ import annotations

import copy

import networkx as nx

from engine.graph.catalogue import CATALOGUE
from engine.graph.blocks import MAX_BLOCK_DEPTH, Block
from engine.graph.document import Edge, GraphDocument, Node

from .commands import AddItemsCommand, MoveNodesCommand, RemoveItemsCommand, SetParamsCommand, SetSettingsCommand
from .model import DocumentModel

_PREFIX = {"Input": "x", "Dense": "fc", "Conv2d": "conv", "Conv1d": "conv", "CrossEntropy": "loss",
           "MSE": "loss", "BinaryCrossEntropy": "loss", "L1": "loss", "Huber": "loss"}


def id_prefix(type_name: str) -> str:
    return _PREFIX.get(type_name, type_name.lower())


def add_node(model: DocumentModel, type_name: str, pos: tuple[float, float], block: str | None = None) -> str:
    """A new layer at ``pos`` (relative to ``block``'s frame when it is dropped into one)."""
    if type_name not in CATALOGUE:
        raise KeyError(type_name)
    node_id = model.doc.new_id(id_prefix(type_name))
    node = Node(node_id, type_name, {}, (float(pos[0]), float(pos[1])),
                block if block in model.tree.blocks else None)
    model.undo_stack.push(AddItemsCommand(model, [node], [], f"Add {type_name}"))
    return node_id


def delete(model: DocumentModel, node_ids, edges=(), text: str = "Delete", block_ids=()) -> None:
    """Remove nodes, edges and blocks (with everything inside them) in one step."""
    tree = model.tree
    node_ids, edges, block_ids = list(node_ids), list(edges), [b for b in block_ids if b in tree.blocks]
    for b in block_ids:
        node_ids += tree.members(b)
    if node_ids or edges or block_ids:
        model.undo_stack.push(RemoveItemsCommand(model, list(dict.fromkeys(node_ids)), edges, text, block_ids))


def connect_problem(doc: GraphDocument, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
    """Why an edge from src.src_port to dst.dst_port cannot be drawn, or None if it can."""
    if src == dst:
        return "a node cannot feed itself"
    try:
        s, d = doc.node(src), doc.node(dst)
    except KeyError as err:
        return f"there is no node '{err.args[0]}'"
    s_spec, d_spec = CATALOGUE.get(s.type), CATALOGUE.get(d.type)
    if s_spec is None or d_spec is None:
        return "one of the nodes has an unknown type"
    if not any(p.name == src_port for p in s_spec.outputs):
        return f"{s.type} has no output '{src_port}'"
    port = next((p for p in d_spec.inputs if p.name == dst_port), None)
    if port is None:
        return f"{d.type} has no input '{dst_port}'"
    if not port.multi and any(e.dst == dst and e.dst_port == dst_port for e in doc.edges):
        return f"input '{dst_port}' of '{dst}' is already connected"
    g = nx.DiGraph([(e.src, e.dst) for e in doc.edges])
    if dst in g and src in g and nx.has_path(g, dst, src):
        return "the connection would make a cycle"
    return None


def connect(model: DocumentModel, src: str, src_port: str, dst: str, dst_port: str) -> Edge | None:
    if connect_problem(model.doc, src, src_port, dst, dst_port):
        return None
    edge = Edge(src, src_port, dst, dst_port)
    model.undo_stack.push(AddItemsCommand(model, [], [edge], f"Connect {src} to {dst}"))
    return edge


def move_nodes(model: DocumentModel, new_pos: dict, text: str = "Move") -> None:
    """Move nodes and blocks (unit id -> position in its level) in one step."""
    doc, blocks = model.doc, model.tree.blocks
    old = {nid: (blocks[nid].pos if nid in blocks else doc.node(nid).pos) for nid in new_pos}
    new = {nid: (float(p[0]), float(p[1])) for nid, p in new_pos.items()}
    changed = {nid for nid in new if old[nid] != new[nid]}
    if changed:
        model.undo_stack.push(MoveNodesCommand(model, {k: old[k] for k in changed},
                                               {k: new[k] for k in changed}, text))


def set_param(model: DocumentModel, node_id: str, name: str, value) -> None:
    node = model.doc.node(node_id)
    if node.params.get(name, _MISSING) == value:
        return
    new = copy.deepcopy(node.params)
    new[name] = copy.deepcopy(value)
    model.undo_stack.push(SetParamsCommand(model, node_id, node.params, new, name))


def set_training(model: DocumentModel, name: str, value) -> None:
    old = model.doc.training
    if old.get(name, _MISSING) == value:
        return
    new = copy.deepcopy(old)
    new[name] = copy.deepcopy(value)
    model.undo_stack.push(SetSettingsCommand(model, "training", old, new, name))


def set_dataset(model: DocumentModel, dataset: dict, key: str = "") -> None:
    if model.doc.dataset == dataset:
        return
    model.undo_stack.push(SetSettingsCommand(model, "dataset", model.doc.dataset, dataset, key))


def fragment(doc: GraphDocument, node_ids, block_ids=()) -> dict:
    """The selected nodes (and whole blocks) with the edges among them, as plain data (the
    clipboard format). A node keeps its block where the block is copied too, or where it
    stays in the document it was copied from (a duplicate stays in its block)."""
    tree = doc.tree()
    blocks = set()
    for b in block_ids:
        if b in tree.blocks:
            blocks.add(b)
            blocks.update(tree.descendants(b))
    ids = set(node_ids) | {m for b in blocks for m in tree.members(b)}
    nodes = []
    for n in doc.nodes:
        if n.id in ids:
            raw = n.to_dict()
            raw["block"] = n.block
            nodes.append(raw)
    return {"nodes": nodes,
            "edges": [e.to_dict() for e in doc.edges if e.src in ids and e.dst in ids],
            "blocks": [b.to_dict([]) for b in doc.blocks if b.id in blocks]}


def paste(model: DocumentModel, frag: dict, offset: tuple[float, float], text: str = "Paste") -> list[str]:
    """Add a fragment with fresh ids, shifted by ``offset`` at its top level; returns the new
    ids of its top-level units (nodes and blocks)."""
    doc, tree = model.doc, model.tree
    taken = {n.id for n in doc.nodes} | set(tree.blocks)
    probe = GraphDocument(nodes=[Node(t, "") for t in taken])
    rename: dict[str, str] = {}
    blocks: list[Block] = []
    raw_blocks = [b for b in frag.get("blocks", []) if isinstance(b, dict) and isinstance(b.get("id"), str)]
    for raw in raw_blocks:
        new_id = probe.new_id("block")
        probe.nodes.append(Node(new_id, ""))
        rename[raw["id"]] = new_id
    copied = set(rename)

    def home(old):  # a copied block, or the same block of this document, or the top level
        if old in copied:
            return rename[old]
        return old if isinstance(old, str) and old in tree.blocks else None

    parents = {raw["id"]: raw.get("parent") for raw in raw_blocks}
    for raw in raw_blocks:  # a fragment from elsewhere: its blocks must nest like boxes
        chain, cur = [raw["id"]], parents[raw["id"]]
        while cur in parents:
            if cur in chain or len(chain) >= MAX_BLOCK_DEPTH:
                parents[raw["id"]] = None
                break
            chain.append(cur)
            cur = parents[cur]
    top: list[str] = []
    for raw in raw_blocks:
        parent = parents[raw["id"]]
        x, y = _xy(raw)
        inside = parent in copied
        b = Block(rename[raw["id"]], str(raw.get("name") or raw["id"])[:200], home(parent),
                  bool(raw.get("collapsed", True)),
                  (float(x) + (0 if inside else offset[0]), float(y) + (0 if inside else offset[1])))
        blocks.append(b)
        if not inside:
            top.append(b.id)
    nodes: list[Node] = []
    for raw in frag.get("nodes", []):
        if raw.get("type") not in CATALOGUE:
            continue
        new_id = probe.new_id(id_prefix(raw["type"]))
        probe.nodes.append(Node(new_id, ""))
        rename[raw["id"]] = new_id
        x, y = _xy(raw)
        inside = raw.get("block") in copied
        nodes.append(Node(new_id, raw["type"], copy.deepcopy(raw.get("params", {})),
                          (float(x) + (0 if inside else offset[0]), float(y) + (0 if inside else offset[1])),
                          home(raw.get("block"))))
        if not inside:
            top.append(new_id)
    edges = []
    for raw in frag.get("edges", []):
        (s, sp), (d, dp) = raw["from"].split("."), raw["to"].split(".")
        if s in rename and d in rename:
            edges.append(Edge(rename[s], sp, rename[d], dp))
    if nodes:
        model.undo_stack.push(AddItemsCommand(model, nodes, edges, text, blocks))
    return top


def _xy(raw: dict) -> tuple[float, float]:
    pos = raw.get("pos")
    if (isinstance(pos, (list, tuple)) and len(pos) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e9 for v in pos)):
        return float(pos[0]), float(pos[1])
    return 0.0, 0.0


def auto_layout(model: DocumentModel) -> None:
    from .layout import layout_all
    move_nodes(model, layout_all(model.doc), "Auto layout")


_MISSING = object()
