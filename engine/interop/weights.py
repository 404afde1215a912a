"""Weights in and out in standard files, never through pickle.

Out: safetensors (a JSON header and raw little-endian bytes). In: safetensors, or a PyTorch
state-dict file read with ``torch.load(weights_only=True)``, which refuses any object other
than tensors and plain containers, so opening a stranger's file never runs code.

Weights of a graph come from a session's checkpoint or from a fresh initialisation of the
compiled graph (the seed of its training settings, as the trainer does); they are named as
the compiled graph names them, and renamed for the exported code by ``CodeExport``.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..graph.compile import compile_graph
from ..graph.document import GraphDocument
from ..graph.settings import TRAINING_DEFAULTS
from ..session import SessionReader
from .errors import InteropError


@dataclass
class GraphWeights:
    weights: dict[str, np.ndarray]   # compiled-graph names -> arrays
    origin: str                      # for messages: "the checkpoint at step 400 of run.session"
    step: int | None = None


def fresh_weights(doc: GraphDocument) -> GraphWeights:
    """The weights the trainer would start from: the graph compiled after seeding torch
    with its training seed."""
    seed = int(doc.training.get("seed", TRAINING_DEFAULTS["seed"]))
    with _seeded(seed):
        model = compile_graph(doc).model
    return GraphWeights(_numpy_state(model), f"a fresh initialisation (seed {seed})")


def session_weights(path: str | Path, step: int | None = None) -> tuple[GraphDocument, GraphWeights]:
    """The graph a session trained and its checkpoint at ``step`` (the last one at or before
    it; the last checkpoint when None). Raises SessionError / InteropError with a sentence."""
    path = Path(path)
    with SessionReader(path) as reader:
        doc = GraphDocument.from_dict(reader.graph, source=f"The graph stored in {path.name}")
        steps = reader.checkpoint_steps()
        if not steps:
            raise InteropError(f"{path.name} holds no checkpoint, so it has no weights to export.")
        at = steps[-1] if step is None else reader.checkpoint_at_or_before(step)
        if at is None:
            raise InteropError(f"{path.name} has no checkpoint at or before step {step} (its first is "
                               f"at step {steps[0]}).")
        weights, _ = reader.checkpoint(at)
    return doc, GraphWeights(weights, f"the checkpoint at step {at} of {path.name}", at)


def check_fit(doc: GraphDocument, weights: GraphWeights) -> None:
    """InteropError unless ``weights`` has exactly the compiled graph's names and shapes."""
    with torch.device("meta"):
        own = {k: tuple(v.shape) for k, v in compile_graph(doc, "meta").model.state_dict().items()}
    missing = sorted(set(own) - set(weights.weights))
    extra = sorted(set(weights.weights) - set(own))
    if missing or extra:
        what = (f"lacks {', '.join(missing[:3])}" if missing else f"has weights the graph does not: "
                f"{', '.join(extra[:3])}")
        raise InteropError(f"The weights from {weights.origin} do not fit the graph '{doc.name}': "
                           f"it {what}.")
    for name, shape in own.items():
        got = tuple(np.shape(weights.weights[name]))
        if got != shape:
            raise InteropError(f"The weight '{name}' from {weights.origin} has shape {got}, but the "
                               f"graph '{doc.name}' needs {shape}.")


def save_safetensors(tensors: dict, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (numpy arrays or torch tensors) atomically: a crash never leaves a
    half-written file under ``path``."""
    from safetensors.torch import save_file
    path = Path(path)
    out = {k: (torch.from_numpy(np.asarray(v, order="C")) if isinstance(v, np.ndarray) else v)  # 0-d stays 0-d
           .detach().cpu().contiguous().clone() for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(out, str(tmp), metadata={k: str(v) for k, v in (metadata or {}).items()})
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InteropError(f"Could not write {path}: {exc.strerror or exc}.") from None


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict (name -> tensor) from a .safetensors file or a PyTorch file saved with
    ``torch.save(model.state_dict(), ...)``. A checkpoint dict that nests the state dict
    under "state_dict", "model_state_dict" or "model" is unwrapped. Loading never unpickles
    arbitrary objects (weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise InteropError(f"Weights file {path} does not exist.")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise InteropError(f"Weights file {path.name} is not a valid safetensors file ({exc}).") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise InteropError(f"Weights file {path.name} holds Python objects other than tensors "
                           f"(e.g. a whole pickled model), which are not loaded because that could run "
                           f"code; save model.state_dict() instead ({str(exc).splitlines()[0][:120]}).") from None
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise InteropError(f"Weights file {path.name} is not a PyTorch state dict "
                           f"({str(exc).splitlines()[0][:160]}).") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not data:
        raise InteropError(f"Weights file {path.name} holds no state dict (a mapping of names to tensors).")
    tensors = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise InteropError(f"Weights file {path.name} holds no tensors.")
    return tensors


def _numpy_state(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


class _seeded:
    """Seed torch's global generator for a block and put its state back afterwards."""

    def __init__(self, seed: int):
        self.seed = seed

    def __enter__(self):
        self.state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        torch.random.set_rng_state(self.state)
