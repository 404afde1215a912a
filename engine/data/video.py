"""Bouncing shapes: short clips for next-frame prediction (ConvLSTM, Shi et al. 2015)."""
from __future__ import annotations

import numpy as np

from .base import DatasetInfo


def _bounce(start: np.ndarray, velocity: np.ndarray, lo: np.ndarray, hi: np.ndarray, t: np.ndarray):
    """Positions of points moving at constant speed between reflecting walls, in closed form:
    unfold the motion onto a line of period 2L and fold it back."""
    span = np.maximum(hi - lo, 1e-6)
    q = np.mod(start - lo + velocity * t, 2 * span)
    return lo + span - np.abs(q - span)


def bouncing_shapes(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, frames, size = params["samples"], params["frames"], params["size"]
    k = 2  # up to two objects; the second is present in about half the clips
    radius = rng.uniform(0.12, 0.2, (n, k, 1)) * size
    present = np.ones((n, k, 1), dtype=bool)
    present[:, 1, 0] = rng.random(n) < 0.5
    square = rng.random((n, k, 1)) < 0.5
    lo, hi = radius, size - radius
    start = rng.uniform(0, 1, (n, k, 2)) * (hi - lo) + lo
    speed = rng.uniform(0.06, 0.12, (n, k, 1)) * size
    angle = rng.uniform(0, 2 * np.pi, (n, k, 1))
    velocity = speed * np.concatenate([np.cos(angle), np.sin(angle)], axis=2)
    t = np.arange(frames + 1).reshape(1, -1, 1, 1)
    pos = _bounce(start[:, None], velocity[:, None], lo[:, None], hi[:, None], t)  # (n, T+1, k, 2)
    centre = np.arange(size) + 0.5
    dx = np.abs(centre[None, None, None, None, :] - pos[..., 0, None, None])     # (n, T+1, k, 1, W)
    dy = np.abs(centre[None, None, None, :, None] - pos[..., 1, None, None])     # (n, T+1, k, H, 1)
    r = radius[:, None, :, :, None]
    dist = np.where(square[:, None, :, :, None], np.maximum(dx, dy), np.sqrt(dx * dx + dy * dy)) - r
    ink = np.clip(0.5 - dist, 0, 1) * present[:, None, :, :, None]
    video = ink.max(axis=2).astype(np.float32)[:, :, None]                       # (n, T+1, 1, H, W)
    info = DatasetInfo("bouncing_shapes", (frames, 1, size, size), "float", "value", (1, size, size), (),
                       "video", f"{frames} frames of one or two shapes bouncing in a {size}x{size} box; "
                       "predict the next frame (values in [0, 1]).")
    return video[:, :frames], np.ascontiguousarray(video[:, frames]), info
