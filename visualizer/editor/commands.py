"""Undo commands. Each changes the DocumentModel through its primitives and nothing else;
the scene and panels redraw from the model's signals (orange-canvas-core's split)."""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from engine.graph.blocks import Block
from engine.graph.document import Edge, Node

from .model import DocumentModel


class AddItemsCommand(QUndoCommand):
    """Add nodes and the edges among them: a new node, a paste, a duplicate, a new link; and
    the blocks they come in (a pasted block)."""

    def __init__(self, model: DocumentModel, nodes: list[Node], edges: list[Edge], text: str,
                 blocks: list[Block] = ()):
        super().__init__(text)
        self.model = model
        self.nodes = [copy.deepcopy(n) for n in nodes]
        self.edges = list(edges)
        self.blocks = copy.deepcopy(list(blocks))
        self._old_blocks: list[Block] = []

    def redo(self):
        if self.blocks:
            self._old_blocks = copy.deepcopy(self.model.doc.blocks)
            self.model.set_structure(self._old_blocks + self.blocks, {}, {})
        for n in self.nodes:
            self.model.insert_node(copy.deepcopy(n))
        for e in self.edges:
            self.model.insert_edge(e)

    def undo(self):
        for e in reversed(self.edges):
            self.model.take_edge(e)
        for n in reversed(self.nodes):
            self.model.take_node(n.id)
        if self.blocks:
            self.model.set_structure(self._old_blocks, {}, {})


class RemoveItemsCommand(QUndoCommand):
    """Remove nodes (with every edge touching them) and edges; undo restores each at its
    old index, so merge-input order and document order come back exactly."""

    def __init__(self, model: DocumentModel, node_ids: list[str], edges: list[Edge], text: str,
                 block_ids=()):
        super().__init__(text)
        self.model = model
        doc = model.doc
        ids = set(node_ids)
        self.node_ids = [n.id for n in doc.nodes if n.id in ids]
        wanted = set(edges)
        self.edge_idx = [i for i, e in enumerate(doc.edges) if e in wanted or e.src in ids or e.dst in ids]
        self._edges: list[tuple[int, Edge]] = []
        self._nodes: list[tuple[int, Node]] = []
        # the blocks asked for, and those the deletion leaves empty, go too
        tree = model.tree
        gone = set(block_ids)
        for b in sorted(tree.blocks, key=tree.depth, reverse=True):
            kids = tree.children.get(b, [])
            if kids and all(k in ids or k in gone for k in kids):
                gone.add(b)
        self.old_blocks = copy.deepcopy(doc.blocks) if gone else []
        self.new_blocks = [b for b in self.old_blocks if b.id not in gone]

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
        if self.old_blocks:
            self.model.set_structure(self.new_blocks, {}, {})

    def undo(self):
        if self.old_blocks:
            self.model.set_structure(self.old_blocks, {}, {})
        for i, n in reversed(self._nodes):
            self.model.insert_node(n, i)
        for i, e in self._edges:
            self.model.insert_edge(e, i)


class MoveNodesCommand(QUndoCommand):
    """Several nodes (or blocks) move in one step: a multi-node drag or an auto-layout."""

    def __init__(self, model: DocumentModel, old: dict, new: dict, text: str = "Move"):
        super().__init__(text)
        self.model, self.old, self.new = model, dict(old), dict(new)

    def redo(self):
        for nid, pos in self.new.items():
            self.model.set_unit_pos(nid, pos)

    def undo(self):
        for nid, pos in self.old.items():
            self.model.set_unit_pos(nid, pos)


class StructureCommand(QUndoCommand):
    """Blocks made or unmade (group, ungroup): the blocks list, who is in which block and the
    positions that keep everything where it was on the canvas, swapped whole."""

    def __init__(self, model: DocumentModel, new_blocks: list[Block], membership: dict, positions: dict,
                 text: str):
        super().__init__(text)
        doc = model.doc
        self.model = model
        self.old = (copy.deepcopy(doc.blocks), {n: doc.node(n).block for n in membership},
                    {u: _pos(model, u) for u in positions})
        self.new = (copy.deepcopy(new_blocks), dict(membership), dict(positions))

    def redo(self):
        self.model.set_structure(*self.new)

    def undo(self):
        self.model.set_structure(*self.old)


def _pos(model: DocumentModel, unit: str):
    block = model.tree.blocks.get(unit)
    return block.pos if block is not None else model.doc.node(unit).pos


class RenameBlockCommand(QUndoCommand):
    def __init__(self, model: DocumentModel, block_id: str, name: str):
        super().__init__(f"Rename {block_id}")
        self.model, self.block_id = model, block_id
        self.old, self.new = model.tree.blocks[block_id].name, name

    def redo(self):
        self.model.set_block_name(self.block_id, self.new)

    def undo(self):
        self.model.set_block_name(self.block_id, self.old)


class CollapseCommand(QUndoCommand):
    """A block folds or opens; its neighbours move to make (or give back) the room, and an
    opened block whose members were never arranged is laid out (its level only)."""

    def __init__(self, model: DocumentModel, block_id: str, collapsed: bool, old: dict, new: dict, text: str):
        super().__init__(text)
        self.model, self.block_id, self.collapsed = model, block_id, collapsed
        self.old, self.new = dict(old), dict(new)

    def _apply(self, positions: dict, collapsed: bool) -> None:
        # the block's own children move while they are hidden (nothing to redraw), the block
        # opens or folds, then its neighbours make room
        parent = self.model.tree.parent
        inner = {u: p for u, p in positions.items() if parent.get(u) == self.block_id}
        for unit, pos in inner.items():
            self.model.set_unit_pos(unit, pos)
        self.model.set_block_collapsed(self.block_id, collapsed)
        for unit, pos in positions.items():
            if unit not in inner:
                self.model.set_unit_pos(unit, pos)

    def redo(self):
        self._apply(self.new, self.collapsed)

    def undo(self):
        self._apply(self.old, not self.collapsed)


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
