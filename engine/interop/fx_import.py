"""An ``nn.Module`` in, an editable graph document out.

The module is traced with torch.fx (modules with a catalogue layer, and torch.nn's own, are
kept whole; a user's own blocks are stepped into), run once on an example batch to learn
every shape, and each traced call is turned into catalogue layers by the rules of
``import_modules`` and ``import_functions``. Recurrent outputs are followed through the
idioms hand-written code uses (``out, (h, c) = self.lstm(x)``, ``out[:, -1]``,
``h[-1]``, ``torch.cat([h[-2], h[-1]], 1)``). Weights are renamed to the compiled graph's
names, and the compiled graph is run against the module on the example batch: an import
that does not compute what the module computes is refused.

Each node keeps where it came from (``Origin``: the submodule path, the module whose
forward ran it, the line), and lands in the block of that module: one block per submodule
stepped into, nested as the modules are (import_blocks.py). Node ids are the submodule path with dots as
underscores (``layer1.0.conv1`` -> ``layer1_0_conv1``), or the layer type for functions
(``add``, ``add_1``, ``flatten``).

Importing a Python file runs the user's code: that is the point (the user chose the
file). Weights files are read without unpickling objects (see weights.py).
"""
from __future__ import annotations

import inspect
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import fx, nn

from ..graph.catalogue import CATALOGUE
from ..graph.compile import compile_graph
from ..graph.document import GraphDocument
from ..graph.shapes import analyse
from .errors import InteropError
from .import_modules import is_leaf
from .import_walk import Builder, Origin, user_frame

TOLERANCE = 1e-4


@dataclass
class ImportedModule:
    doc: GraphDocument
    weights: dict[str, np.ndarray]          # compiled-graph names, ready for compile_graph's model
    origins: dict[str, Origin] = field(default_factory=dict)
    max_abs_diff: float = 0.0               # compiled graph against the module, example batch


class _Tracer(fx.Tracer):
    def __init__(self):
        super().__init__()
        self.scopes = [""]

    def is_leaf_module(self, m, qualname):
        return is_leaf(m)

    def call_module(self, m, forward, args, kwargs):
        self.scopes.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.scopes.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["scope"] = self.scopes[-1] if node.op != "call_module" else self.scopes[-2]
        node.meta["frame"] = user_frame(traceback.extract_stack()[:-1])
        return node


def import_module(module: nn.Module, input_shape, *, input_dtype: str = "auto", loss: str = "auto",
                  name: str | None = None) -> ImportedModule:
    """Trace ``module`` into a graph document. ``input_shape`` is one sample without the batch,
    e.g. (1, 28, 28); ``input_dtype`` "float", "long" (token ids) or "auto" (long when the
    input feeds an Embedding); ``loss`` the catalogue loss node the prediction feeds, or
    "auto": CrossEntropy for class scores (N, C) or (N, T, C) with C > 1, else MSE. Raises
    InteropError with one sentence naming the construct and its line."""
    shape = _check_shape(input_shape)
    if loss != "auto" and (loss not in CATALOGUE or CATALOGUE[loss].role != "loss"):
        losses = ", ".join(k for k, v in CATALOGUE.items() if v.role == "loss")
        raise InteropError(f"'{loss}' is not a loss layer; choose one of {losses}.")
    cls_name = type(module).__name__
    tracer = _Tracer()
    try:
        graph = tracer.trace(module, concrete_args=_concrete_defaults(module))
    except Exception as exc:  # noqa: BLE001 - fx raises many kinds; each becomes a sentence
        raise _trace_error(cls_name, exc) from None
    gm = fx.GraphModule(module, graph)
    dtype, vocab = _input_dtype(gm, input_dtype)
    example = _example(shape, dtype, vocab, batch=2)
    _propagate(gm, module, example, cls_name)
    builder = Builder(gm, shape, dtype, cls_name, module)
    builder.walk()
    doc = builder.document(name or cls_name, loss)
    problems = analyse(doc).problems
    if problems:
        p = problems[0]
        where = builder.origins[p.node].where() if p.node in builder.origins else cls_name
        raise InteropError(f"{cls_name} imports as a graph Neurostudio cannot run ({where}): {p}", node=p.node)
    weights = builder.weights(module)
    diff = _verify(doc, weights, module, _example(shape, dtype, vocab, batch=3, seed=1), cls_name)
    return ImportedModule(doc, weights, builder.origins, diff)


def _check_shape(input_shape) -> tuple[int, ...]:
    if input_shape is None or input_shape == "":
        raise InteropError("Give the shape of one example input without the batch, e.g. 1,28,28 for "
                           "28x28 grey images or 50,8 for 50 steps of 8 features: tracing runs the model on it.")
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if not shape or any(v < 1 for v in shape):
        raise InteropError(f"The example input shape {input_shape!r} is not a list of sizes >= 1 (one sample "
                           f"without the batch, e.g. 1,28,28).")
    return shape


def _concrete_defaults(module) -> dict:
    """Forward arguments after the first that have defaults are traced at their defaults."""
    try:
        params = list(inspect.signature(module.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _trace_error(cls_name: str, exc: Exception) -> InteropError:
    frame = user_frame(traceback.extract_tb(exc.__traceback__))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "control flow" in text or "iterate" in text or "bool" in text or "len(" in text:
        text = ("it branches, loops or takes a length on a tensor's values, which has no fixed graph "
                "(torch.fx cannot trace it)")
    if frame is not None:
        return InteropError(f"{cls_name} cannot be imported: line {frame.lineno} of {Path(frame.filename).name} "
                            f"(`{(frame.line or '').strip()}`): {text}.", line=frame.lineno)
    return InteropError(f"{cls_name} cannot be imported: torch.fx could not trace its forward: {text}.")


def _input_dtype(gm, wanted: str) -> tuple[str, int]:
    if wanted not in ("auto", "float", "long"):
        raise InteropError(f"The input dtype must be float, long or auto, not {wanted!r}.")
    placeholder = next(n for n in gm.graph.nodes if n.op == "placeholder")
    for user in placeholder.users:
        if user.op == "call_module" and isinstance(gm.get_submodule(user.target), nn.Embedding):
            return "long", gm.get_submodule(user.target).num_embeddings
    return ("long" if wanted == "long" else "float"), 2


def _example(shape, dtype, vocab, batch, seed=0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if dtype == "long":
        return torch.randint(0, vocab, (batch, *shape), generator=gen)
    return torch.randn((batch, *shape), generator=gen)


class _NodeFailed(Exception):
    def __init__(self, node, cause):
        super().__init__(str(cause))
        self.node, self.cause = node, cause


@dataclass(frozen=True)
class TensorShape:
    shape: tuple
    dtype: torch.dtype


class _Shapes(fx.Interpreter):
    """Runs the traced module once, keeping each node's tensor shapes in meta["tensor_meta"]
    (a TensorShape, or a tuple of them for a recurrent layer's outputs)."""

    def run_node(self, n):
        try:
            result = super().run_node(n)
        except Exception as exc:  # noqa: BLE001 - the user's module may raise anything
            raise _NodeFailed(n, exc) from None
        n.meta["tensor_meta"] = fx.node.map_aggregate(
            result, lambda v: TensorShape(tuple(v.shape), v.dtype) if isinstance(v, torch.Tensor) else None)
        return result


def _propagate(gm, module, example, cls_name) -> None:
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            _Shapes(gm).run(example)
    except _NodeFailed as exc:
        frame = exc.node.meta.get("frame")
        where = f" at line {frame.lineno} (`{(frame.line or '').strip()}`)" if frame else ""
        text = str(exc.cause).strip().splitlines()[0] if str(exc.cause).strip() else type(exc.cause).__name__
        raise InteropError(f"Running {cls_name} on an example input of shape {tuple(example.shape)} failed{where}: "
                           f"{text}; check the input shape.", line=frame.lineno if frame else None) from None
    finally:
        module.train(was_training)


def _verify(doc, weights, module, example, cls_name) -> float:
    """Max |compiled graph - module| on ``example`` (both in eval mode); InteropError when the
    import does not compute what the module does."""
    compiled = compile_graph(doc)
    compiled.model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            want = module(example)
            got = compiled.model.eval()(example)
    finally:
        module.train(was_training)
    diff = float((got.double() - want.double()).abs().max()) if want.numel() else 0.0
    scale = max(1.0, float(want.abs().max())) if want.numel() else 1.0
    if not diff <= TOLERANCE * scale:
        raise InteropError(f"{cls_name} was traced, but the graph made from it computes different outputs "
                           f"(they differ by {diff:.3g} on a random input); something in its forward has no "
                           f"faithful layer here.")
    return diff
