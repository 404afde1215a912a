"""Sequence tasks from the recurrent-network literature, generated with numpy."""
from __future__ import annotations

import numpy as np

from .base import DatasetInfo


def _encode(ids: np.ndarray, vocab: int, encoding: str) -> tuple[np.ndarray, str, tuple[int, ...]]:
    """Token ids (n, T) as one-hot floats (n, T, V) or as they are (long)."""
    if encoding == "ids":
        return ids.astype(np.int64), "long", ids.shape[1:]
    x = np.eye(vocab, dtype=np.float32)[ids]
    return x, "float", x.shape[1:]


def _counting(name: str, letters: str, params: dict, seed: int):
    """a^n b^n (c^n) then "$" padding; the target is the next symbol at every step."""
    rng = np.random.default_rng(seed)
    samples, max_n, k = params["samples"], params["max_n"], len(letters)
    alphabet = (*letters, "$")
    end = k
    length = k * max_n + 2
    n = rng.integers(1, max_n + 1, samples)
    pos = np.arange(length)[None]
    ids = np.full((samples, length), end, dtype=np.int64)
    for j in range(k):  # letter j fills positions [j*n, (j+1)*n)
        ids[(pos >= j * n[:, None]) & (pos < (j + 1) * n[:, None])] = j
    y = np.concatenate([ids[:, 1:], np.full((samples, 1), end)], axis=1)
    x, dtype, shape = _encode(ids, len(alphabet), params["encoding"])
    word = "".join(f"{c}^n " for c in letters).strip()
    info = DatasetInfo(name, shape, dtype, "class", (length,), alphabet, "sequence",
                       f"{word} with n in 1..{max_n}, '$'-padded to {length}; predict the next symbol.")
    return x, y, info


def anbn(params: dict, seed: int):
    return _counting("anbn", "ab", params, seed)


def anbncn(params: dict, seed: int):
    return _counting("anbncn", "abc", params, seed)


def adding(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, t = params["samples"], params["length"]
    values = rng.uniform(0, 1, (n, t))
    marks = np.zeros((n, t))
    # One marker in each half, so the two marked values are at least one step apart.
    first = rng.integers(0, t // 2, n)
    second = rng.integers(t // 2, t, n)
    marks[np.arange(n), first] = 1
    marks[np.arange(n), second] = 1
    x = np.stack([values, marks], axis=2).astype(np.float32)
    y = (values[np.arange(n), first] + values[np.arange(n), second])[:, None].astype(np.float32)
    info = DatasetInfo("adding", (t, 2), "float", "value", (1,), (), "sequence",
                       f"{t} random values and a marker channel with two 1s; the target is the sum "
                       "of the two marked values.")
    return x, y, info


def copy(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, lag, symbols, m = params["samples"], params["lag"], params["n_symbols"], params["copy_len"]
    blank, delim = 0, symbols + 1
    t = m + lag + m
    seq = rng.integers(1, symbols + 1, (n, m))
    ids = np.full((n, t), blank, dtype=np.int64)
    ids[:, :m] = seq
    ids[:, m + lag - 1] = delim
    y = np.full((n, t), blank, dtype=np.int64)
    y[:, -m:] = seq
    names = ("_", *(str(s) for s in range(1, symbols + 1)), ":")
    x, dtype, shape = _encode(ids, symbols + 2, params["encoding"])
    info = DatasetInfo("copy", shape, dtype, "class", (t,), names, "sequence",
                       f"Remember {m} symbols across {lag} steps, then repeat them after the ':'.")
    return x, y, info


def sine_forecast(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, t = params["samples"], params["length"]
    freq = rng.uniform(0.02, 0.1, (n, 1))          # cycles per step: periods of 10 to 50 steps
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    clean = np.sin(2 * np.pi * freq * np.arange(t + 1)[None] + phase)
    x = clean[:, :t] + rng.normal(0, params["noise"], (n, t))
    y = clean[:, t:]
    info = DatasetInfo("sine_forecast", (t, 1), "float", "value", (1,), (), "sequence",
                       f"{t} noisy steps of a sine of random phase and frequency; predict the next "
                       "(noise-free) value.")
    return x[..., None].astype(np.float32), y.astype(np.float32), info


def parity(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, t = params["samples"], params["length"]
    bits = rng.integers(0, 2, (n, t))
    info = DatasetInfo("parity", (t, 1), "float", "class", (), ("even", "odd"), "sequence",
                       f"{t} random bits; the class is whether the number of ones is odd.")
    return bits[..., None].astype(np.float32), (bits.sum(1) % 2).astype(np.int64), info
