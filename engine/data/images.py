"""Procedurally drawn image datasets: geometric shapes and hand-written-like digits.

Each class is a line drawing (segments in a unit box, y down); each sample draws it with
its own position, scale, rotation, stroke width and pixel noise, all from the seed.
"""
from __future__ import annotations

import numpy as np

from .base import DatasetInfo
from .raster import arc, polyline_segments, render_segments, rotation_scale, transform


def _segments(*polylines) -> np.ndarray:
    return np.concatenate([polyline_segments(p) for p in polylines])


SHAPES = {
    "circle": _segments(arc(0, 0, 1, 1, 0, 360, 24)),
    "square": _segments([(-.85, -.85), (.85, -.85), (.85, .85), (-.85, .85), (-.85, -.85)]),
    "triangle": _segments(arc(0, .15, 1, 1, 90, 450, 3)),
    "cross": _segments([(-1, 0), (1, 0)], [(0, -1), (0, 1)]),
    "horizontal line": _segments([(-1, 0), (1, 0)]),
    "vertical line": _segments([(0, -1), (0, 1)]),
    "diagonal line": _segments([(-.8, .8), (.8, -.8)]),
    "arch": _segments(arc(0, .45, 1, 1, 0, 180, 12)),
}

# Digit stroke templates in a box x in [-0.6, 0.6], y in [-1, 1] (y down).
DIGITS = [
    _segments(arc(0, 0, .55, .9, 0, 360, 16)),
    _segments([(-.3, -.6), (0, -.92), (0, .92)]),
    _segments(np.concatenate([arc(0, -.4, .52, .5, 160, -30, 8), [(-.6, .9), (.62, .9)]])),
    _segments(arc(0, -.47, .48, .43, 150, -90, 8), arc(0, .45, .55, .45, 90, -150, 8)),
    _segments([(.3, .92), (.3, -.92), (-.6, .35), (.65, .35)]),
    _segments(np.concatenate([[(.55, -.9), (-.42, -.9), (-.48, -.08)], arc(0, .35, .55, .55, 130, -140, 10)])),
    _segments(arc(.15, .1, .65, .95, 70, 190, 6), arc(0, .45, .5, .45, 0, 360, 12)),
    _segments([(-.6, -.9), (.6, -.9), (-.12, .92)]),
    _segments(arc(0, -.47, .42, .42, 0, 360, 12), arc(0, .45, .52, .47, 0, 360, 12)),
    _segments(arc(0, -.4, .5, .48, 0, 360, 12), [(.5, -.4), (.35, .92)]),
]


def _class_ids(rng, n: int, classes: int) -> np.ndarray:
    # Balanced classes in random order: accuracy baselines are then exactly 1/classes.
    return rng.permutation(np.arange(n) % classes)


def _draw(rng, templates, y, size, jitter_fn, max_rotation_deg, scale_range, stretch=0.0, shear=0.0):
    """Ink (n, size, size) for class ids y drawn from the segment templates."""
    n = len(y)
    ink = np.zeros((n, size, size), dtype=np.float32)
    angle = np.radians(rng.uniform(-max_rotation_deg, max_rotation_deg, n))
    scale = rng.uniform(*scale_range, n) * size
    aspect = np.exp(rng.uniform(-stretch, stretch, n))
    skew = rng.uniform(-shear, shear, n)
    width = rng.uniform(1.2, 2.8, n) * size / 28
    margin = size / 2 - scale * 1.05 - width
    shift = rng.uniform(-1, 1, (n, 2)) * np.maximum(margin, 0)[:, None]
    mats = rotation_scale(angle, scale * aspect, scale / aspect, skew)
    for k, segs in enumerate(templates):
        idx = np.flatnonzero(y == k)
        if len(idx) == 0:
            continue
        local = jitter_fn(segs, len(idx)) if jitter_fn else segs
        pix = transform(local, mats[idx], size / 2 + shift[idx])
        ink[idx] = render_segments(pix, width[idx], size, size)
    return ink


def _finish(rng, img: np.ndarray, noise: float) -> np.ndarray:
    if noise > 0:
        img = img + np.float32(noise) * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def _targets(params, x, y, name, names, description, kind="image"):
    if params.get("target") == "input":
        return x, x.copy(), DatasetInfo(name, x.shape[1:], "float", "value", x.shape[1:], (), kind,
                                        description + " Target: the image itself (autoencoder).")
    return x, y.astype(np.int64), DatasetInfo(name, x.shape[1:], "float", "class", (), names, kind,
                                              description)


def shapes(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    names = tuple(SHAPES)
    y = _class_ids(rng, params["samples"], len(names))
    ink = _draw(rng, list(SHAPES.values()), y, 28, None, params["rotation"], (0.22, 0.4))
    x = _finish(rng, ink * rng.uniform(0.7, 1.0, (len(y), 1, 1)), params["noise"])[:, None]
    return _targets(params, x, y, "shapes", names, "White line drawings of shapes on black, 28x28.")


def shapes_color(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    names = tuple(SHAPES)
    n = params["samples"]
    y = _class_ids(rng, n, len(names))
    ink = _draw(rng, list(SHAPES.values()), y, 32, None, params["rotation"], (0.22, 0.4))[:, None]
    # Bright strokes on a darker background, both of random hue: colour carries no class.
    fg = rng.uniform(0.45, 1.0, (n, 3, 1, 1)).astype(np.float32)
    bg = rng.uniform(0.0, 0.35, (n, 3, 1, 1)).astype(np.float32)
    x = _finish(rng, bg + (fg - bg) * ink, params["noise"])
    return _targets(params, x, y, "shapes_color", names, "Shapes in random colours on random backgrounds, 32x32 RGB.")


def digits(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    names = tuple(str(d) for d in range(10))
    y = _class_ids(rng, params["samples"], 10)
    strength = params["jitter"]

    def wobble(segs: np.ndarray, n: int) -> np.ndarray:
        # A smooth random warp per sample keeps strokes connected, unlike per-vertex noise.
        amp = rng.uniform(0, 0.08 * strength, (n, 2, 1, 1))
        freq = rng.uniform(1.0, 3.0, (n, 2, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, (n, 2, 1, 1))
        p = np.broadcast_to(segs, (n, *segs.shape)).copy()
        dx = amp[:, 0] * np.sin(freq[:, 0] * p[..., 1] + phase[:, 0])
        dy = amp[:, 1] * np.sin(freq[:, 1] * p[..., 0] + phase[:, 1])
        p[..., 0] += dx
        p[..., 1] += dy
        return p

    ink = _draw(rng, DIGITS, y, 28, wobble, 12 * strength, (0.3, 0.38),
                stretch=0.15 * strength, shear=0.25 * strength)
    x = _finish(rng, ink, params["noise"])[:, None]
    return _targets(params, x, y, "digits", names, "Digits 0-9 drawn from stroke templates with jitter, 28x28.")
