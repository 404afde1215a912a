"""Turn an ArrayDataset into tensors on the training device, checking it against the
compiled graph first. A problem names the split and the sample index."""
from __future__ import annotations

import numpy as np
import torch

from .errors import TrainError


def _first_bad(arr: np.ndarray, convert) -> int:
    for i in range(len(arr)):
        try:
            convert(arr[i])
        except (TypeError, ValueError):
            return i
    return -1


def _as_array(arr, dtype, split: str, what: str) -> np.ndarray:
    try:
        return np.ascontiguousarray(np.asarray(arr), dtype=dtype)
    except (TypeError, ValueError) as exc:
        items = np.asarray(arr, dtype=object)
        i = _first_bad(items, lambda v: np.asarray(v, dtype=dtype))
        where = f"{split} sample {i}" if i >= 0 else f"the {split} {what}"
        raise TrainError(f"The {where} cannot be used as {np.dtype(dtype).name} {what}: {exc}.",
                         kind="data") from None


def prepare_split(x, y, split: str, input_shape, input_long: bool, target_kind: str,
                  num_classes: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    x = _as_array(x, np.int64 if input_long else np.float32, split, "input")
    if len(x) and tuple(x.shape[1:]) != tuple(input_shape):
        raise TrainError(f"The {split} samples have shape {tuple(x.shape[1:])}, but the graph's Input "
                         f"expects {tuple(input_shape)}.", kind="data")
    if not input_long and x.size:
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            i = int(np.argmin(finite))
            raise TrainError(f"The {split} sample {i} contains NaN or infinite values.", kind="data")
    if target_kind == "class":
        y = _as_array(y, np.int64, split, "class id")
        if y.size and num_classes:
            flat = y.reshape(len(y), -1)
            bad = (flat < 0) | (flat >= num_classes)
            if bad.any():
                i = int(np.argmax(bad.any(axis=1)))
                value = int(flat[i][bad[i]][0])
                raise TrainError(f"The {split} sample {i} has class id {value}, but the network's "
                                 f"output has {num_classes} classes (ids 0..{num_classes - 1}).", kind="data")
    else:
        y = _as_array(y, np.float32, split, "target")
        if y.size:
            finite = np.isfinite(y.reshape(len(y), -1)).all(axis=1)
            if not finite.all():
                i = int(np.argmin(finite))
                raise TrainError(f"The {split} sample {i} has a NaN or infinite target.", kind="data")
    if len(x) != len(y):
        raise TrainError(f"The {split} split has {len(x)} inputs but {len(y)} targets.", kind="data")
    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
