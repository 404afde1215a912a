"""The built-in datasets, defined once, as data.

To add a dataset, write a generator ``(params, seed) -> (x, y, DatasetInfo)`` and add one
``DatasetSpec`` to ``DATASETS``. The CLI listing, the GUI's dataset form, parameter
validation and the docs all read this table. Everything is generated locally and
deterministically from the seed; nothing is downloaded.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..graph.catalogue.spec import Param
from . import grammar, images, points, sequences, video
from .base import DataError, DatasetInfo

CATEGORY_ORDER = ("2-D classification", "1-D regression", "Images", "Sequences", "Text", "Video")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    category: str
    help: str
    params: tuple[Param, ...]
    generate: Callable[[dict, int], tuple[np.ndarray, np.ndarray, DatasetInfo]]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _samples(default: int, high: int = 100_000) -> Param:
    return Param("samples", "int", default, "Number of samples (training plus validation).", min=10, max=high)


def _noise(default: float, high: float = 1.0, what: str = "Standard deviation of the Gaussian noise.") -> Param:
    return Param("noise", "float", default, what, min=0.0, max=high)


_CLASSES = lambda default, high: Param("classes", "int", default, "Number of classes.", min=2, max=high)  # noqa: E731
_ENCODING = Param("encoding", "choice", "onehot", "onehot: float vectors (T, V); ids: token ids (T,) "
                  "for an Embedding.", choices=("onehot", "ids"))
_TARGET = Param("target", "choice", "class", "class: the shape's class id; input: the image itself "
                "(for autoencoders).", choices=("class", "input"))
_ROTATION = Param("rotation", "float", 20.0, "Largest random rotation.", min=0.0, max=45.0, unit="degrees")
_IMAGE_NOISE = _noise(0.05, 0.5, "Standard deviation of the pixel noise (pixels are in [0, 1]).")

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("spiral", "2-D classification", "Interleaved spiral arms: needs a deep or wide net.",
                (_samples(1000), _noise(0.1), _CLASSES(2, 6)), points.spiral),
    DatasetSpec("xor", "2-D classification", "Four quadrants, class by sign agreement: not linearly separable.",
                (_samples(1000), _noise(0.05)), points.xor),
    DatasetSpec("circles", "2-D classification", "A disc inside rings: separable by radius.",
                (_samples(1000), _noise(0.05), _CLASSES(2, 5)), points.circles),
    DatasetSpec("moons", "2-D classification", "Two interleaved half moons.",
                (_samples(1000), _noise(0.1)), points.moons),
    DatasetSpec("blobs", "2-D classification", "Gaussian clusters: the easy, linearly separable case.",
                (_samples(1000), _noise(0.2), _CLASSES(3, 10)), points.blobs),
    DatasetSpec("sine", "1-D regression", "Fit a noisy sine wave y = sin(pi f x).",
                (_samples(500), _noise(0.1),
                 Param("frequency", "float", 1.0, "Periods over the range [-1, 1], halved.", min=0.1, max=10.0)),
                points.sine),
    DatasetSpec("polynomial", "1-D regression", "Fit a random polynomial plus noise.",
                (_samples(500), _noise(0.1), Param("degree", "int", 3, "Degree of the polynomial.", min=1, max=8)),
                points.polynomial),
    DatasetSpec("shapes", "Images", "28x28 line drawings of 8 shapes (circle, square, triangle, cross, 3 lines, arch).",
                (_samples(3000, 50_000), _IMAGE_NOISE, _ROTATION, _TARGET), images.shapes),
    DatasetSpec("shapes_color", "Images", "32x32 RGB shapes in random colours on random backgrounds.",
                (_samples(3000, 50_000), _IMAGE_NOISE, _ROTATION, _TARGET), images.shapes_color),
    DatasetSpec("digits", "Images", "28x28 digits 0-9 drawn from stroke templates with jitter (MNIST-like).",
                (_samples(3000, 50_000), _IMAGE_NOISE,
                 Param("jitter", "float", 1.0, "Strength of the random warp, slant and rotation.", min=0.0, max=3.0),
                 _TARGET), images.digits),
    DatasetSpec("anbn", "Sequences", "a^n b^n next-symbol prediction: an LSTM learns to count.",
                (_samples(1000), Param("max_n", "int", 10, "Largest n; the length is 2 max_n + 2.", min=1, max=100),
                 _ENCODING), sequences.anbn),
    DatasetSpec("anbncn", "Sequences", "a^n b^n c^n next-symbol prediction: two counters at once.",
                (_samples(1000), Param("max_n", "int", 10, "Largest n; the length is 3 max_n + 2.", min=1, max=100),
                 _ENCODING), sequences.anbncn),
    DatasetSpec("adding", "Sequences", "The adding problem: sum the two marked values of a long sequence.",
                (_samples(2000), Param("length", "int", 50, "Sequence length T.", min=2, max=2000)),
                sequences.adding),
    DatasetSpec("copy", "Sequences", "The copy task: repeat a few symbols after a long blank gap.",
                (_samples(2000), Param("lag", "int", 50, "Steps between the symbols and the ':' cue.", min=1, max=2000),
                 Param("n_symbols", "int", 8, "Size of the symbol alphabet.", min=1, max=64),
                 Param("copy_len", "int", 10, "How many symbols to remember.", min=1, max=100), _ENCODING),
                sequences.copy),
    DatasetSpec("sine_forecast", "Sequences", "Forecast the next value of a noisy sine wave.",
                (_samples(2000), Param("length", "int", 32, "Window length T.", min=2, max=2000), _noise(0.05)),
                sequences.sine_forecast),
    DatasetSpec("parity", "Sequences", "Is the number of ones in a bit string odd?",
                (_samples(2000), Param("length", "int", 10, "Number of bits T.", min=1, max=1000)),
                sequences.parity),
    DatasetSpec("grammar_text", "Text", "Characters from a small grammar with nested brackets, for char-level LMs.",
                (_samples(1000), Param("seq_len", "int", 32, "Characters per sample.", min=2, max=4096),
                 Param("depth", "int", 3, "Deepest bracket nesting.", min=0, max=10)),
                grammar.grammar_text),
    DatasetSpec("bouncing_shapes", "Video", "Shapes bouncing off the walls: predict the next frame.",
                (_samples(500, 20_000), Param("frames", "int", 10, "Input frames T.", min=1, max=64),
                 Param("size", "int", 24, "Frame height and width.", min=8, max=128, unit="pixels")),
                video.bouncing_shapes),
)}


def get_spec(name: str) -> DatasetSpec:
    spec = DATASETS.get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), DATASETS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" The built-in datasets are {', '.join(DATASETS)}."
        raise DataError(f"There is no built-in dataset '{name}'.{hint}")
    return spec


def resolve_params(name: str, params: dict | None) -> dict[str, Any]:
    """The dataset's params with defaults filled in; DataError names a bad or unknown one."""
    spec = get_spec(name)
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise DataError(f"Dataset '{name}' params must be an object of name: value, got {params!r}.")
    for key in params:
        if spec.param(key) is None:
            known = ", ".join(p.name for p in spec.params)
            raise DataError(f"Dataset '{name}' has no parameter '{key}'; it takes {known}.")
    resolved = spec.defaults() | params
    for p in spec.params:
        problem = p.problem(resolved[p.name])
        if problem:
            raise DataError(f"Dataset '{name}' parameter '{p.name}' {problem}.")
    return resolved


def generate(name: str, params: dict | None = None, seed: int = 0):
    """(x, y, info) of a built-in dataset, before any split or normalisation."""
    resolved = resolve_params(name, params)
    return get_spec(name).generate(resolved, int(seed))


def describe(name: str, params: dict | None = None) -> DatasetInfo:
    """The DatasetInfo a dataset will have, cheaply (generates a handful of samples)."""
    resolved = resolve_params(name, params)
    resolved["samples"] = 10
    return get_spec(name).generate(resolved, 0)[2]
