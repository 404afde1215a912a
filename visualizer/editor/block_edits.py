"""Edits on blocks, each one undo step: group a selection, ungroup, rename, fold and open.

Grouping and ungrouping keep every layer where it was on the canvas (positions nest, so
members get positions relative to their new frame). Opening a block pushes its neighbours
aside (geometry.grow_moves) and lays out its members only if they were never arranged.
"""
from __future__ import annotations

import copy

from engine.graph.blocks import MAX_BLOCK_DEPTH, MAX_NAME, Block

from .commands import CollapseCommand, RenameBlockCommand, StructureCommand
from .geometry import HEAD, PAD, Geometry, grow_moves, overlapping
from .model import DocumentModel


def top_units(tree, units) -> list[str]:
    """``units`` without those inside another of them (a frame selected with its members)."""
    chosen = set(units)
    return [u for u in units if not any(a in chosen for a in tree.ancestors(u))]


def group_problem(model: DocumentModel, units) -> str | None:
    """Why ``units`` cannot be grouped, as a sentence, or None."""
    tree = model.tree
    units = top_units(tree, units)
    if not units:
        return "Select the layers to group first."
    level = tree.common_parent(units)
    if level is False:
        return "Select layers inside one block (or all outside blocks) to group them."
    if level is not None and tree.depth(level) + 1 >= MAX_BLOCK_DEPTH:
        return f"Blocks may nest at most {MAX_BLOCK_DEPTH} levels deep."
    return None


def group(model: DocumentModel, units, name: str | None = None) -> str | None:
    """Put ``units`` (nodes and blocks of one level) in a new, open block; returns its id."""
    if group_problem(model, units):
        return None
    doc, tree = model.doc, model.tree
    units = top_units(tree, units)
    level = tree.common_parent(units)
    geo = Geometry(doc, tree)
    rects = [geo.rect(u) for u in units]
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    block_id = doc.new_id("block")
    block = Block(block_id, name or f"Block {block_id.removeprefix('block')}", level, collapsed=False,
                  pos=(x0 - PAD, y0 - HEAD))
    blocks = copy.deepcopy(doc.blocks)
    for b in blocks:
        if b.id in units:
            b.parent = block_id
    blocks.append(block)
    membership = {u: block_id for u in units if u not in tree.blocks}
    positions = {u: (geo.pos(u)[0] - x0, geo.pos(u)[1] - y0) for u in units}
    model.undo_stack.push(StructureCommand(model, blocks, membership, positions,
                                           f"Group {len(units)} into {block.name}"))
    return block_id


def ungroup(model: DocumentModel, block_id: str) -> list[str]:
    """Dissolve a block: its members join the level around it, where they were drawn (a
    folded block opens in place first). Returns the units that came out."""
    doc, tree = model.doc, model.tree
    if block_id not in tree.blocks:
        return []
    block = tree.blocks[block_id]
    geo = Geometry(doc, tree)
    moves = grow_moves(geo, block_id, lambda g: g.set_collapsed(block_id, False)) if block.collapsed else {}
    kids = list(tree.children.get(block_id, []))
    bx, by = geo.pos(block_id)
    positions = dict(moves)
    for u in kids:
        x, y = geo.pos(u)
        positions[u] = (bx + PAD + x, by + HEAD + y)
    blocks = []
    for b in copy.deepcopy(doc.blocks):
        if b.id == block_id:
            continue
        if b.id in kids:
            b.parent = block.parent
        blocks.append(b)
    membership = {u: block.parent for u in kids if u not in tree.blocks}
    model.undo_stack.push(StructureCommand(model, blocks, membership, positions, f"Ungroup {block.name}"))
    return kids


def rename_problem(name: str) -> str | None:
    name = name.strip()
    if not name:
        return "A block needs a name."
    if len(name) > MAX_NAME or not name.isprintable():
        return f"A block's name is one line of at most {MAX_NAME} characters."
    return None


def rename(model: DocumentModel, block_id: str, name: str) -> bool:
    if block_id not in model.tree.blocks or rename_problem(name):
        return False
    name = name.strip()
    if model.tree.blocks[block_id].name != name:
        model.undo_stack.push(RenameBlockCommand(model, block_id, name))
    return True


def set_collapsed(model: DocumentModel, block_id: str, collapsed: bool) -> bool:
    """Fold or open one block (one undo step); False when it already is."""
    tree = model.tree
    block = tree.blocks.get(block_id)
    if block is None or block.collapsed == collapsed:
        return False
    geo = Geometry(model.doc, tree)
    new: dict = {}
    if not collapsed and overlapping(geo, block_id):  # never arranged: lay out this level only
        from .layout import level_layout
        for unit, pos in level_layout(model.doc, tree, block_id).items():
            geo.set_pos(unit, pos)
            new[unit] = pos
    new.update(grow_moves(geo, block_id, lambda g: g.set_collapsed(block_id, collapsed)))
    old = {u: (tree.blocks[u].pos if u in tree.blocks else model.doc.node(u).pos) for u in new}
    verb = "Collapse" if collapsed else "Expand"
    model.undo_stack.push(CollapseCommand(model, block_id, collapsed, old, new, f"{verb} {block.name}"))
    return True


def reveal(model: DocumentModel, unit: str) -> list[str]:
    """Open every folded block around ``unit``, outermost first (one undo step); returns the
    blocks opened."""
    tree = model.tree
    folded = [b for b in reversed(tree.ancestors(unit)) if tree.blocks[b].collapsed]
    if not folded:
        return []
    stack = model.undo_stack
    stack.beginMacro(f"Open the blocks around {unit}")
    for b in folded:
        set_collapsed(model, b, False)
    stack.endMacro()
    return folded
