"""Checkpoints as plain data: weights are a dict name -> numpy array, optimizer state is a
JSON-able dict whose leaves may be numpy arrays. No pickle, no torch.save: a checkpoint
from a stranger can be opened without running code. ``save_checkpoint`` writes both into
one ``.npz`` (the JSON part stored as UTF-8 bytes), read back with ``allow_pickle=False``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .errors import TrainError


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.float()
    return t.numpy().copy()


def model_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """Parameters and buffers (BatchNorm running stats) as numpy copies."""
    return {name: _to_numpy(t) for name, t in model.state_dict().items()}


def load_model_weights(model: torch.nn.Module, weights: dict[str, np.ndarray]) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    extra = sorted(set(weights) - set(own))
    if missing or extra:
        what = f"lacks {', '.join(missing[:3])}" if missing else f"has unknown {', '.join(extra[:3])}"
        raise TrainError(f"The checkpoint does not fit this network: it {what}.", kind="settings")
    for name, t in own.items():
        arr = np.asarray(weights[name])
        if tuple(arr.shape) != tuple(t.shape):
            raise TrainError(f"The checkpoint's '{name}' has shape {tuple(arr.shape)}, but the "
                             f"network's is {tuple(t.shape)}.", kind="settings")
    with torch.no_grad():
        for name, t in own.items():
            # order="C", not ascontiguousarray: that makes a 0-d array (batch norm's step counter) 1-d
            t.copy_(torch.from_numpy(np.asarray(weights[name], order="C")).to(t.dtype))


def _plain(value):
    if isinstance(value, torch.Tensor):
        return _to_numpy(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """torch's optimizer state_dict with tensors as numpy arrays and string keys."""
    return _plain(optimizer.state_dict())


def _tensors(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {k: _tensors(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tensors(v) for v in value]
    return value


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    torch_state = {"state": {int(k): _tensors(v) for k, v in state["state"].items()},
                   "param_groups": [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()}
                                    for g in state["param_groups"]]}
    try:
        optimizer.load_state_dict(torch_state)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise TrainError(f"The checkpoint's optimizer state does not fit this optimizer: {exc}.",
                         kind="settings") from None


def _split_arrays(value, prefix: str, arrays: dict):
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, dict):
        return {k: _split_arrays(v, f"{prefix}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_split_arrays(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]
    return value


def _join_arrays(value, arrays):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, arrays) for v in value]
    return value


def save_checkpoint(path: str | Path, weights: dict[str, np.ndarray], optimizer: dict | None) -> None:
    arrays = {f"w/{k}": v for k, v in weights.items()}
    meta = {"format": "neurostudio.checkpoint", "version": 1, "weights": sorted(weights),
            "optimizer": None if optimizer is None else _split_arrays(optimizer, "o", arrays)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict | None]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except FileNotFoundError:
        raise TrainError(f"Checkpoint file {path} does not exist.") from None
    except (OSError, ValueError, KeyError) as exc:
        raise TrainError(f"Checkpoint file {path.name} is not a Neurostudio checkpoint ({exc}).") from None
    weights = {k: arrays[f"w/{k}"] for k in meta["weights"]}
    opt = meta.get("optimizer")
    return weights, (None if opt is None else _join_arrays(opt, arrays))
