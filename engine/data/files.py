"""The user's own data: a reference {"path": ..., "format": ..., options} loaded into arrays.

Formats: npz (arrays x and y), idx (MNIST-style images + labels files), csv (numeric
columns plus a label column), text (a character-level language-model corpus) and folder
(one sub-folder of images per class). Nothing here unpickles, and nothing is read outside
the folders a DataAccess allows (paths.py). Sizes a file promises are checked before they
are allocated (limits.py); a message quotes a file's content only as a short, printable
excerpt.
"""
from __future__ import annotations

import csv
from array import array
from pathlib import Path

import numpy as np

from .arrays import class_ids, from_arrays
from .base import DataError, DatasetInfo
from .idx import load_idx
from .limits import MAX_CSV_BYTES, MAX_TEXT_BYTES, check_data_bytes, size_text
from .npz import read_npz
from .paths import DataAccess

FORMATS = ("npz", "idx", "csv", "text", "folder")
# Options each format accepts besides path, format and augment.
OPTIONS = {
    "npz": {"class_names", "input_dtype"},
    "idx": {"labels", "class_names"},
    "csv": {"label_column", "header", "target", "delimiter"},
    "text": {"seq_len", "stride"},
    "folder": {"size", "channels"},
}
COMMON = {"path", "format", "augment", "normalise"}


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


def excerpt(text, limit: int = 24) -> str:
    """A cell or a name from a file, quoted for a message: printable and cut short."""
    s = "".join(c if c.isprintable() else "?" for c in str(text)[:limit + 1])
    return repr(s[:limit] + ("…" if len(s) > limit else ""))


def load_file(ref: dict, access: DataAccess | None = None) -> tuple[np.ndarray, np.ndarray, DatasetInfo]:
    """(x, y, info) from a file reference; DataError names the file and the problem.
    ``access`` says which folders may be read (none: every path is refused)."""
    access = access or DataAccess()
    if not isinstance(ref.get("path"), str) or not ref["path"]:
        raise DataError("The dataset reference has no \"path\" to a file or folder.")
    path = access.resolve(ref["path"])
    fmt = ref.get("format") or guess_format(path)
    if fmt not in FORMATS:
        raise DataError(f"Unknown data format {excerpt(fmt)} for {path}; use one of {', '.join(FORMATS)}.")
    unknown = set(ref) - COMMON - OPTIONS[fmt]
    if unknown:
        raise DataError(f"The {fmt} dataset {path} has no option {excerpt(sorted(unknown)[0])}; it takes "
                        f"{', '.join(sorted(OPTIONS[fmt] | COMMON - {'path', 'format'}))}.")
    if fmt != "folder" and not path.is_file():
        raise DataError(f"Data file {path} does not exist." if not path.exists() else f"{path} is not a file.")
    name = path.name
    if fmt == "npz":
        x, y = read_npz(path)
        return from_arrays(name, x, y, str(path), class_names=ref.get("class_names"),
                           input_dtype=ref.get("input_dtype"))
    if fmt == "idx":
        if not isinstance(ref.get("labels"), str):
            raise DataError(f"The IDX dataset {path} needs a \"labels\" entry naming its labels file.")
        labels = access.resolve(ref["labels"], "IDX labels path")
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

    x, y, names = load_folder(path, ref.get("size"), ref.get("channels"), access)
    return x, y, DatasetInfo(name, x.shape[1:], "float", "class", (), names, "image", f"Images from {path}.")


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


MAX_CLASSES = 65_536       # distinct text labels of a CSV
MAX_CSV_COLUMNS = 65_536   # a CSV row's cells (a 40 MB row of 5 million once took 1.8 GB to split)
MAX_CSV_LINE = 16 << 20    # characters of one line of a CSV file
_BLOCK_CELLS = 1 << 18     # CSV cells parsed into one float32 block at a time (as Python floats first)


def _read_csv(path: Path, ref: dict):
    delimiter = ref.get("delimiter") or ("\t" if path.suffix.lower() == ".tsv" else ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
        raise DataError(f"CSV file {path}: option delimiter must be one character, got {excerpt(delimiter)}.")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise DataError(f"CSV file {path} is {size_text(path.stat().st_size)}; a CSV dataset may be at most "
                        f"{size_text(MAX_CSV_BYTES)}.")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            lines = _bounded_lines(f, delimiter, path)
            rows = ((reader.line_num, row) for reader in [csv.reader(lines, delimiter=delimiter)]
                    for row in reader if any(c.strip() for c in row))
            return _parse_csv(path, ref, rows)
    except UnicodeDecodeError:
        raise DataError(f"CSV file {path} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise DataError(f"CSV file {path} cannot be parsed: {str(exc)[:80]}.") from None


def _bounded_lines(f, delimiter: str, path: Path):
    """The file's lines, each refused before the csv module splits it if it is longer than
    MAX_CSV_LINE or has more delimiters than MAX_CSV_COLUMNS (a quoted delimiter counts too:
    the bound is on the text, which is what splitting costs)."""
    number = 0
    while line := f.readline(MAX_CSV_LINE + 1):
        number += 1
        if len(line) > MAX_CSV_LINE:
            raise DataError(f"CSV file {path} line {number} is longer than {MAX_CSV_LINE:,} characters, "
                            "so it is not read.")
        if line.count(delimiter) >= MAX_CSV_COLUMNS:
            raise DataError(f"CSV file {path} line {number} has more than {MAX_CSV_COLUMNS:,} columns; "
                            f"a CSV dataset may have at most {MAX_CSV_COLUMNS:,}.")
        yield line


def _parse_csv(path: Path, ref: dict, rows):
    first = next(rows, None)
    if first is None:
        raise DataError(f"CSV file {path} is empty.")
    header = ref.get("header")
    if header not in (None, True, False):
        raise DataError(f"CSV file {path}: option header must be true or false, got {excerpt(header)}.")
    if header is None:  # a first row with no number at all is a header
        header = all(_number(c) is None for c in first[1])
    columns = [c.strip() for c in first[1]] if header else [f"column {i + 1}" for i in range(len(first[1]))]
    if len(columns) < 2:
        raise DataError(f"CSV file {path} has {len(columns)} column; it needs feature columns and a label column.")
    label = ref.get("label_column", -1)
    if isinstance(label, str):
        if label not in columns:
            shown = ", ".join(excerpt(c)[1:-1] for c in columns[:10]) + (", ..." if len(columns) > 10 else "")
            raise DataError(f"CSV file {path} has no column {excerpt(label)} (its columns are {shown}).")
        label = columns.index(label)
    elif not isinstance(label, int) or isinstance(label, bool) or not -len(columns) <= label < len(columns):
        raise DataError(f"CSV file {path}: label_column must be a column name or index, got {excerpt(label)}.")
    label %= len(columns)
    features = [i for i in range(len(columns)) if i != label]
    labels = _CsvLabels()
    blocks, pending, done = [], [], 0
    block_rows = max(1, _BLOCK_CELLS // len(features))  # a wide row makes for short blocks
    body = rows if header else _chain(first, rows)
    for line, row in body:
        if len(row) != len(columns):
            raise DataError(f"CSV file {path} row {line} has {len(row)} cells; expected {len(columns)}.")
        values = []
        for i in features:
            value = _number(row[i])
            if value is None:
                raise DataError(f"CSV file {path} row {line}, column {excerpt(columns[i])}: "
                                f"{excerpt(row[i].strip())} is not a number.")
            values.append(value)
        pending.append(values)
        labels.add(line, row[label].strip())
        if len(pending) == block_rows:
            blocks.append(_block(pending, path))
            done += len(pending)
            pending = []
            check_data_bytes(done * len(features) * 4, f"CSV file {path}")
    if pending:
        blocks.append(_block(pending, path))
    if not blocks:
        raise DataError(f"CSV file {path} has a header but no data rows.")
    x = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    y, names, target = labels.result(path, excerpt(columns[label]), ref.get("target"))
    info = DatasetInfo(path.name, (len(features),), "float", target, () if target == "class" else (1,),
                       names, "table", f"Table from {path}: {len(features)} features, label "
                       f"{excerpt(columns[label])}.")
    return x, y, info


def _block(rows: list, path: Path) -> np.ndarray:
    with np.errstate(over="ignore"):  # past float32: inf, refused here
        block = np.array(rows, dtype=np.float32)
    if not np.isfinite(block).all():
        raise DataError(f"CSV file {path} holds NaN or infinite feature values.")
    return block


def _chain(first, rest):
    yield first
    yield from rest


class _CsvLabels:
    """A CSV's label column, compactly (a float and a code per row, the distinct texts
    once): a CSV of a billion short rows must not become a billion Python strings."""

    def __init__(self):
        self.lines = array("q")
        self.values = array("d")        # the label as a number, NaN where it is not one
        self.codes = array("q")         # index into self.texts, -1 once there are too many
        self.texts: dict[str, int] = {}

    def add(self, line: int, text: str) -> None:
        v = _number(text)
        self.lines.append(line)
        self.values.append(v if v is not None and np.isfinite(v) else np.nan)
        code = self.texts.setdefault(text, len(self.texts)) if len(self.texts) <= MAX_CLASSES else -1
        self.codes.append(code)

    def result(self, path: Path, column: str, target):
        if target not in (None, "class", "value"):
            raise DataError(f"CSV file {path}: option target must be \"class\" or \"value\", got {excerpt(target)}.")
        values = np.frombuffer(self.values, dtype=np.float64)
        numeric = np.isfinite(values)
        whole = bool(numeric.all()) and bool((values == np.round(values)).all())
        if target == "value" or (target is None and numeric.all() and not whole):
            if not numeric.all():
                k = int(np.argmin(numeric))
                text = next(t for t, c in self.texts.items() if c == self.codes[k]) if self.codes[k] >= 0 else "?"
                raise DataError(f"CSV file {path} row {self.lines[k]}, column {column}: {excerpt(text)} "
                                f"is not a number.")
            with np.errstate(over="ignore"):
                y = values.astype(np.float32)[:, None]
            if not np.isfinite(y).all():
                raise DataError(f"CSV file {path} column {column} holds labels too large for a float32 target.")
            return y, (), "value"
        if numeric.all() and whole:
            if np.abs(values).max() >= 2 ** 53:
                raise DataError(f"CSV file {path} column {column} holds class ids too big to be classes.")
            y, names = class_ids(values.astype(np.int64), f"CSV file {path} column {column}")
            return y, names, "class"
        if len(self.texts) > MAX_CLASSES:
            raise DataError(f"CSV file {path} column {column} holds more than {MAX_CLASSES} different "
                            f"labels; that is not a set of classes.")
        names = tuple(sorted(self.texts))  # text labels: classes in alphabetical order
        order = np.empty(len(names), dtype=np.int64)
        for rank, text in enumerate(names):
            order[self.texts[text]] = rank
        return order[np.frombuffer(self.codes, dtype=np.int64)], names, "class"


def _read_text(path: Path, ref: dict):
    seq_len, stride = ref.get("seq_len", 64), ref.get("stride", ref.get("seq_len", 64))
    for key, v in (("seq_len", seq_len), ("stride", stride)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise DataError(f"Text file {path}: option {key} must be a whole number of at least 1, "
                            f"got {excerpt(v)}.")
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise DataError(f"Text file {path} is {size_text(path.stat().st_size)}; a text dataset may be at "
                        f"most {size_text(MAX_TEXT_BYTES)}.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"Text file {path} is not UTF-8 text.") from None
    if not text.strip():
        raise DataError(f"Text file {path} is empty.")
    if len(text) < seq_len + 1:
        raise DataError(f"Text file {path} has {len(text)} characters; samples of seq_len {seq_len} "
                        f"need at least {seq_len + 1}.")
    windows = (len(text) - seq_len + stride - 1) // stride
    check_data_bytes(4 * windows * seq_len * 8, f"Text file {path} in windows of {seq_len} every {stride}")
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    del text
    vocab, ids = np.unique(codes, return_inverse=True)
    starts = np.arange(0, len(codes) - seq_len, stride)
    window = starts[:, None] + np.arange(seq_len)[None]
    x, y = ids[window].astype(np.int64), ids[window + 1].astype(np.int64)
    names = tuple(chr(c) for c in vocab)
    info = DatasetInfo(path.name, (seq_len,), "long", "class", (seq_len,), names, "text",
                       f"Characters of {path} ({len(names)} distinct) in windows of {seq_len}.")
    return x, y, info
