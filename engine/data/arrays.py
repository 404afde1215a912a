"""Turning a user's x and y arrays into a dataset: dtypes, kinds and target kinds, checked."""
from __future__ import annotations

import math

import numpy as np

from .base import DataError, DatasetInfo

BLOCK_VALUES = 1 << 20  # values converted at a time: a conversion's temporaries stay this small


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
        x = to_float32(x, 255.0 if x.dtype == np.uint8 else 1.0, f"{source}: x")
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


def to_float32(x: np.ndarray, scale: float, what: str) -> np.ndarray:
    """``x / scale`` as float32, every value checked finite (values past float32's range
    become inf and are refused). Converted a block of samples at a time into one new array:
    the peak is the source plus the result, where astype, divide and isfinite each made a
    full-size temporary (a 250 KB gzip'd IDX once peaked at 2.6 GB). float32 input with no
    scale is checked in place and returned as it is."""
    same = x.dtype == np.float32 and scale == 1.0
    out = x if same else np.empty(x.shape, np.float32)
    rows = max(1, BLOCK_VALUES // max(1, math.prod(x.shape[1:])))
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(0, len(x), rows):
            block = out[i:i + rows]
            if not same:
                block[...] = x[i:i + rows]
                if scale != 1.0:
                    block /= np.float32(scale)
            if not np.isfinite(block).all():
                raise DataError(f"{what} holds NaN or infinite values.")
    return out
