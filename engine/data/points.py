"""Small 2-D classification sets in the style of TensorFlow Playground, and 1-D curves."""
from __future__ import annotations

import numpy as np

from .base import DatasetInfo


def _balanced(rng, n: int, classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % classes)


def _points(name: str, x: np.ndarray, y: np.ndarray, classes: int, description: str):
    names = tuple(str(k) for k in range(classes))
    info = DatasetInfo(name, (2,), "float", "class", (), names, "points2d", description)
    return x.astype(np.float32), y.astype(np.int64), info


def spiral(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, c = params["samples"], params["classes"]
    y = _balanced(rng, n, c)
    t = rng.uniform(0.05, 1.0, n)
    angle = 3.5 * np.pi * t + 2 * np.pi * y / c
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], 1) + rng.normal(0, params["noise"], (n, 2)) * t[:, None]
    return _points("spiral", x, y, c, f"{c} interleaved spiral arms.")


def xor(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n = params["samples"]
    x = rng.uniform(-1, 1, (n, 2))
    # Keep points off the axes (as the Playground does), so the label is clear before noise.
    x += np.sign(x) * 0.05
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64)
    x += rng.normal(0, params["noise"], (n, 2))
    return _points("xor", x, y, 2, "Class 1 where the two coordinates have different signs.")


def circles(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, c = params["samples"], params["classes"]
    y = _balanced(rng, n, c)
    r = (y + 0.7 * rng.uniform(0, 1, n)) / c
    a = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(a), r * np.sin(a)], 1) + rng.normal(0, params["noise"], (n, 2))
    return _points("circles", x, y, c, f"A disc inside {c - 1} concentric ring(s).")


def moons(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n = params["samples"]
    y = _balanced(rng, n, 2)
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    x = np.where(y[:, None] == 0, upper, lower) - [0.5, 0.25]
    x += rng.normal(0, params["noise"], (n, 2))
    return _points("moons", x, y, 2, "Two interleaved half circles.")


def blobs(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, c = params["samples"], params["classes"]
    y = _balanced(rng, n, c)
    turn = rng.uniform(0, 2 * np.pi)
    centres = 0.7 * np.stack([np.cos(turn + 2 * np.pi * np.arange(c) / c),
                              np.sin(turn + 2 * np.pi * np.arange(c) / c)], 1)
    x = centres[y] + rng.normal(0, params["noise"], (n, 2))
    return _points("blobs", x, y, c, f"{c} Gaussian clusters around a circle.")


def _curve(name: str, x: np.ndarray, y: np.ndarray, description: str):
    info = DatasetInfo(name, (1,), "float", "value", (1,), (), "curve1d", description)
    return x[:, None].astype(np.float32), y[:, None].astype(np.float32), info


def sine(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, f = params["samples"], params["frequency"]
    x = rng.uniform(-1, 1, n)
    y = np.sin(np.pi * f * x) + rng.normal(0, params["noise"], n)
    return _curve("sine", x, y, f"y = sin(pi * {f:g} * x) + noise on x in [-1, 1].")


def polynomial(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, degree = params["samples"], params["degree"]
    coeffs = rng.normal(0, 1, degree + 1)
    x = rng.uniform(-1, 1, n)
    y = np.polynomial.polynomial.polyval(x, coeffs)
    y = y + rng.normal(0, params["noise"], n)
    return _curve("polynomial", x, y, f"A random polynomial of degree {degree} (coefficients from the seed) "
                  "plus noise on x in [-1, 1].")
