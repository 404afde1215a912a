"""Where each thing sits on the canvas, given which blocks are open (no Qt here).

Positions nest (engine/graph/blocks.py): a node's ``pos`` is relative to the content origin
of its block's frame, a block's ``pos`` is the top-left of its frame (expanded) or of its box
(collapsed) in its parent. A collapsed block is a box the size of a node; an expanded one is a
frame around its children, with a header for its name. Rects are ``(x0, y0, x1, y1)``.

Expanding a block makes room by pushing its neighbours: those level with it to the right,
those below it down (``grow_moves``); collapsing pulls them back by the same rule, so an
expand followed by a collapse puts everything back where it was. Only the block's own level
and the levels around it move: nothing else is laid out again.
"""
from __future__ import annotations

from engine.graph.blocks import BlockTree
from engine.graph.document import GraphDocument

from .layout import NODE_H, NODE_W

PAD = 24.0    # a frame's margin around its children (left, right, bottom)
HEAD = 36.0   # a frame's header, above its children: the block's name
EPS = 0.5


def union(a, b):
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def intersects(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class Geometry:
    """Rects of units from the document's positions, with optional overrides (what a command
    is about to change) and a cache of expanded blocks' frames (``invalidate`` on a change)."""

    def __init__(self, doc: GraphDocument, tree: BlockTree, pos: dict | None = None,
                 collapsed: dict | None = None):
        self.doc, self.tree = doc, tree
        self.pos_over = dict(pos or {})
        self.collapsed_over = dict(collapsed or {})
        self._frames: dict[str, tuple] = {}

    # -- what the document says (or what a command will make it say) ----------------------
    def pos(self, unit: str) -> tuple[float, float]:
        p = self.pos_over.get(unit)
        if p is not None:
            return p
        if unit in self.tree.blocks:
            return self.tree.blocks[unit].pos
        return self.doc.node(unit).pos

    def collapsed(self, block_id: str) -> bool:
        flag = self.collapsed_over.get(block_id)
        return self.tree.blocks[block_id].collapsed if flag is None else flag

    def expanded(self, unit: str) -> bool:
        return unit in self.tree.blocks and not self.collapsed(unit)

    def set_pos(self, unit: str, pos) -> None:
        self.pos_over[unit] = (float(pos[0]), float(pos[1]))
        self.invalidate(unit)

    def set_collapsed(self, block_id: str, flag: bool) -> None:
        self.collapsed_over[block_id] = flag
        self._frames.pop(block_id, None)
        self.invalidate(block_id)

    def invalidate(self, unit: str) -> None:
        for b in self.tree.ancestors(unit):
            self._frames.pop(b, None)

    def clear(self) -> None:
        self._frames.clear()

    # -- rects ----------------------------------------------------------------------------
    def rect(self, unit: str):
        """The unit's rect in its parent's content coordinates."""
        x, y = self.pos(unit)
        if not self.expanded(unit):
            return (x, y, x + NODE_W, y + NODE_H)
        frame = self._frames.get(unit)
        if frame is None:
            frame = self._frame(unit)
            self._frames[unit] = frame
        return (x + frame[0], y + frame[1], x + frame[2], y + frame[3])

    def _frame(self, block_id: str):
        """An expanded block's frame relative to its ``pos``."""
        kids = self.tree.children.get(block_id, ())
        x0 = y0 = 0.0
        x1, y1 = NODE_W - 2 * PAD, NODE_H - HEAD - PAD
        for u in kids:
            r = self.rect(u)
            x0, y0, x1, y1 = min(x0, r[0]), min(y0, r[1]), max(x1, r[2]), max(y1, r[3])
        return (x0, y0, x1 + 2 * PAD, y1 + HEAD + PAD)

    def content_bbox(self, container):
        """The union of the rects of a level's units (None when it is empty)."""
        box = None
        for u in self.tree.children.get(container, ()):
            r = self.rect(u)
            box = r if box is None else union(box, r)
        return box

    def origin(self, container) -> tuple[float, float]:
        """A level's content origin on the canvas (the top level's is (0, 0))."""
        x = y = 0.0
        cur = container
        while cur is not None:
            px, py = self.pos(cur)
            x += px + PAD
            y += py + HEAD
            cur = self.tree.parent.get(cur)
        return x, y

    def abs_rect(self, unit: str):
        ox, oy = self.origin(self.tree.parent.get(unit))
        r = self.rect(unit)
        return (r[0] + ox, r[1] + oy, r[2] + ox, r[3] + oy)

    def shown(self, unit: str) -> bool:
        """True when every block around ``unit`` is expanded (it is drawn, not folded away)."""
        return all(not self.collapsed(b) for b in self.tree.ancestors(unit))

    def bbox(self):
        """Everything drawn, on the canvas."""
        return self.content_bbox(None)


def grow_moves(geo: Geometry, unit: str, change) -> dict[str, tuple[float, float]]:
    """Apply ``change(geo)`` (which makes ``unit`` bigger or smaller: expand, collapse) and push
    the neighbours of ``unit`` and of each block around it to keep the room it needs. Returns
    the new position of every unit moved (``geo`` holds them as overrides too)."""
    chain = [unit] + geo.tree.ancestors(unit)
    before = [geo.rect(u) for u in chain]
    change(geo)
    moved: dict[str, tuple[float, float]] = {}
    for u, old in zip(chain, before):
        new = geo.rect(u)
        dx, dy = new[2] - old[2], new[3] - old[3]
        if abs(dx) < EPS and abs(dy) < EPS:
            break
        for s in geo.tree.children.get(geo.tree.parent.get(u), ()):
            if s == u:
                continue
            r = geo.rect(s)
            level = r[1] < old[3] - EPS and r[3] > old[1] + EPS
            if level and r[0] >= old[2] - EPS:
                shift = (dx, 0.0)
            elif r[1] >= old[3] - EPS:
                shift = (0.0, dy)
            else:
                continue
            x, y = geo.pos(s)
            geo.set_pos(s, (x + shift[0], y + shift[1]))
            moved[s] = geo.pos(s)
    return moved


def overlapping(geo: Geometry, container) -> bool:
    """True when units of one level overlap or sit too close for edge labels (a hand-written
    file with every position at 0, or an import that left positions to the editor)."""
    from .layout import LAYER_GAP
    rects = sorted(geo.rect(u) for u in geo.tree.children.get(container, ()))
    gap = LAYER_GAP * 0.6
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            if b[0] >= a[2] + gap:
                break
            if b[1] < a[3] + 8 and a[1] < b[3] + 8:
                return True
    return False


def match_folds(doc: GraphDocument, folds: dict) -> list[str]:
    """Fold or open ``doc``'s blocks as ``folds`` says (block id -> collapsed), as the canvas
    would: neighbours make room or get it back. A recorded session of the open document opens
    showing the blocks it showed (blocks map by id). Returns the blocks changed."""
    changed = []
    tree = doc.tree()
    for b in sorted(tree.blocks, key=tree.depth):
        want = folds.get(b)
        if want is None or tree.blocks[b].collapsed == want:
            continue
        geo = Geometry(doc, tree)
        moves = grow_moves(geo, b, lambda g, b=b, want=want: g.set_collapsed(b, want))
        tree.blocks[b].collapsed = want
        for unit, pos in moves.items():
            (tree.blocks.get(unit) or doc.node(unit)).pos = pos
        changed.append(b)
    return changed
