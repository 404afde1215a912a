"""Does a dataset fit a graph? One sentence naming both sides when it does not."""
from __future__ import annotations

import math

from .base import DataError, DatasetInfo


def _shape(shape) -> str:
    return str(tuple(int(d) for d in shape))


def _dtype_name(dtype) -> str:
    text = str(dtype)
    return "long" if ("long" in text or "int" in text) else "float"


def check_compatible(info: DatasetInfo, input_shape, input_dtype, out_shape, loss_target_kind: str,
                     input_id: str = "input") -> None:
    """Raise DataError if samples of ``info`` cannot feed the Input node ``input_id`` (shape,
    dtype) or its targets cannot score the prediction of shape ``out_shape`` under a loss
    wanting ``loss_target_kind`` ("class" or "value"). Shapes exclude the batch dim;
    ``input_dtype`` may be "float"/"long" or a torch dtype."""
    ds = f"Dataset '{info.name}'"
    if tuple(input_shape) != tuple(info.input_shape):
        raise DataError(f"{ds} gives samples of shape {_shape(info.input_shape)} but the Input node "
                        f"'{input_id}' expects {_shape(input_shape)}.")
    want = _dtype_name(input_dtype)
    if want != info.input_dtype:
        if info.input_dtype == "long":
            raise DataError(f"{ds} gives token ids (long) but the Input node '{input_id}' expects float "
                            "values; set its dtype to long and feed it to an Embedding.")
        raise DataError(f"{ds} gives float values but the Input node '{input_id}' expects token ids "
                        "(long); set its dtype to float.")
    out = tuple(int(d) for d in out_shape)
    target = tuple(info.target_shape)
    if loss_target_kind == "class":
        if info.target_kind != "class":
            raise DataError(f"{ds} gives value targets of shape {_shape(target)} but the loss expects "
                            "class ids; use a regression loss such as MSE.")
        per_step = f"one class id per step, shape {_shape(target)}" if target else "one class id per sample"
        if out[:-1] != target or not out:
            expected = "(" + ", ".join([*map(str, target), str(info.num_classes or "classes")]) + ")"
            raise DataError(f"{ds} gives {per_step}, but the output feeding the loss has shape "
                            f"{_shape(out)}; expected {expected}.")
        if info.num_classes and out[-1] != info.num_classes:
            raise DataError(f"{ds} has {info.num_classes} classes but the output feeding the loss has "
                            f"{out[-1]} (the last dimension of {_shape(out)}).")
        return
    if info.target_kind == "class":
        # Binary cross-entropy scores one logit against a 0/1 class id: that fits.
        if info.num_classes <= 2 and math.prod(out) == math.prod(target):
            return
        raise DataError(f"{ds} gives class ids but the loss expects values; use CrossEntropy "
                        "for classes.")
    if math.prod(out) != math.prod(target):
        raise DataError(f"{ds} gives targets of shape {_shape(target)} but the output feeding the loss "
                        f"has shape {_shape(out)}.")
