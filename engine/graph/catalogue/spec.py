"""The data types the layer catalogue is written in.

A layer type is plain data plus a few small functions: its params (with type, default,
range, help and unit), its ports, how to build its torch module from the params and the
input shapes, how many multiply-adds it costs, and which probes apply. Palette,
inspector, shape inference, compiler and docs all read these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

Shape = tuple[int, ...]  # a tensor shape *without* the batch dimension

PARAM_KINDS = ("int", "float", "bool", "choice", "ints", "padding", "str")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    default: Any = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    required: bool = False
    nullable: bool = False
    unit: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, as the end of a sentence, or None if it is. The
        value is quoted short: it comes from a file that may hold anything."""
        if value is None:
            return None if self.nullable else "must not be empty"
        kind = self.kind
        if kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {_quote(value)}"
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be a whole number, got {_quote(value)}"
            return self._range_problem(value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {_quote(value)}"
            if not math.isfinite(value):
                return f"must be a finite number, got {_quote(value)}"
            return self._range_problem(value)
        if kind == "choice":
            return None if value in self.choices else (
                f"must be one of {', '.join(map(str, self.choices))}; got {_quote(value)}")
        if kind == "ints":
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value):
                return f"must be a list of whole numbers, got {_quote(value)}"
            if len(value) > MAX_INTS:
                return f"must have at most {MAX_INTS} entries, got {len(value)}"
            for v in value:
                p = self._range_problem(v)
                if p:
                    return "entries " + p
            return None
        if kind == "padding":
            if value in ("same", "valid"):
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return f'must be "same", "valid" or a whole number >= 0, got {_quote(value)}'
            return None
        if kind == "str":
            return None if isinstance(value, str) else f"must be text, got {_quote(value)}"
        raise ValueError(f"unknown param kind {kind!r}")

    def _range_problem(self, value) -> str | None:
        if self.min is not None and value < self.min:
            return f"must be at least {self.min:g}, got {_quote(value)}"
        top = self.max if self.max is not None else (MAX_WHOLE if isinstance(value, int) else None)
        if top is not None and value > top:
            return f"must be at most {top if isinstance(top, int) else f'{top:g}'}, got {_quote(value)}"
        return None


MAX_INTS = 8  # entries of a list param (a shape, an order, a kernel): tensors have few dims
MAX_WHOLE = 2**31 - 1  # a whole number with no bound of its own: torch sizes fit in it


def _quote(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class Port:
    name: str
    multi: bool = False  # accepts several incoming edges, in edge order (merge nodes)


IN = (Port("in"),)
OUT = (Port("out"),)


def _no_flops(params, in_shapes, out_shape, module) -> int:
    return 0


@dataclass(frozen=True)
class LayerType:
    """One entry of the catalogue.

    build(params, in_shapes) -> torch.nn.Module   (in_shapes exclude the batch dim)
    flops(params, in_shapes, out_shape, module) -> multiply-adds per sample
    check(params, in_shapes) -> None or a sentence why the inputs do not fit
      (called before build; ``ranks`` gives the generic rank check for free).
    """
    name: str
    category: str
    help: str
    params: tuple[Param, ...] = ()
    build: Callable | None = None
    role: str = "layer"  # "input" | "layer" | "merge" | "loss"
    inputs: tuple[Port, ...] = IN
    outputs: tuple[Port, ...] = OUT
    ranks: tuple[int, ...] | None = None  # accepted input ranks, batch dim excluded
    expects: str = ""  # human form of the expected input, e.g. "(N, C, H, W)"
    check: Callable | None = None
    flops: Callable = _no_flops
    probes: tuple[str, ...] = ("activation",)
    #: (low, high) bounds every output value keeps by construction, None where unbounded:
    #: activation histograms use them as their range instead of guessing one from data
    output_range: tuple[float | None, float | None] = (None, None)
    #: the output is a function of the one input alone (no weights, state or randomness):
    #: statistics recompute it from the input's copy rather than copy it too
    pure: bool = False
    #: the output while training draws random numbers (Dropout): a step's outputs cannot be
    #: recomputed from its input batch and weights (see engine.probes.targets.Targets.replayable)
    random: bool = False
    target: str = ""  # loss nodes: the target kind they need, "class" ids or "value" tensors

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def fmt_shape(shape: Shape | None) -> str:
    """(N, 1, 28, 28): the batch dimension shown as N."""
    if shape is None:
        return "?"
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"
