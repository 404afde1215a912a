"""IDX files, the format of MNIST and Fashion-MNIST (gzipped or not).

The header's dimensions say how big the data is: that size is checked against the limit
and against what the file holds before anything is allocated, and a gzipped file is
inflated straight into its array, never past the size its header promised (a 1.2 MB
gzip once inflated without any limit).
"""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from .base import DataError
from .limits import check_data_bytes

# Type code (third byte of the magic number) -> big-endian numpy dtype.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CHUNK = 1 << 20
MAX_DIMS = 8   # MNIST's files have 1 and 3; numpy stops at 64


def _open(path: Path):
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"  # gzip magic: MNIST is usually shipped as .gz
    return (gzip.open(path, "rb") if gzipped else path.open("rb")), gzipped


def read_idx(path: Path) -> np.ndarray:
    try:
        stream, gzipped = _open(path)
    except OSError as exc:
        raise DataError(f"Cannot read IDX file {path}: {exc.strerror or 'unreadable'}.") from None
    try:
        with stream:
            return _read(stream, path, gzipped)
    except (OSError, EOFError, zlib.error):
        if gzipped:
            raise DataError(f"IDX file {path} is gzip-compressed but damaged or cut short.") from None
        raise DataError(f"Cannot read IDX file {path}.") from None


def _read(f, path: Path, gzipped: bool) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise DataError(f"IDX file {path} has a bad magic number {magic.hex() or '(empty file)'}; "
                        "expected 0000 followed by a type code and a dimension count.")
    ndim = magic[3]
    if ndim > MAX_DIMS:
        raise DataError(f"IDX file {path} says it has {ndim} dimensions; an IDX dataset has at most {MAX_DIMS}.")
    head = f.read(4 * ndim)
    if ndim == 0 or len(head) < 4 * ndim:
        raise DataError(f"IDX file {path} has a header cut short ({4 + len(head)} bytes for {ndim} dimensions).")
    dims = struct.unpack(f">{ndim}I", head)
    dtype = np.dtype(IDX_TYPES[magic[2]])
    count = math.prod(dims)
    expected = count * dtype.itemsize
    shape = "x".join(map(str, dims))
    said = f"IDX file {path} says its data is {shape} values of {dtype.itemsize} byte(s) ({expected} bytes)"
    # zero dims do not make the others harmless: numpy refuses such shapes outright
    check_data_bytes(math.prod(max(d, 1) for d in dims) * max(4, dtype.itemsize), f"IDX file {path} ({shape} values)")
    if not gzipped:
        held = path.stat().st_size - 4 - 4 * ndim
        if held != expected:
            raise DataError(f"{said} but it holds {held} bytes after the header.")
    data = np.empty(count, dtype=dtype)
    view = memoryview(data).cast("B")
    got = 0
    while got < expected:
        n = f.readinto(view[got:got + _CHUNK])
        if not n:
            break
        got += n
    if got < expected or f.read(1):
        held = f"{got} bytes" if got < expected else "more than that"
        raise DataError(f"{said} but it holds {held} after the header.")
    return data.reshape(dims).astype(dtype.newbyteorder("="), copy=False)


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
