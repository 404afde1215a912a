"""Small helpers shared by the oracles: float64 conversion with shape checks, and the
logistic function. Nothing here knows about any layer."""
from __future__ import annotations

import numpy as np


def f64(name: str, a, ndim: int | None = None, shape: tuple | None = None) -> np.ndarray:
    """``a`` as a float64 array, or ValueError naming ``name`` if its rank or shape is off.

    ``shape`` may hold None for a dimension that is not checked.
    """
    arr = np.asarray(a, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {arr.shape}")
    if shape is not None:
        want = tuple(shape)
        ok = arr.ndim == len(want) and all(w is None or w == s for w, s in zip(want, arr.shape))
        if not ok:
            shown = tuple("?" if w is None else w for w in want)
            raise ValueError(f"{name} must have shape {shown}; got {arr.shape}")
    return arr


def optional(name: str, a, shape: tuple) -> np.ndarray:
    """``a`` checked like :func:`f64`, or zeros of ``shape`` when ``a`` is None."""
    return np.zeros(shape) if a is None else f64(name, a, shape=shape)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)), evaluated without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def recurrent_args(x, W_ih, W_hh, b_ih, b_hh, n_blocks: int, h0=None, c0=None):
    """Checked float64 (x, W_ih, W_hh, b_ih, b_hh, h0, c0, H) of a gate-stacked layer.

    x is (N, T, F); W_ih (n_blocks·H, F), W_hh (n_blocks·H, H); biases (n_blocks·H,) or
    None (zeros); h0, c0 (N, H) or None (zeros).
    """
    x = f64("x", x, ndim=3)
    n, _, feat = x.shape
    W_hh = f64("W_hh", W_hh, ndim=2)
    hd = W_hh.shape[1]
    rows = n_blocks * hd
    W_hh = f64("W_hh", W_hh, shape=(rows, hd))
    W_ih = f64("W_ih", W_ih, shape=(rows, feat))
    return (x, W_ih, W_hh, optional("b_ih", b_ih, (rows,)), optional("b_hh", b_hh, (rows,)),
            optional("h0", h0, (n, hd)), optional("c0", c0, (n, hd)), hd)


def blocks(z: np.ndarray, names: str) -> dict[str, np.ndarray]:
    """Split the last axis of z into equal blocks named by the letters of ``names``:
    blocks(z, "ifgo") reads the rows of a torch LSTM weight in torch's order."""
    parts = np.split(z, len(names), axis=-1)
    return dict(zip(names, parts))
