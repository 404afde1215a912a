"""Numbers a lesson's claim is judged by, computed from recorded sessions (and from plain
arrays): each function says what it measures and why that is the fair measure."""
from __future__ import annotations

import math

import numpy as np

from ..session import SessionReader


def steps_to_loss(reader: SessionReader, target: float, window: int = 20) -> float:
    """The first step at which the moving average of the last ``window`` training losses
    is below ``target``; inf if never. Averaging keeps one lucky batch from counting."""
    steps, loss = reader.scalar("train/loss")
    if len(loss) < window:
        return math.inf
    avg = np.convolve(loss, np.ones(window) / window, mode="valid")
    hit = np.flatnonzero(avg < target)
    return float(steps[hit[0] + window - 1]) if len(hit) else math.inf


def final(reader: SessionReader, name: str) -> float:
    """The last recorded value of a scalar series (NaN if there is none)."""
    _, values = reader.scalar(name)
    return float(values[-1]) if len(values) else math.nan


def first(reader: SessionReader, name: str) -> float:
    _, values = reader.scalar(name)
    return float(values[0]) if len(values) else math.nan


def mean_last(reader: SessionReader, name: str, k: int = 50) -> float:
    """Mean of the last ``k`` values: the end of a noisy training curve."""
    _, values = reader.scalar(name)
    return float(np.mean(values[-k:])) if len(values) else math.nan


def last_tensor(reader: SessionReader, name: str) -> np.ndarray:
    steps = reader.tensor_steps(name)
    if len(steps) == 0:
        raise KeyError(f"the session holds no record '{name}'")
    return reader.tensor(name, int(steps[-1]))[1].astype(np.float64)


def first_tensor(reader: SessionReader, name: str) -> np.ndarray:
    steps = reader.tensor_steps(name)
    if len(steps) == 0:
        raise KeyError(f"the session holds no record '{name}'")
    return reader.tensor(name, int(steps[0]))[1].astype(np.float64)


def failed_with_nan(reader: SessionReader) -> bool:
    return any(e.kind == "nan" for e in reader.events())


def counter_correlation(x: np.ndarray, states: np.ndarray) -> np.ndarray:
    """|Pearson r| of every unit's state with the a^n b^n counter n_a − n_b so far.

    ``x`` (N, T, 3) one-hot a, b, $; ``states`` (N, T, H). Only the a and b positions
    count: on the '$' padding the task is over and any state is fine."""
    sym = x.argmax(-1)
    counter = np.cumsum((sym == 0).astype(float) - (sym == 1).astype(float), axis=1)
    mask = sym < 2
    c, s = counter[mask], states[mask]
    out = np.zeros(s.shape[1])
    for j in range(s.shape[1]):
        if s[:, j].std() > 1e-8:
            out[j] = abs(np.corrcoef(c, s[:, j])[0, 1])
    return out


def nyquist_fraction(images: np.ndarray) -> float:
    """Checkerboard energy: the share of an image's variation (power spectrum without
    the mean) at the Nyquist frequencies — the period-2 patterns along rows, columns or
    both that a stride-2 upsampler with unevenly shared kernel taps paints. ``images``
    (N, C, H, W) with even H, W; averaged over images and channels."""
    f = np.abs(np.fft.fft2(images - images.mean(axis=(-2, -1), keepdims=True))) ** 2
    h, w = images.shape[-2:]
    nyq = f[..., h // 2, :].sum(-1) + f[..., :, w // 2].sum(-1) - f[..., h // 2, w // 2]
    total = f.sum(axis=(-2, -1))
    return float(np.mean(nyq / np.maximum(total, 1e-12)))


def filter_smoothness(filters: np.ndarray) -> float:
    """Mean correlation of each kernel's neighbouring weights (horizontal and vertical),
    per kernel after removing its mean: about 0 for random weights, high for edge and
    blob detectors, whose weights change gradually across the kernel."""
    w = filters.reshape(-1, *filters.shape[-2:])
    w = w - w.mean(axis=(-2, -1), keepdims=True)
    vals = []
    for a, b in ((w[:, :, :-1], w[:, :, 1:]), (w[:, :-1, :], w[:, 1:, :])):
        num = (a * b).sum(axis=(-2, -1))
        den = np.sqrt((a * a).sum(axis=(-2, -1)) * (b * b).sum(axis=(-2, -1)))
        vals.append(num / np.maximum(den, 1e-12))
    return float(np.mean(vals))


def class_selectivity(maps: np.ndarray, labels: np.ndarray) -> float:
    """Mean class selectivity of a layer's channels on the probe batch: per channel, the
    spatial mean response is averaged per class, and (best class − mean of the others) /
    (best + others) is taken (0: responds to every class alike; 1: to one class only).
    ``maps`` (N, C, H, W) after a ReLU, ``labels`` (N,)."""
    resp = np.maximum(maps, 0).mean(axis=(-2, -1))
    classes = np.unique(labels)
    per_class = np.stack([resp[labels == k].mean(axis=0) for k in classes])  # (K, C)
    best = per_class.max(axis=0)
    others = (per_class.sum(axis=0) - best) / max(len(classes) - 1, 1)
    alive = best > 1e-8
    sel = (best - others) / np.maximum(best + others, 1e-12)
    return float(sel[alive].mean()) if alive.any() else 0.0


def flips_near_zero(latent_before: np.ndarray, sign_before: np.ndarray, sign_after: np.ndarray,
                    quantile: float = 0.25) -> float:
    """Of the binary weights whose sign changed between two captures, the fraction whose
    latent weight was, at the first, among the ``quantile`` of the layer's weights closest
    to zero (|W| at or below that quantile). Weights flip when an update carries them across
    zero, so a latent weight's distance from zero is its inertia: if flips fell evenly on all
    weights this would be ``quantile``. NaN if nothing flipped."""
    flipped = np.asarray(sign_before) != np.asarray(sign_after)
    if not flipped.any():
        return math.nan
    size = np.abs(np.asarray(latent_before, dtype=np.float64))
    return float(np.mean(size[flipped] <= np.quantile(size, quantile)))
