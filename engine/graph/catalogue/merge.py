"""Merge nodes: several incoming edges on one port, combined in edge order."""
from __future__ import annotations

from ...nn.merge import Add, Concat, Multiply
from .common import elementwise_flops
from .spec import LayerType, Param, Port

MULTI_IN = (Port("in", multi=True),)


def _same_shapes(p, s):
    if len({tuple(x) for x in s}) > 1:
        return "all its inputs must have the same shape; got " + ", ".join(
            "(N, " + ", ".join(map(str, x)) + ")" for x in s)
    return None


def _concat_check(p, s):
    d = p["dim"]
    if any(len(x) < d for x in s):
        return f"dim {d} does not exist in every input"
    rest = {tuple(x[:d - 1]) + tuple(x[d:]) for x in s}
    if len(rest) > 1:
        return (f"its inputs must match in every dim except {d}; got "
                + ", ".join("(N, " + ", ".join(map(str, x)) + ")" for x in s))
    return None


LAYERS = [
    LayerType("Add", "Merge", "Element-wise sum of its inputs: the skip connection of a residual block.",
              build=lambda p, s: Add(), role="merge", inputs=MULTI_IN, check=_same_shapes,
              flops=elementwise_flops, probes=("activation",)),
    LayerType("Multiply", "Merge", "Element-wise product of its inputs (gating).",
              build=lambda p, s: Multiply(), role="merge", inputs=MULTI_IN, check=_same_shapes,
              flops=elementwise_flops, probes=("activation",)),
    LayerType("Concat", "Merge", "Concatenates its inputs along a dim (1 = channels): DenseNet and "
              "Inception connectivity.",
              params=(Param("dim", "int", 1, "Dim to join along, counted after the batch (1 = channels).",
                            min=1, max=8),),
              build=lambda p, s: Concat(p["dim"]), role="merge", inputs=MULTI_IN, check=_concat_check,
              probes=("activation",)),
]
