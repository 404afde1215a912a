"""Turning a user's x and y arrays into a dataset: dtypes, kinds and target kinds, checked."""
from __future__ import annotations

import numpy as np

from .base import DataError, DatasetInfo


def class_ids(y: np.ndarray, source: str, class_names=None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer labels as int64 ids with their class names (given, or "0".."k-1")."""
    if y.size and y.min() < 0:
        raise DataError(f"{source} has a negative class label ({int(y.min())}); labels must be 0, 1, 2, ...")
    count = int(y.max()) + 1 if y.size else 0
    if class_names is not None:
        names = tuple(str(n) for n in class_names)
        if len(names) < count:
            raise DataError(f"{source} has labels up to {count - 1} but only {len(names)} class names.")
    else:
        names = tuple(str(k) for k in range(count))
    return y.astype(np.int64), names


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, source: str, *, class_names=None,
                input_dtype: str | None = None, kind: str | None = None) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    """Check and convert a user's arrays. uint8 inputs are pixels scaled to [0, 1]; other
    integer inputs of shape (N,) or (N, T) are token ids unless ``input_dtype`` says float."""
    if x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        bad = "x" if x.dtype.kind not in "biuf" else "y"
        raise DataError(f"{source}: array {bad} holds {x.dtype if bad == 'x' else y.dtype} values; "
                        "it must be numeric.")
    if x.ndim == 0 or y.ndim == 0:
        raise DataError(f"{source}: arrays x and y must have one entry per sample (a first dimension).")
    if len(x) != len(y):
        raise DataError(f"{source}: x holds {len(x)} samples but y holds {len(y)}; they must match.")
    if len(x) < 2:
        raise DataError(f"{source} holds {len(x)} sample(s); a dataset needs at least two.")
    for which, arr in (("x", x), ("y", y)):
        if 0 in arr.shape[1:]:
            raise DataError(f"{source}: every entry of array {which} is empty (shape {arr.shape}).")
    if input_dtype is None:
        input_dtype = "long" if x.dtype.kind in "iu" and x.dtype != np.uint8 and x.ndim <= 2 else "float"
    if input_dtype == "long":
        if x.dtype.kind not in "biu":
            raise DataError(f"{source}: token ids in x must be whole numbers, got {x.dtype} values.")
        if x.min() < 0:
            raise DataError(f"{source}: token ids in x must not be negative (found {int(x.min())}).")
        x = x.astype(np.int64)
    else:
        with np.errstate(over="ignore"):  # values past float32 become inf, refused below
            x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
        if not np.isfinite(x).all():
            raise DataError(f"{source}: x holds NaN or infinite values.")
        if x.ndim == 1:
            x = x[:, None]
    if kind is None:
        kind = "image" if x.ndim == 4 else "sequence" if x.ndim == 3 or input_dtype == "long" else "table"
    if y.dtype.kind in "biu":
        y, names = class_ids(y, source, class_names)
        info = DatasetInfo(name, x.shape[1:], input_dtype, "class", y.shape[1:], names, kind, f"Loaded from {source}.")
    else:
        with np.errstate(over="ignore"):
            y = y.astype(np.float32)
        if not np.isfinite(y).all():
            raise DataError(f"{source}: y holds NaN or infinite values.")
        if y.ndim == 1:
            y = y[:, None]
        info = DatasetInfo(name, x.shape[1:], input_dtype, "value", y.shape[1:], (), kind, f"Loaded from {source}.")
    return x, y, info
