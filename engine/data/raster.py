"""Anti-aliased rasterising of line drawings with numpy, many samples at once.

Every drawing is a set of line segments in pixel coordinates (x right, y down, pixel
centres at +0.5). A pixel's ink is its distance to the nearest segment turned into
coverage over a one-pixel ramp: cheap analytic anti-aliasing without supersampling.
"""
from __future__ import annotations

import numpy as np

# Samples x pixels per chunk: temporaries of ~200 kB stay in the CPU cache.
_CHUNK_ELEMENTS = 50_000


def polyline_segments(points) -> np.ndarray:
    """(P, 2) vertices -> (P-1, 2, 2) segments joining consecutive vertices."""
    p = np.asarray(points, dtype=np.float32)
    return np.stack([p[:-1], p[1:]], axis=1)


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 12) -> np.ndarray:
    """Vertices of an elliptic arc from angle a0 to a1 (degrees, counter-clockwise as seen on
    screen, 90 = up) in y-down coordinates."""
    a = np.radians(np.linspace(a0, a1, n + 1))
    return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], axis=1).astype(np.float32)


def transform(segments: np.ndarray, matrices: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply one affine map per sample: segments (S, 2, 2) or (n, S, 2, 2), matrices (n, 2, 2),
    offsets (n, 2) -> (n, S, 2, 2)."""
    if segments.ndim == 3:
        segments = np.broadcast_to(segments, (len(matrices), *segments.shape))
    return np.einsum("nij,nskj->nski", matrices, segments) + offsets[:, None, None, :]


def rotation_scale(angle: np.ndarray, sx: np.ndarray, sy: np.ndarray | None = None,
                   shear: np.ndarray | None = None) -> np.ndarray:
    """(n, 2, 2) matrices R(angle) @ Shear @ diag(sx, sy); angles in radians."""
    sy = sx if sy is None else sy
    shear = np.zeros_like(angle) if shear is None else shear
    c, s = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    sh = np.zeros((len(angle), 2, 2))
    sh[:, 0, 0] = sx
    sh[:, 0, 1] = shear * sy
    sh[:, 1, 1] = sy
    return rot @ sh


def render_segments(segments: np.ndarray, width: np.ndarray, height: int, width_px: int) -> np.ndarray:
    """Ink coverage in [0, 1], shape (n, height, width_px), of strokes of the given widths
    (n,) along segments (n, S, 2, 2) given in pixel coordinates."""
    n, s = segments.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width_px].astype(np.float32) + 0.5
    px, py = xs.ravel()[None], ys.ravel()[None]                  # (1, HW)
    out = np.empty((n, height * width_px), dtype=np.float32)
    seg = segments.astype(np.float32)
    step = max(1, _CHUNK_ELEMENTS // (height * width_px))
    for lo in range(0, n, step):
        part = seg[lo:lo + step]
        best = np.full((len(part), px.shape[1]), np.inf, dtype=np.float32)
        # One segment at a time over all samples of the chunk: small temporaries that stay
        # in cache, and x/y kept apart (numpy reduces a trailing axis of 2 slowly).
        for k in range(s):
            ax, ay = part[:, k, 0, 0:1], part[:, k, 0, 1:2]
            abx, aby = part[:, k, 1, 0:1] - ax, part[:, k, 1, 1:2] - ay
            inv = 1.0 / np.maximum(abx * abx + aby * aby, 1e-12)
            apx, apy = px - ax, py - ay
            t = np.clip((apx * abx + apy * aby) * inv, 0.0, 1.0)
            apx -= t * abx
            apy -= t * aby
            np.minimum(best, apx * apx + apy * apy, out=best)
        half = width[lo:lo + step, None].astype(np.float32) / 2
        out[lo:lo + step] = np.clip(half + 0.5 - np.sqrt(best), 0.0, 1.0)
    return out.reshape(n, height, width_px)
