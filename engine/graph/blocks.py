"""Blocks: named groups of nodes (and of other blocks) in a graph document.

A block is a way of looking at the graph, not part of the computation: the compiler reads
nodes and edges only, so training never sees blocks. A block has a stable id (in the same
namespace as node ids), a name, a parent block (or none), a collapsed flag (how the editor
shows it) and a position. Each node belongs to at most one block, its innermost
(``Node.block``); a block's members are the nodes that name it and, through its child blocks,
theirs. A block's ports are not stored: they are the edges crossing its boundary.

Positions nest: a node's ``pos`` is relative to its block's frame (the top level is the
canvas), and a block's ``pos`` is where its frame (or its collapsed box) sits in its parent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import GraphError

if TYPE_CHECKING:
    from .document import GraphDocument, Node

MAX_BLOCK_DEPTH = 16   # blocks inside blocks; a ResNet needs 2, an imported transformer ~5
MAX_NAME = 200
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


@dataclass
class Block:
    id: str
    name: str = ""
    parent: str | None = None
    collapsed: bool = True
    pos: tuple[float, float] = (0.0, 0.0)

    def to_dict(self, nodes: list[str]) -> dict:
        return {"id": self.id, "name": self.name, "parent": self.parent, "nodes": list(nodes),
                "collapsed": bool(self.collapsed), "pos": [float(self.pos[0]), float(self.pos[1])]}


def _excerpt(value) -> str:
    from .document import excerpt
    return excerpt(value)


def blocks_from(raw_blocks: Any, nodes: list["Node"], source: str) -> list[Block]:
    """Build the blocks of a file and set each member node's ``block``. Raises GraphError with
    one sentence for an entry that is malformed or names what does not exist."""
    from .document import MAX_NODES
    if not isinstance(raw_blocks, list):
        raise GraphError(f"{source} has a blocks entry that is not a list.")
    if len(raw_blocks) > MAX_NODES:
        raise GraphError(f"{source} has {len(raw_blocks)} blocks; a graph may have at most {MAX_NODES}.")
    by_id = {n.id: n for n in nodes}
    blocks: list[Block] = []
    seen: dict[str, Block] = {}
    for i, raw in enumerate(raw_blocks):
        if not isinstance(raw, dict):
            raise GraphError(f"Block #{i + 1} is not an object.")
        bid = raw.get("id")
        if not isinstance(bid, str) or not _ID.fullmatch(bid):
            raise GraphError(f"Block #{i + 1} has an invalid id {_excerpt(bid)}: ids are up to 100 letters, "
                             f"digits and underscores, starting with a letter.")
        if bid in seen:
            raise GraphError(f"Two blocks share the id '{bid}'; ids must be unique.")
        if bid in by_id:
            raise GraphError(f"Block '{bid}' has the same id as a node; ids must be unique.", node=bid)
        name = raw.get("name", bid)
        if not isinstance(name, str) or len(name) > MAX_NAME:
            raise GraphError(f"Block '{bid}' has a name that is not text of at most {MAX_NAME} characters.")
        parent = raw.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise GraphError(f"Block '{bid}' has a parent {_excerpt(parent)} that is not a block id.")
        collapsed = raw.get("collapsed", True)
        if not isinstance(collapsed, bool):
            raise GraphError(f"Block '{bid}' has a collapsed flag {_excerpt(collapsed)} that is not true or false.")
        pos = raw.get("pos", [0, 0])
        if (not isinstance(pos, (list, tuple)) or len(pos) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e9 for v in pos)):
            raise GraphError(f"Block '{bid}' has an invalid position {_excerpt(pos)}: expected [x, y].")
        members = raw.get("nodes", [])
        if not isinstance(members, list):
            raise GraphError(f"Block '{bid}' has a nodes entry that is not a list of node ids.")
        for m in members:
            node = by_id.get(m) if isinstance(m, str) else None
            if node is None:
                raise GraphError(f"Block '{bid}' lists {_excerpt(m)}, which is not a node of the graph.")
            if node.block is not None:
                raise GraphError(f"Node '{m}' is listed in both block '{node.block}' and block '{bid}'; "
                                 f"a node belongs to one block.", node=m)
            node.block = bid
        block = Block(bid, name or bid, parent, collapsed, (float(pos[0]), float(pos[1])))
        seen[bid] = block
        blocks.append(block)
    for b in blocks:
        if b.parent is not None and b.parent not in seen:
            raise GraphError(f"Block '{b.id}' names a parent '{_excerpt(b.parent)[1:-1]}' that is not a block.")
    for b in blocks:  # every chain of parents ends, and not too deep
        chain, cur = [b.id], b.parent
        while cur is not None:
            if cur in chain:
                loop = " -> ".join(chain[chain.index(cur):] + [cur])
                raise GraphError(f"Block '{b.id}' is inside itself ({loop}); blocks must nest like boxes.")
            chain.append(cur)
            if len(chain) > MAX_BLOCK_DEPTH:
                raise GraphError(f"Block '{b.id}' is nested more than {MAX_BLOCK_DEPTH} levels deep; "
                                 f"blocks may nest at most {MAX_BLOCK_DEPTH} levels.")
            cur = seen[cur].parent
    return blocks


class BlockTree:
    """Who contains whom, built once from a document (rebuild it after a structural change).

    A *unit* is what sits at one level of the tree: a node or a block. ``None`` is the top
    level (the canvas)."""

    def __init__(self, doc: "GraphDocument"):
        self.blocks: dict[str, Block] = {b.id: b for b in doc.blocks}
        self.parent: dict[str, str | None] = {}
        self.children: dict[str | None, list[str]] = {None: []}
        self.order: dict[str, int] = {}  # a node's index in the document
        first: dict[str, int] = {}       # a block's first member's index
        for b in doc.blocks:
            self.children.setdefault(b.id, [])
        for i, n in enumerate(doc.nodes):
            self.order[n.id] = i
            parent = n.block if n.block in self.blocks else None
            self.parent[n.id] = parent
            self.children[parent].append(n.id)
            cur = parent
            while cur is not None and cur not in first:
                first[cur] = i
                cur = self.blocks[cur].parent if self.blocks[cur].parent in self.blocks else None
        end = len(doc.nodes)
        for b in doc.blocks:
            parent = b.parent if b.parent in self.blocks else None
            self.parent[b.id] = parent
            self.order[b.id] = first.get(b.id, end)
        for b in doc.blocks:  # child blocks sit among the nodes, where their first member is
            self.children[self.parent[b.id]].append(b.id)
        for level in self.children.values():
            level.sort(key=lambda u: (self.order[u], u in self.blocks))

    def is_block(self, unit: str) -> bool:
        return unit in self.blocks

    def ancestors(self, unit: str) -> list[str]:
        """The blocks around ``unit``, innermost first."""
        out, cur = [], self.parent.get(unit)
        while cur is not None:
            out.append(cur)
            cur = self.parent.get(cur)
        return out

    def depth(self, unit: str) -> int:
        return len(self.ancestors(unit))

    def members(self, block_id: str) -> list[str]:
        """Every node inside ``block_id``, at any depth, in document order."""
        out, stack = [], [block_id]
        while stack:
            for u in self.children.get(stack.pop(), ()):
                if u in self.blocks:
                    stack.append(u)
                else:
                    out.append(u)
        out.sort(key=self.order.__getitem__)
        return out

    def descendants(self, block_id: str) -> list[str]:
        """Every block inside ``block_id``, at any depth."""
        out, stack = [], [block_id]
        while stack:
            for u in self.children.get(stack.pop(), ()):
                if u in self.blocks:
                    out.append(u)
                    stack.append(u)
        return out

    def shown_as(self, unit: str) -> str:
        """What stands for ``unit`` on the canvas: its outermost collapsed block, or itself."""
        shown = unit
        for b in self.ancestors(unit):
            if self.blocks[b].collapsed:
                shown = b
        return shown

    def common_parent(self, units) -> str | None | bool:
        """The level all ``units`` share, or False when they sit at different levels."""
        levels = {self.parent.get(u) for u in units}
        return levels.pop() if len(levels) == 1 else False


def block_ports(doc: "GraphDocument", tree: BlockTree, block_id: str):
    """A block's ports, from the edges that cross its boundary, in edge order: inputs are the
    outside outputs feeding it (``(node, port)``, one port per source however many members
    it feeds), outputs the member outputs read outside."""
    inside = set(tree.members(block_id))
    ins, outs = {}, {}
    for e in doc.edges:
        a, b = e.src in inside, e.dst in inside
        if b and not a:
            ins.setdefault((e.src, e.src_port), None)
        elif a and not b:
            outs.setdefault((e.src, e.src_port), None)
    return list(ins), list(outs)
