"""IDX files, the format of MNIST and Fashion-MNIST (gzipped or not)."""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from .base import DataError

# Type code (third byte of the magic number) -> big-endian numpy dtype.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read IDX file {path}: {exc.strerror or exc}.") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic: MNIST is usually shipped as .gz
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise DataError(f"IDX file {path} is gzip-compressed but damaged or cut short.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"IDX file {path} has a bad magic number {raw[:4].hex() or '(empty file)'}; "
                        "expected 0000 followed by a type code and a dimension count.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"IDX file {path} has a header cut short ({len(raw)} bytes for {ndim} dimensions).")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        shape = "x".join(map(str, dims))
        raise DataError(f"IDX file {path} says its data is {shape} values of {dtype.itemsize} byte(s) "
                        f"({expected} bytes) but it holds {len(raw) - header} bytes after the header.")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def load_idx(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): images (N, H, W) become (N, 1, H, W); labels must be one per image."""
    x = read_idx(images)
    y = read_idx(labels)
    if y.ndim != 1:
        raise DataError(f"IDX labels file {labels} has {y.ndim} dimensions; labels need exactly one.")
    if y.dtype.kind not in "iu":
        raise DataError(f"IDX labels file {labels} holds {y.dtype} values; labels must be whole numbers.")
    if len(x) != len(y):
        raise DataError(f"IDX files disagree: {images} holds {len(x)} images but {labels} holds "
                        f"{len(y)} labels.")
    if x.ndim == 3:
        x = x[:, None]
    return x, y
