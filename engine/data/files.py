"""The user's own data: a reference {"path": ..., "format": ..., options} loaded into arrays.

Formats: npz (arrays x and y), idx (MNIST-style images + labels files), csv (numeric
columns plus a label column), text (a character-level language-model corpus) and folder
(one sub-folder of images per class). Nothing here unpickles: np.load refuses object arrays.
"""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from .arrays import class_ids, from_arrays
from .base import DataError, DatasetInfo
from .idx import load_idx

FORMATS = ("npz", "idx", "csv", "text", "folder")
# Options each format accepts besides path, format and augment.
OPTIONS = {
    "npz": {"class_names", "input_dtype"},
    "idx": {"labels", "class_names"},
    "csv": {"label_column", "header", "target", "delimiter"},
    "text": {"seq_len", "stride"},
    "folder": {"size", "channels"},
}
COMMON = {"path", "format", "augment"}


def guess_format(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        return "folder"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".txt", ".text", ".md")):
        return "text"
    if "ubyte" in name or "idx" in name:
        return "idx"
    raise DataError(f"Cannot tell the format of {path}; set \"format\" to one of {', '.join(FORMATS)}.")


def _resolve(path, base_dir: Path | None) -> Path:
    p = Path(str(path)).expanduser()
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def load_file(ref: dict, base_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    """(x, y, info) from a file reference; DataError names the file and the problem."""
    if not isinstance(ref.get("path"), str) or not ref["path"]:
        raise DataError("The dataset reference has no \"path\" to a file or folder.")
    path = _resolve(ref["path"], base_dir)
    fmt = ref.get("format") or guess_format(path)
    if fmt not in FORMATS:
        raise DataError(f"Unknown data format {fmt!r} for {path}; use one of {', '.join(FORMATS)}.")
    unknown = set(ref) - COMMON - OPTIONS[fmt]
    if unknown:
        raise DataError(f"The {fmt} dataset {path} has no option '{sorted(unknown)[0]}'; it takes "
                        f"{', '.join(sorted(OPTIONS[fmt] | {'augment'}))}.")
    if fmt != "folder" and not path.is_file():
        raise DataError(f"Data file {path} does not exist." if not path.exists() else f"{path} is not a file.")
    name = path.name
    if fmt == "npz":
        x, y = _read_npz(path)
        return from_arrays(name, x, y, str(path), class_names=ref.get("class_names"),
                           input_dtype=ref.get("input_dtype"))
    if fmt == "idx":
        if not isinstance(ref.get("labels"), str):
            raise DataError(f"The IDX dataset {path} needs a \"labels\" entry naming its labels file.")
        labels = _resolve(ref["labels"], base_dir)
        if not labels.is_file():
            raise DataError(f"IDX labels file {labels} does not exist.")
        x, y = load_idx(path, labels)
        return from_arrays(name, x, y, str(path), class_names=ref.get("class_names"), input_dtype="float",
                           kind="image" if x.ndim == 4 else "table")
    if fmt == "csv":
        return _read_csv(path, ref)
    if fmt == "text":
        return _read_text(path, ref)
    from .folder import load_folder  # Pillow is imported only when a folder is read

    x, y, names = load_folder(path, ref.get("size"), ref.get("channels"))
    return x, y, DatasetInfo(name, x.shape[1:], "float", "class", (), names, "image", f"Images from {path}.")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":  # anything else np.load would try to unpickle
        raise DataError(f"{path} is not a readable .npz file (an .npz is a zip archive of arrays x and y).")
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in ("x", "y"):
                if key not in z.files:
                    raise DataError(f"{path} has no array '{key}'; an .npz dataset needs arrays x and y "
                                    f"(it holds {', '.join(z.files) or 'none'}).")
            return z["x"], z["y"]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{path} holds object arrays, which cannot be loaded without pickle; "
                            "save plain numeric arrays.") from None
        raise DataError(f"{path} is not a readable .npz file ({exc}).") from None
    except (OSError, EOFError, zipfile.BadZipFile):
        raise DataError(f"{path} is not a readable .npz file.") from None


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(path: Path, ref: dict):
    delimiter = ref.get("delimiter") or ("\t" if path.suffix.lower() == ".tsv" else ",")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except UnicodeDecodeError:
        raise DataError(f"CSV file {path} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise DataError(f"CSV file {path} cannot be parsed: {exc}.") from None
    if not rows:
        raise DataError(f"CSV file {path} is empty.")
    header = ref.get("header")
    if header is None:  # a first row with no number at all is a header
        header = all(_number(c) is None for c in rows[0][1])
    columns = [c.strip() for c in rows[0][1]] if header else [f"column {i + 1}" for i in range(len(rows[0][1]))]
    body = rows[1:] if header else rows
    if len(columns) < 2:
        raise DataError(f"CSV file {path} has {len(columns)} column; it needs feature columns and a label column.")
    if not body:
        raise DataError(f"CSV file {path} has a header but no data rows.")
    label = ref.get("label_column", -1)
    if isinstance(label, str):
        if label not in columns:
            raise DataError(f"CSV file {path} has no column '{label}' (its columns are {', '.join(columns)}).")
        label = columns.index(label)
    elif not isinstance(label, int) or isinstance(label, bool) or not -len(columns) <= label < len(columns):
        raise DataError(f"CSV file {path}: label_column must be a column name or index, got {label!r}.")
    label %= len(columns)
    features = [i for i in range(len(columns)) if i != label]
    x = np.empty((len(body), len(features)), dtype=np.float32)
    raw_labels = []
    for r, (line, row) in enumerate(body):
        if len(row) != len(columns):
            raise DataError(f"CSV file {path} row {line} has {len(row)} cells; expected {len(columns)}.")
        for j, i in enumerate(features):
            value = _number(row[i])
            if value is None:
                raise DataError(f"CSV file {path} row {line}, column '{columns[i]}': {row[i].strip()!r} "
                                "is not a number.")
            x[r, j] = value
        raw_labels.append((line, row[label].strip()))
    y, names, target = _csv_labels(path, raw_labels, columns[label], ref.get("target"))
    if not np.isfinite(x).all():
        raise DataError(f"CSV file {path} holds NaN or infinite feature values.")
    info = DatasetInfo(path.name, (len(features),), "float", target, () if target == "class" else (1,),
                       names, "table", f"Table from {path}: {len(features)} features, label '{columns[label]}'.")
    return x, y, info


def _csv_labels(path: Path, raw: list[tuple[int, str]], column: str, target: str | None):
    if target not in (None, "class", "value"):
        raise DataError(f"CSV file {path}: option target must be \"class\" or \"value\", got {target!r}.")
    numbers = [_number(v) for _, v in raw]
    numeric = all(v is not None for v in numbers)
    if target == "value" or (target is None and numeric and not all(float(v).is_integer() for v in numbers)):
        for (line, cell), v in zip(raw, numbers):
            if v is None:
                raise DataError(f"CSV file {path} row {line}, column '{column}': {cell!r} is not a number.")
        return np.array(numbers, dtype=np.float32)[:, None], (), "value"
    if numeric and all(float(v).is_integer() for v in numbers):
        y, names = class_ids(np.array(numbers, dtype=np.int64), f"CSV file {path} column '{column}'")
        return y, names, "class"
    names = tuple(sorted({v for _, v in raw}))  # text labels: classes in alphabetical order
    index = {n: k for k, n in enumerate(names)}
    return np.array([index[v] for _, v in raw], dtype=np.int64), names, "class"


def _read_text(path: Path, ref: dict):
    seq_len, stride = ref.get("seq_len", 64), ref.get("stride", ref.get("seq_len", 64))
    for key, v in (("seq_len", seq_len), ("stride", stride)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise DataError(f"Text file {path}: option {key} must be a whole number of at least 1, got {v!r}.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"Text file {path} is not UTF-8 text.") from None
    if not text.strip():
        raise DataError(f"Text file {path} is empty.")
    if len(text) < seq_len + 1:
        raise DataError(f"Text file {path} has {len(text)} characters; samples of seq_len {seq_len} "
                        f"need at least {seq_len + 1}.")
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    vocab, ids = np.unique(codes, return_inverse=True)
    starts = np.arange(0, len(codes) - seq_len, stride)
    window = starts[:, None] + np.arange(seq_len)[None]
    x, y = ids[window].astype(np.int64), ids[window + 1].astype(np.int64)
    names = tuple(chr(c) for c in vocab)
    info = DatasetInfo(path.name, (seq_len,), "long", "class", (seq_len,), names, "text",
                       f"Characters of {path} ({len(names)} distinct) in windows of {seq_len}.")
    return x, y, info
