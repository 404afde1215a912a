"""What a block adds up to (no Qt here): its members' parameters and FLOPs, its output shape,
the first problem inside it (naming the inner node), and the members the views can follow.
The canvas box, the frame header and the inspector all read these."""
from __future__ import annotations

from dataclasses import dataclass

from engine.graph.catalogue import CATALOGUE, fmt_shape


def human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


@dataclass
class BlockFacts:
    members: list[str]
    params: int
    flops: int
    inputs: list[str]      # shapes coming in, one per input port
    outputs: list[str]     # shapes going out, one per output port
    problem: object        # the first GraphError inside, or None

    @property
    def summary(self) -> str:
        n = len(self.members)
        return f"{n} layer{'s' if n != 1 else ''} · {human(self.params)} params · {human(self.flops)} FLOPs"

    @property
    def shape_text(self) -> str:
        return ", ".join(dict.fromkeys(self.outputs)) or ""


def block_facts(tree, analysis, block_id: str, ports) -> BlockFacts:
    """``ports``: the block's (input, output) port names, ``node.port`` of the source."""
    members = tree.members(block_id)
    inside = set(members)
    params = flops = 0
    for m in members:
        info = analysis.nodes.get(m)
        if info is not None:
            params += info.n_params
            flops += info.flops

    def shape(port: str) -> str:
        info = analysis.nodes.get(port.split(".")[0])
        return fmt_shape(info.out_shape) if info is not None and info.out_shape is not None else "?"
    problem = next((p for p in analysis.problems if p.node in inside), None)
    return BlockFacts(members, params, flops, [shape(p) for p in ports[0]], [shape(p) for p in ports[1]], problem)


def probed_members(doc, tree, block_id: str) -> list[tuple[str, str]]:
    """``(node id, layer type)`` of the members that record probes the views show, in
    document order (a block's views follow one of these)."""
    out = []
    for m in tree.members(block_id):
        node = doc.node(m)
        spec = CATALOGUE.get(node.type)
        if spec is not None and spec.probes:
            out.append((m, node.type))
    return out
