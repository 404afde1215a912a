"""One entry point: a dataset reference in, a split and normalised ArrayDataset out."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .arrays import BLOCK_VALUES
from .augment import check_augment_options
from .base import ArrayDataset, DataError, DatasetInfo
from .files import load_file
from .paths import DataAccess
from .registry import generate

# Kinds whose float inputs are standardised; one-hot/ids sequences, text and [0, 1] video
# carry meaning in their raw values.
NORMALISED_KINDS = ("points2d", "curve1d", "image", "table")


def load_dataset(ref: dict, seed: int = 0, val_fraction: float = 0.2,
                 base_dir: str | Path | DataAccess | None = None) -> ArrayDataset:
    """Load ``{"name": builtin, "params": {...}}`` or ``{"path": file, "format": ..., ...}``.

    The split into training and validation samples is a permutation drawn from ``seed``;
    float inputs are normalised with the training split's mean and std (per channel for
    images, per feature for tables) unless the reference says ``"normalise": false``.
    ``base_dir`` is the document's folder, or a DataAccess that also names the folders the
    user allowed: relative paths start at the document's folder, and a path outside every
    allowed folder is refused (paths.py).
    """
    if not isinstance(ref, dict) or not (isinstance(ref.get("name"), str) or isinstance(ref.get("path"), str)):
        raise DataError('The dataset reference names no dataset: expected {"name": ...} or {"path": ...}.')
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise DataError(f"The validation fraction must be at least 0 and below 1, got {val_fraction!r}.")
    normalise = ref.get("normalise", True)
    if not isinstance(normalise, bool):
        raise DataError(f"The dataset option normalise must be true or false, got {str(normalise)[:20]!r}.")
    if "name" in ref and "path" not in ref:
        extra = set(ref) - {"name", "params", "augment", "normalise"}
        if extra:
            raise DataError(f"The reference to dataset '{ref['name']}' has an unknown entry "
                            f"'{sorted(extra)[0]}'; it takes name, params, augment and normalise.")
        x, y, info = generate(ref["name"], ref.get("params"), seed)
    else:
        x, y, info = load_file(ref, DataAccess.of(base_dir))
    augment = check_augment_options(ref.get("augment"), info)
    x_train, y_train, x_val, y_val = split(x, y, seed, val_fraction, info)
    del x, y  # the split holds copies: the whole set is not kept beside them
    mean = std = None
    if normalise and normalises(info):
        x_train, x_val = (part.astype(np.float32, copy=False) for part in (x_train, x_val))
        mean, std = training_stats(x_train, info)
        for part in (x_train, x_val):  # in place: float32 (normalises), and the split's own copies
            part -= mean
            part /= std
    return ArrayDataset(info, x_train, y_train, x_val, y_val, mean, std, augment)


def normalises(info: DatasetInfo) -> bool:
    """Whether loading standardises these inputs (unless the reference says "normalise": false)."""
    return info.input_dtype == "float" and info.kind in NORMALISED_KINDS


def split(x: np.ndarray, y: np.ndarray, seed: int, val_fraction: float, info: DatasetInfo):
    n = len(x)
    if n < 2:
        raise DataError(f"Dataset '{info.name}' has {n} sample(s); it needs at least two.")
    n_val = validation_size(n, val_fraction)
    # A stream of its own, so the split does not shift when a generator draws more numbers.
    order = np.random.default_rng([int(seed), 0x5EED]).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def validation_size(n: int, val_fraction: float) -> int:
    """How many of ``n`` samples the split holds out: at least one when the fraction is not 0."""
    n_val = min(n - 1, int(round(n * val_fraction)))
    return max(n_val, 1) if val_fraction > 0 else n_val


def training_stats(x_train: np.ndarray, info: DatasetInfo) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std shaped to broadcast against one sample: (C, 1, 1) for images, one per
    feature (the last axis) otherwise. A constant channel gets std 1 (left unscaled).
    Two passes over blocks of samples in float64: numpy's std makes a float64 copy of the
    whole set (twice the size of the float32 inputs)."""
    if info.kind == "image":
        axes = (0, *range(2, x_train.ndim))
        shape = (-1, *([1] * (x_train.ndim - 2)))
    else:
        axes = tuple(range(x_train.ndim - 1))
        shape = (-1,)
    count = x_train.size // math.prod(x_train.shape[a] for a in range(x_train.ndim) if a not in axes)
    rows = max(1, BLOCK_VALUES // max(1, math.prod(x_train.shape[1:])))
    blocks = [x_train[i:i + rows] for i in range(0, len(x_train), rows)]
    mean = (sum(b.sum(axis=axes, dtype=np.float64) for b in blocks) / count).reshape(shape)
    std = np.sqrt(sum(np.square(b - mean).sum(axis=axes) for b in blocks) / count).reshape(shape)
    std = np.where(std < 1e-8, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)
