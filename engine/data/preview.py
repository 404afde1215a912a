"""What a data file holds, in a few numbers and drawings: for the window's data dialog and
``python -m engine check``. The file is loaded exactly as training loads it (files.py, under
the path rule of paths.py); the summary keeps counts and a handful of samples, and the
arrays are dropped.

Also two small guesses the dialog makes: the columns of a CSV (to pick the label column)
and the other half of an IDX pair (images <-> labels)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import DataError, DatasetInfo
from .files import excerpt, guess_format, load_file
from .load import normalises, validation_size
from .paths import DataAccess

IMAGES_SHOWN = 24          # thumbnails at most
ROWS_SHOWN = 6             # table rows
FEATURES_SHOWN = 8         # values of a row or a time step
SEQUENCES_SHOWN = 4
TEXT_SHOWN = 3             # text samples, one line each
SYMBOL_NAMES = {"\n": "⏎", " ": "␣", "\t": "⇥", "\r": "␍"}


@dataclass(frozen=True)
class DataPreview:
    info: DatasetInfo
    format: str
    path: str                                    # the file or folder read
    samples: int
    train: int                                   # samples for training / validation at val_fraction
    val: int
    normalised: bool                             # whether training standardises the inputs
    class_counts: tuple[int, ...] = ()           # per class; per-step targets count every step
    value_range: tuple[float, float] | None = None   # value targets: smallest and largest
    token_ids: int = 0                           # inputs of token ids: the largest id + 1
    images: tuple[tuple[int, np.ndarray], ...] = ()  # (class id or -1, uint8 H x W or H x W x 3)
    rows: tuple[tuple[tuple[float, ...], str], ...] = ()  # table rows: first features, target
    lines: tuple[str, ...] = ()                  # text or sequence samples, one line each

    def summary(self) -> str:
        """One line: '60,000 samples of (1, 28, 28) float; 10 classes; 48,000 to train on, 12,000 to validate.'"""
        info = self.info
        shape = "(" + ", ".join(str(d) for d in info.input_shape) + ("," if len(info.input_shape) == 1 else "") + ")"
        dtype = "token ids" if info.input_dtype == "long" else "float"
        if info.kind == "text":
            target = f"{info.num_classes} characters, the target the next one at every step"
        elif info.target_kind == "class":
            target = f"{info.num_classes} classes" + (" per step" if info.target_shape else "")
        else:
            target = f"value targets of shape {tuple(info.target_shape)}"
        return (f"{self.samples:,} samples of {shape} {dtype}; {target}; {self.train:,} to train on, "
                f"{self.val:,} to validate.")


def preview_file(ref: dict, access: DataAccess | None, val_fraction: float = 0.2) -> DataPreview:
    """Load the file ``ref`` names (DataError: one sentence) and summarise it."""
    x, y, info = load_file(ref, access)
    path = (access or DataAccess()).resolve(ref["path"])
    fmt = ref.get("format") or guess_format(path)
    return summarise(x, y, info, fmt, str(path), val_fraction, ref.get("normalise", True) is not False)


def summarise(x: np.ndarray, y: np.ndarray, info: DatasetInfo, fmt: str = "", path: str = "",
              val_fraction: float = 0.2, normalise: bool = True) -> DataPreview:
    n = len(x)
    n_val = validation_size(n, val_fraction)
    fields: dict = {}
    if info.target_kind == "class":
        fields["class_counts"] = tuple(int(c) for c in np.bincount(y.ravel(), minlength=info.num_classes))
    elif y.size:
        fields["value_range"] = (float(y.min()), float(y.max()))
    if info.input_dtype == "long" and x.size:
        fields["token_ids"] = int(x.max()) + 1
    if info.kind == "image" and x.ndim == 4:
        fields["images"] = _images(x, y, info)
    elif info.kind == "table" and x.ndim == 2:
        fields["rows"] = tuple((tuple(float(v) for v in x[i, :FEATURES_SHOWN]), _target(y[i], info))
                               for i in range(min(n, ROWS_SHOWN)))
    elif info.kind == "text":
        fields["lines"] = tuple(_decode(x[i], info.class_names) for i in range(min(n, TEXT_SHOWN)))
    elif info.kind in ("sequence", "video"):
        fields["lines"] = tuple(_sequence(x[i], y[i], info) for i in range(min(n, SEQUENCES_SHOWN)))
    return DataPreview(info, fmt, path, n, n - n_val, n_val, normalise and normalises(info), **fields)


def _images(x: np.ndarray, y: np.ndarray, info: DatasetInfo) -> tuple:
    """A few images of every class (the first ones in the file), as uint8 pixels."""
    if info.target_kind == "class" and y.ndim == 1 and info.num_classes:
        classes = min(info.num_classes, IMAGES_SHOWN)
        per = max(1, IMAGES_SHOWN // classes)
        picked = []
        for c in range(classes):
            picked += [int(i) for i in np.flatnonzero(y == c)[:per]]
    else:
        picked = list(range(min(len(x), IMAGES_SHOWN)))
    out = []
    for i in picked:
        img = x[i]
        img = img[0] if img.shape[0] != 3 else np.moveaxis(img, 0, -1)
        lo, hi = float(img.min()), float(img.max())
        if lo < 0 or hi > 1:  # not pixels in [0, 1]: stretch to the image's own range
            img = (img - lo) / (hi - lo if hi > lo else 1.0)
        pixels = np.ascontiguousarray(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8))
        out.append((int(y[i]) if info.target_kind == "class" and y.ndim == 1 else -1, pixels))
    return tuple(out)


def _target(t, info: DatasetInfo) -> str:
    if info.target_kind == "class" and np.ndim(t) == 0 and int(t) < info.num_classes:
        return info.class_names[int(t)]
    return " ".join(f"{v:.4g}" for v in np.ravel(t)[:FEATURES_SHOWN])


def symbol(name: str) -> str:
    """A character made visible: a newline as ⏎, a space as ␣."""
    return SYMBOL_NAMES.get(name, name if name.isprintable() else f"\\x{ord(name[0]):02x}" if name else "")


def _decode(ids: np.ndarray, names: tuple[str, ...]) -> str:
    return "".join(symbol(names[int(i)]) if int(i) < len(names) else "?" for i in ids)


def _sequence(s: np.ndarray, t, info: DatasetInfo) -> str:
    """One sequence sample as text: its tokens or its first steps, then its target."""
    if info.input_dtype == "long":
        steps = " ".join(str(int(v)) for v in s.ravel()[:24])
    else:
        flat = s.reshape(len(s), -1)
        steps = " ".join("[" + " ".join(f"{v:.2g}" for v in row[:FEATURES_SHOWN]) + "]" for row in flat[:6])
    more = " …" if len(s) > (24 if info.input_dtype == "long" else 6) else ""
    if info.target_kind == "class" and info.class_names:
        target = " ".join(info.class_names[int(v)] for v in np.ravel(t)[:24] if int(v) < info.num_classes)
    else:
        target = " ".join(f"{v:.3g}" for v in np.ravel(t)[:FEATURES_SHOWN])
    return f"{steps}{more} → {target}"


# -- guesses for the dialog --------------------------------------------------------------------
def csv_columns(path: Path, delimiter: str | None = None) -> tuple[list[str], bool, int]:
    """(column names, whether the first row is a header, the likely label column), read from
    the first rows the way the CSV loader reads them: a first row without a single number is
    a header. The likely label column is the only one whose first value is not a number (text
    labels), else the last one (the loader's default)."""
    delimiter = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = (row for row in csv.reader(f, delimiter=delimiter) if any(c.strip() for c in row))
            first, second = next(rows, None), next(rows, None)
    except (OSError, UnicodeDecodeError, csv.Error):
        raise DataError(f"CSV file {path} cannot be read as UTF-8 text.") from None
    if first is None:
        raise DataError(f"CSV file {path} is empty.")
    header = all(_number(c) is None for c in first)
    names = [c.strip() for c in first] if header else [f"column {i + 1}" for i in range(len(first))]
    data = second if header else first
    texts = [i for i, c in enumerate(data or []) if _number(c) is None]
    guess = texts[0] if len(texts) == 1 and len(data) == len(names) else len(names) - 1
    return [excerpt(n, 40)[1:-1] if not n.isprintable() or len(n) > 40 else n for n in names], header, guess


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def idx_pair(path: Path) -> tuple[Path, Path | None]:
    """(images file, labels file or None) for either half of an MNIST-style pair: the names
    differ by 'images' / 'labels' (and 'idx3' / 'idx1')."""
    name = path.name
    swaps = (("images", "labels"), ("idx3", "idx1")) if "labels" not in name else (("labels", "images"), ("idx1", "idx3"))
    other = name
    for a, b in swaps:
        other = other.replace(a, b)
    partner = path.with_name(other)
    found = partner if other != name and partner.is_file() else None
    return (path, found) if "labels" not in name else (found or path, path if found else None)
