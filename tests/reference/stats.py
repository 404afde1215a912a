"""Oracle: the activation, weight and gradient statistics the app shows, from their
textbook definitions, in float64. Every function takes array-likes and returns Python
floats (or an int64 array for histogram counts).

    mean(x)          = (1/n) Σ x_k
    std(x)           = sqrt((1/n) Σ (x_k − mean)²)          population std (ddof = 0)
    histogram(x, e)  : count of e_j ≤ x < e_{j+1}; the last bin also holds x = e_last
                       (numpy's rule); values outside [e_0, e_last] and NaN are not counted
    dead_relu_fraction(y, unit_axis=1)
                     : fraction of units whose output is 0 for every value of the batch;
                       a unit is one index along ``unit_axis`` (a feature of (N, F), a
                       channel of (N, C, H, W)) and all its values over the other axes
                       (samples, pixels, steps) must be exactly 0
    saturated_fraction(y, low=0.01, high=0.99)
                     : fraction of values (over all samples and units) with y < low or
                       y > high — the sigmoid's flat tails
    tanh_saturated_fraction(y, threshold=0.99)
                     : fraction of values with |y| > threshold
    l2_norm(a)       = sqrt(Σ a_k²)                          (Frobenius for matrices)
    update_ratio(w_before, w_after) = ‖w_after − w_before‖ / ‖w_before‖
                       (the norm of one step's update relative to the weight before it;
                       ‖w_before‖ = 0 gives inf, or nan when the update is 0 too)
    global_grad_norm(grads) = sqrt(Σ_tensors Σ_k g_k²)       (torch's clip_grad_norm_ total)
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ._common import f64


def _flat(name: str, x) -> np.ndarray:
    arr = f64(name, x).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty; its statistics are undefined")
    return arr


def mean(x) -> float:
    v = _flat("x", x)
    return float(v.sum() / v.size)


def std(x) -> float:
    v = _flat("x", x)
    m = v.sum() / v.size
    return float(math.sqrt(((v - m) ** 2).sum() / v.size))


def histogram(x, edges) -> np.ndarray:
    """Counts (len(edges) − 1,) as int64."""
    v = f64("x", x).ravel()
    e = f64("edges", edges, ndim=1)
    if e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"histogram edges must be at least 2 strictly increasing values; "
                         f"got {e.tolist()}")
    counts = np.empty(e.size - 1, dtype=np.int64)
    for j in range(e.size - 1):
        last = j == e.size - 2
        upper = v <= e[j + 1] if last else v < e[j + 1]
        counts[j] = int(np.count_nonzero((v >= e[j]) & upper))
    return counts


def dead_relu_fraction(y, unit_axis: int = 1) -> float:
    a = f64("y", y)
    if a.ndim < 2:
        raise ValueError(f"dead-unit counting needs a batch axis and a unit axis; got shape "
                         f"{a.shape}")
    units = np.moveaxis(a, unit_axis, 0).reshape(a.shape[unit_axis], -1)
    dead = [bool(np.all(u == 0.0)) for u in units]
    return sum(dead) / len(dead)


def saturated_fraction(y, low: float = 0.01, high: float = 0.99) -> float:
    v = _flat("y", y)
    return int(np.count_nonzero((v < low) | (v > high))) / v.size


def tanh_saturated_fraction(y, threshold: float = 0.99) -> float:
    v = _flat("y", y)
    return int(np.count_nonzero(np.abs(v) > threshold)) / v.size


def l2_norm(a) -> float:
    v = f64("a", a).ravel()
    return float(math.sqrt((v * v).sum()))


def update_ratio(w_before, w_after) -> float:
    before = f64("w_before", w_before)
    after = f64("w_after", w_after, shape=before.shape)
    num, den = l2_norm(after - before), l2_norm(before)
    if den == 0.0:
        return math.nan if num == 0.0 else math.inf
    return num / den


def global_grad_norm(grads: Iterable) -> float:
    total = 0.0
    for k, g in enumerate(grads):
        v = f64(f"gradient {k}", g).ravel()
        total += float((v * v).sum())
    return math.sqrt(total)
