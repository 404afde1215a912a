"""Array records: how an array becomes (dtype, shape, compression, bytes) and back.

Decoding trusts nothing in the row: the dtype must be on an allow-list, the shape must be
a short list of non-negative ints, the size the shape implies is checked against a limit
*before* anything is decompressed or allocated, and the bytes must match it exactly.
"""
from __future__ import annotations

import json
import math
import zlib

import numpy as np

from .errors import SessionError

# Name written in the file -> numpy dtype with an explicit byte order (always little-endian).
DTYPES = {
    "bool": "|b1", "uint8": "|u1", "int8": "|i1",
    "int16": "<i2", "uint16": "<u2", "int32": "<i4", "uint32": "<u4",
    "int64": "<i8", "uint64": "<u8",
    "float16": "<f2", "float32": "<f4", "float64": "<f8",
}
MAX_RECORD_BYTES = 1 << 30   # 1 GiB: a bigger record is refused before any allocation
MAX_DIMS = 32                # numpy's own limit is 64; nothing we record comes close
COMPRESSIONS = ("none", "zlib")
ZLIB_LEVEL = 1               # fast: the worker pays this on its own time
_AUTO_MIN_BYTES = 4096       # below this, zlib's header and the CPU are not worth it
_SAMPLE_BYTES = 4096
# zlib level 1 runs at only ~10-40 MB/s on float maps; that is the worker's time, so by
# default only data that at least halves (dead ReLU maps, masks, int histograms) is
# compressed. ReLU maps with half zeros shrink to ~57 %: stored raw unless asked.
_AUTO_MAX_RATIO = 0.5


def shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def encode(array, compress: bool | None, label: str) -> tuple[str, str, str, bytes]:
    """``array`` -> (dtype name, shape JSON, compression, little-endian bytes).

    ``compress=None`` compresses when it pays: 4 KiB from the middle are compressed as a
    sample and the whole array only if the sample shrinks to half or less.
    """
    arr = np.asarray(array)
    name = arr.dtype.name
    if name not in DTYPES:
        raise SessionError(f"{label} has dtype {arr.dtype}, which a session cannot store "
                           f"(allowed: {', '.join(DTYPES)}).")
    raw = np.ascontiguousarray(arr, dtype=DTYPES[name]).tobytes()
    if len(raw) > MAX_RECORD_BYTES:
        raise SessionError(f"{label} is {len(raw)} bytes, more than the "
                           f"{MAX_RECORD_BYTES} bytes a session record may hold.")
    compression = "none"
    if compress is None:
        compress = len(raw) >= _AUTO_MIN_BYTES and _pays(raw)
    if compress:
        packed = zlib.compress(raw, ZLIB_LEVEL)
        if len(packed) < len(raw) or len(raw) == 0:
            raw, compression = packed, "zlib"
    return name, json.dumps(list(arr.shape)), compression, raw


def _pays(raw: bytes) -> bool:
    start = max(0, len(raw) // 2 - _SAMPLE_BYTES // 2)
    sample = memoryview(raw)[start:start + _SAMPLE_BYTES]
    return len(zlib.compress(sample, ZLIB_LEVEL)) <= _AUTO_MAX_RATIO * len(sample)


def parse_shape(label: str, text) -> tuple[int, ...]:
    try:
        shape = json.loads(text) if isinstance(text, (str, bytes)) else None
    except (ValueError, RecursionError):
        shape = None
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(type(d) is int and d >= 0 for d in shape)):
        raise SessionError(f"{label} has an unreadable shape {str(text)[:60]!r} "
                           f"(expected a JSON list of at most {MAX_DIMS} non-negative ints).")
    return tuple(shape)


def decode(label: str, dtype, shape_json, compression, data) -> np.ndarray:
    """One stored record -> a fresh, writable, native-order numpy array, or SessionError."""
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SessionError(f"{label} has dtype {str(dtype)[:40]!r}, which is not allowed "
                           f"(allowed: {', '.join(DTYPES)}).")
    shape = parse_shape(label, shape_json)
    np_dtype = np.dtype(DTYPES[dtype])
    expected = math.prod(shape) * np_dtype.itemsize
    said = f"{label} says shape {shape_text(shape)} {dtype} = {expected} bytes"
    if expected > MAX_RECORD_BYTES:
        raise SessionError(f"{said}, more than the {MAX_RECORD_BYTES} bytes a record may hold.")
    if not isinstance(data, bytes):
        raise SessionError(f"{label} holds {type(data).__name__} instead of bytes.")
    if compression == "none":
        raw = data
    elif compression == "zlib":
        inflater = zlib.decompressobj()
        try:
            # max_length bounds the output: a zip bomb stops one byte past the promise.
            raw = inflater.decompress(data, expected + 1)
        except zlib.error as exc:
            raise SessionError(f"{label} holds corrupt compressed bytes ({exc}).") from None
        if len(raw) <= expected and (not inflater.eof or inflater.unused_data):
            raise SessionError(f"{label} holds corrupt compressed bytes (the zlib stream "
                               f"is truncated or followed by junk).")
    else:
        raise SessionError(f"{label} uses compression {str(compression)[:20]!r}, which is "
                           f"not one of {', '.join(COMPRESSIONS)}.")
    if len(raw) != expected:
        more = "more than that" if compression == "zlib" and len(raw) > expected else str(len(raw))
        raise SessionError(f"{said} but holds {more}.")
    arr = np.frombuffer(raw, dtype=np_dtype)
    if dtype == "bool" and expected and arr.view(np.uint8).max() > 1:
        raise SessionError(f"{label} is bool but holds bytes other than 0 and 1.")
    return arr.astype(np_dtype.newbyteorder("="), copy=True).reshape(shape)
