"""One block per submodule: an imported graph keeps the shape of the module it came from.

Every node remembers the module whose forward made it (``Origin.scope``, e.g. ``layer1.0``
for a ResNet's first basic block); each such module, and every module around it up to the
top, becomes a block named after its path and class, nested as the modules are. Layers of
the top-level forward stay outside blocks. Blocks start folded: an imported ResNet-50 opens
as its stem, four stages and its head.
"""
from __future__ import annotations

import re

from torch import nn

from ..graph.blocks import MAX_BLOCK_DEPTH, Block
from ..graph.document import GraphDocument


def _block_id(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", path)
    base = base if base[:1].isalpha() or base[:1] == "_" else "m" + base
    candidate, k = base, 1
    while candidate in taken:
        candidate = f"{base}_block" if k == 1 else f"{base}_block{k}"
        k += 1
    return candidate


def add_blocks(doc: GraphDocument, origins: dict, module: nn.Module) -> None:
    """Put each node in the block of its module (``origins``: node id -> Origin)."""
    classes = {name: type(m).__name__ for name, m in module.named_modules() if name}
    scopes: dict[str, None] = {}
    for n in doc.nodes:
        origin = origins.get(n.id)
        path = origin.scope if origin is not None else ""
        while path:
            if path in classes:
                scopes.setdefault(path, None)
            path = path.rpartition(".")[0]
    taken = {n.id for n in doc.nodes}
    ids: dict[str, str] = {}
    for path in sorted(scopes, key=lambda p: (p.count("."), p)):
        ids[path] = _block_id(path, taken)
        taken.add(ids[path])

    def parent_of(path: str) -> str | None:
        up = path.rpartition(".")[0]
        while up and up not in ids:
            up = up.rpartition(".")[0]
        return ids.get(up) if up else None
    depth = {}
    blocks = []
    for path in sorted(scopes, key=lambda p: (p.count("."), p)):
        parent = parent_of(path)
        depth[ids[path]] = depth.get(parent, 0) + 1 if parent else 1
        if depth[ids[path]] > MAX_BLOCK_DEPTH:  # deeper modules fold into the deepest block allowed
            ids[path] = parent
            continue
        blocks.append(Block(ids[path], f"{path} ({classes[path]})", parent, collapsed=True))
    doc.blocks = blocks
    for n in doc.nodes:
        origin = origins.get(n.id)
        n.block = ids.get(origin.scope) if origin is not None and origin.scope else None
