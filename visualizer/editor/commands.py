"""Undo commands. Each changes the DocumentModel through its primitives and nothing else;
the scene and panels redraw from the model's signals (orange-canvas-core's split)."""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from engine.graph.document import Edge, Node

from .model import DocumentModel


class AddItemsCommand(QUndoCommand):
    """Add nodes and the edges among them: a new node, a paste, a duplicate, a new link."""

    def __init__(self, model: DocumentModel, nodes: list[Node], edges: list[Edge], text: str):
        super().__init__(text)
        self.model = model
        self.nodes = [copy.deepcopy(n) for n in nodes]
        self.edges = list(edges)

    def redo(self):
        for n in self.nodes:
            self.model.insert_node(copy.deepcopy(n))
        for e in self.edges:
            self.model.insert_edge(e)

    def undo(self):
        for e in reversed(self.edges):
            self.model.take_edge(e)
        for n in reversed(self.nodes):
            self.model.take_node(n.id)


class RemoveItemsCommand(QUndoCommand):
    """Remove nodes (with every edge touching them) and edges; undo restores each at its
    old index, so merge-input order and document order come back exactly."""

    def __init__(self, model: DocumentModel, node_ids: list[str], edges: list[Edge], text: str):
        super().__init__(text)
        self.model = model
        doc = model.doc
        ids = set(node_ids)
        self.node_ids = [n.id for n in doc.nodes if n.id in ids]
        wanted = set(edges)
        self.edge_idx = [i for i, e in enumerate(doc.edges) if e in wanted or e.src in ids or e.dst in ids]
        self._edges: list[tuple[int, Edge]] = []
        self._nodes: list[tuple[int, Node]] = []

    def redo(self):
        doc = self.model.doc
        taken = [(i, doc.edges[i]) for i in self.edge_idx]
        for _, e in reversed(taken):  # descending index: identical edges leave in order
            self.model.take_edge(e)
        self._edges = taken
        nodes = []
        for nid in self.node_ids:
            nodes.append(self.model.take_node(nid))
        self._nodes = [(i, n) for n, i in nodes]

    def undo(self):
        for i, n in reversed(self._nodes):
            self.model.insert_node(n, i)
        for i, e in self._edges:
            self.model.insert_edge(e, i)


class MoveNodesCommand(QUndoCommand):
    """Several nodes move in one step: a multi-node drag or an auto-layout."""

    def __init__(self, model: DocumentModel, old: dict, new: dict, text: str = "Move"):
        super().__init__(text)
        self.model, self.old, self.new = model, dict(old), dict(new)

    def redo(self):
        for nid, pos in self.new.items():
            self.model.set_node_pos(nid, pos)

    def undo(self):
        for nid, pos in self.old.items():
            self.model.set_node_pos(nid, pos)


class SetParamsCommand(QUndoCommand):
    """A node's params change. Successive edits of the same param merge into one step, so
    clicking a spin box arrow ten times undoes in one go."""
    ID = 1

    def __init__(self, model: DocumentModel, node_id: str, old: dict, new: dict, key: str):
        super().__init__(f"Change {node_id}.{key}")
        self.model, self.node_id, self.key = model, node_id, key
        self.old, self.new = copy.deepcopy(old), copy.deepcopy(new)

    def id(self):
        return self.ID

    def mergeWith(self, other):
        if not isinstance(other, SetParamsCommand) or (other.node_id, other.key) != (self.node_id, self.key):
            return False
        self.new = other.new
        return True

    def redo(self):
        self.model.set_node_params(self.node_id, self.new)

    def undo(self):
        self.model.set_node_params(self.node_id, self.old)


class SetSettingsCommand(QUndoCommand):
    """The training settings or the dataset entry change (``which`` is "training" or "dataset")."""
    ID = 2

    def __init__(self, model: DocumentModel, which: str, old: dict, new: dict, key: str):
        super().__init__(f"Change {which} {key}".rstrip())
        self.model, self.which, self.key = model, which, key
        self.old, self.new = copy.deepcopy(old), copy.deepcopy(new)

    def id(self):
        return self.ID

    def mergeWith(self, other):
        if not isinstance(other, SetSettingsCommand) or (other.which, other.key) != (self.which, self.key):
            return False
        self.new = other.new
        return True

    def _apply(self, value):
        if self.which == "training":
            self.model.set_training(value)
        else:
            self.model.set_dataset(value)

    def redo(self):
        self._apply(self.new)

    def undo(self):
        self._apply(self.old)
