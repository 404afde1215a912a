"""Optimizer state (a nested dict of arrays and numbers) <-> a JSON tree plus arrays.

torch's optimizer state dict has int keys (parameter indices) and 0-d tensors, so plain
JSON would lose both: a dict whose keys are not all plain strings becomes
``{"$items": [[key, value], ...]}`` and every array becomes ``{"$tensor": "<n>"}``, a
reference to the n-th stored array.
"""
from __future__ import annotations

import numpy as np

from .errors import SessionError

_KEY_TYPES = (str, int, float, bool, type(None))


def flatten(tree, arrays: list) -> object:
    """A JSON-able copy of ``tree``; arrays are appended to ``arrays``."""
    if isinstance(tree, np.ndarray):
        arrays.append(tree)
        return {"$tensor": str(len(arrays) - 1)}
    if isinstance(tree, np.generic):
        return tree.item()
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, (list, tuple)):
        return [flatten(v, arrays) for v in tree]
    if isinstance(tree, dict):
        if all(type(k) is str and not k.startswith("$") for k in tree):
            return {k: flatten(v, arrays) for k, v in tree.items()}
        bad = [k for k in tree if not isinstance(k, _KEY_TYPES)]
        if bad:
            raise SessionError(f"optimizer state has a key of type {type(bad[0]).__name__}, "
                               f"which a session cannot store.")
        return {"$items": [[k, flatten(v, arrays)] for k, v in tree.items()]}
    raise SessionError(f"optimizer state holds a {type(tree).__name__}, which a session "
                       f"cannot store (use numpy arrays, numbers, strings, lists and dicts).")


def unflatten(node, arrays: dict, label: str):
    """Inverse of :func:`flatten`; ``arrays`` maps the stored names to arrays."""
    if isinstance(node, list):
        return [unflatten(v, arrays, label) for v in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"$tensor"}:
        try:
            return arrays[node["$tensor"]]
        except (KeyError, TypeError):
            raise SessionError(f"{label} refers to a missing array "
                               f"{str(node['$tensor'])[:40]!r}.") from None
    if set(node) == {"$items"}:
        items = node["$items"]
        if not isinstance(items, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], _KEY_TYPES) for p in items):
            raise SessionError(f"{label} has a malformed '$items' entry.")
        return {k: unflatten(v, arrays, label) for k, v in items}
    return {k: unflatten(v, arrays, label) for k, v in node.items()}
