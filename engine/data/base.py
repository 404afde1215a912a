"""The contract every dataset meets, built-in or loaded from the user's files."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DataError(Exception):
    """Bad data: ``str(err)`` is one sentence naming the file or dataset and the problem."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    input_shape: tuple[int, ...]      # one sample, without the batch dim
    input_dtype: str                  # "float" or "long" (token ids)
    target_kind: str                  # "class" (integer ids) or "value" (float tensors)
    target_shape: tuple[int, ...]     # one target: () a class id, (T,) per-step ids, (k,) values...
    class_names: tuple[str, ...] = () # class names, or the symbol alphabet of a sequence task
    kind: str = "table"               # what views can show: "points2d", "curve1d", "image",
                                      # "sequence", "text", "video", "table"
    description: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class ArrayDataset:
    """Samples held in memory as numpy arrays: x float32 (or int64 ids), y int64 class ids
    or float32 values. Normalisation (from the training split) is already applied."""
    info: DatasetInfo
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    mean: np.ndarray | None = None    # normalisation applied (per channel/feature), if any
    std: np.ndarray | None = None
    augment: dict = field(default_factory=dict)  # {"flip": bool, "crop": int pad, "jitter": float}
