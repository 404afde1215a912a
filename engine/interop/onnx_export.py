"""A graph document as an ONNX file, checked with onnxruntime.

torch.onnx's exporter (torch.export based, the ``dynamo=True`` path; the older TorchScript
exporter is deprecated and fails on fx GraphModules in this torch) writes the compiled graph
in eval mode, so batch norm uses its running statistics and dropout is the identity. The
batch dimension is dynamic. Our own layers export as the operations their forward runs:
the binary layers' straight-through estimators matter only for training, and their forward
(sign, mean, convolution, scale) is plain ONNX. The file is then run in onnxruntime on an
example batch and compared with torch.

Needs the optional packages onnx, onnxscript (the exporter) and onnxruntime (the check):
``pip install 'neurostudio[onnx]'``.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..graph.catalogue import CATALOGUE
from ..graph.compile import compile_graph
from ..graph.document import GraphDocument
from ..graph.validate import topological_order
from .errors import InteropError
from .weights import GraphWeights, check_fit, fresh_weights

OPSET = 18          # the exporter's lowest; ONNX Runtime has run it since 1.14
TOLERANCE = 1e-4    # onnxruntime against torch, float32
INSTALL = "pip install 'neurostudio[onnx]'"


@dataclass
class OnnxExport:
    path: Path
    opset: int
    input_name: str
    output_name: str
    max_abs_diff: float | None   # onnxruntime against torch on an example batch; None: not checked
    note: str = ""               # why it was not checked


def onnx_missing() -> str | None:
    """A sentence saying what to install, or None when ONNX export is available."""
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        return (f"ONNX export needs the optional package{'s' if len(missing) > 1 else ''} "
                f"{' and '.join(missing)}: {INSTALL}.")
    return None


def export_onnx(doc: GraphDocument, path: str | Path, weights: GraphWeights | None = None,
                opset: int = OPSET, check: bool = True) -> OnnxExport:
    """Write ``doc`` (with ``weights``, or a fresh initialisation) as ONNX to ``path`` and
    check it with onnxruntime when installed. Raises InteropError with one sentence: ONNX
    packages missing, a node that cannot be exported (named), a file that cannot be written,
    or onnxruntime disagreeing with torch."""
    problem = onnx_missing()
    if problem:
        raise InteropError(problem)
    if opset < OPSET:
        raise InteropError(f"ONNX opset {opset} is too old for torch's exporter; use {OPSET} or newer.")
    path = Path(path)
    weights = weights or fresh_weights(doc)
    check_fit(doc, weights)
    compiled = compile_graph(doc)
    compiled.model.load_state_dict({k: torch.from_numpy(np.asarray(v).copy()) for k, v in weights.weights.items()})
    model = compiled.model.eval()
    (pred_edge,) = doc.incoming(compiled.loss_node)
    input_name, output_name = compiled.input_node, pred_edge.src
    example = _example(compiled, doc, 2)
    try:
        program = _export(model, example, opset, input_name, output_name)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; we name the node
        raise _explain(doc, compiled, exc) from None
    large = sum(v.nbytes for v in weights.weights.values()) > 1_500_000_000
    tmp = path.with_name(path.name + ".tmp")
    try:
        with _quiet():
            program.save(str(tmp), external_data=large)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InteropError(f"Could not write {path}: {exc.strerror or exc}.") from None
    result = OnnxExport(path, opset, input_name, output_name, None)
    if not check:
        result.note = "not checked (asked not to)"
    elif importlib.util.find_spec("onnxruntime") is None:
        result.note = f"not checked: onnxruntime is not installed ({INSTALL})"
    else:
        result.max_abs_diff = _check(path, model, _example(compiled, doc, 3, seed=1))
        if not result.max_abs_diff <= TOLERANCE:
            raise InteropError(f"The ONNX file {path.name} was written, but onnxruntime's outputs differ "
                               f"from torch's by {result.max_abs_diff:.2g} (more than {TOLERANCE:g}); "
                               f"do not rely on it.")
    return result


def _example(compiled, doc, batch: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, *compiled.info[compiled.input_node].out_shape)
    if compiled.input_dtype == torch.long:
        vocab = min((n.params.get("vocab", CATALOGUE["Embedding"].defaults()["vocab"])
                     for n in doc.nodes if n.type == "Embedding"), default=2)
        return torch.randint(0, vocab, shape, generator=gen)
    return torch.randn(shape, generator=gen)


@contextlib.contextmanager
def _quiet():
    """The exporter prints progress lines and logs warnings about optional packages
    (torchvision); an export is quiet unless it fails."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _export(model, example, opset, input_name, output_name):
    with _quiet():
        return torch.onnx.export(model, (example,), None, dynamo=True, opset_version=opset,
                                 input_names=[input_name], output_names=[output_name],
                                 dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)


def _reason(exc: Exception) -> str:
    """The first line of an exporter error, without the colour codes it prints."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    missing = re.search(r"No ONNX function found for <OpOverload\(op='([^']+)'", text)
    if missing:
        return f"its operation {missing.group(1)} has no ONNX form in torch's exporter."
    summary = re.search(r"## Exception summary\s+<class '[^']+'>: ([^\n]+)", text)
    if summary:
        text = summary.group(1)
    return text.splitlines()[0][:200].rstrip(".") + "." if text else type(exc).__name__ + "."


def _explain(doc, compiled, exc) -> InteropError:
    """Export each node's module on its own to name the first one ONNX cannot express."""
    by_id = {n.id: n for n in doc.nodes}
    for node_id in topological_order(doc):
        if node_id not in compiled.modules:
            continue
        inputs = tuple(torch.zeros(2, *compiled.info[e.src].out_shape, dtype=torch.long)
                       if compiled.info[e.src].dtype == "long" else torch.randn(2, *compiled.info[e.src].out_shape)
                       for e in doc.incoming(node_id))
        try:
            with _quiet():
                torch.onnx.export(compiled.module_of(node_id).eval(), inputs, None, dynamo=True,
                                  opset_version=OPSET, verbose=False)
        except Exception as node_exc:  # noqa: BLE001
            return InteropError(f"Node '{node_id}' ({by_id[node_id].type}) cannot be exported to ONNX: "
                                f"{_reason(node_exc)}", node=node_id)
    return InteropError(f"The graph '{doc.name}' could not be exported to ONNX: {_reason(exc)}")


def _check(path: Path, model, example: torch.Tensor) -> float:
    """Largest absolute difference between onnxruntime and torch on ``example``."""
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: example.numpy()})[0]
    with torch.no_grad():
        want = model(example).numpy()
    if got.shape != want.shape:
        return float("inf")
    return float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
