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
from .limits import MAX_DIMS, MAX_RECORD_BYTES

# Name written in the file -> numpy dtype with an explicit byte order (always little-endian).
DTYPES = {
    "bool": "|b1", "uint8": "|u1", "int8": "|i1",
    "int16": "<i2", "uint16": "<u2", "int32": "<i4", "uint32": "<u4",
    "int64": "<i8", "uint64": "<u8",
    "float16": "<f2", "float32": "<f4", "float64": "<f8",
}
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
    if isinstance(text, (str, bytes)) and len(text) > 1024:
        shape = None  # far longer than any list of MAX_DIMS int64 values
    else:
        try:
            shape = json.loads(text) if isinstance(text, (str, bytes)) else None
        except (ValueError, RecursionError):
            shape = None
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(type(d) is int and d >= 0 for d in shape)):
        raise SessionError(f"{label} has an unreadable shape {_excerpt(text)} "
                           f"(expected a JSON list of at most {MAX_DIMS} non-negative ints).")
    return tuple(shape)


def _excerpt(value, limit: int = 40) -> str:
    text = "".join(c if c.isprintable() else "?" for c in str(value)[:limit + 1])
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def check_header(label: str, dtype, shape_json, compression, stored: int
                 ) -> tuple[np.dtype, tuple[int, ...], int]:
    """Everything about a record that can be known without reading its bytes: the numpy
    dtype, the shape and the size the shape implies, each checked. ``stored`` is the
    length of the stored (maybe compressed) bytes."""
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SessionError(f"{label} has dtype {_excerpt(dtype)}, which is not allowed "
                           f"(allowed: {', '.join(DTYPES)}).")
    shape = parse_shape(label, shape_json)
    np_dtype = np.dtype(DTYPES[dtype])
    expected = math.prod(shape) * np_dtype.itemsize

    def said() -> str:
        return f"{label} says shape {shape_text(shape)} {dtype} = {expected} bytes"
    if expected > MAX_RECORD_BYTES:
        raise SessionError(f"{said()}, more than the {MAX_RECORD_BYTES} bytes a record may hold.")
    if expected == 0 and math.prod(max(d, 1) for d in shape) * np_dtype.itemsize > MAX_RECORD_BYTES:
        # empty, but numpy refuses a shape whose other dims are this big
        raise SessionError(f"{label} has a shape {shape_text(shape)} that no record of at most "
                           f"{MAX_RECORD_BYTES} bytes has.")
    if compression == "none":
        if stored != expected:
            raise SessionError(f"{said()} but holds {stored}.")
    elif compression == "zlib":
        # zlib never grows data by more than ~0.03 % plus a few bytes (deflateBound):
        # anything longer cannot inflate to the promised size.
        if stored > expected + (expected >> 10) + 64:
            raise SessionError(f"{said()} but holds more than that.")
    else:
        raise SessionError(f"{label} uses compression {_excerpt(compression)}, which is "
                           f"not one of {', '.join(COMPRESSIONS)}.")
    return np_dtype, shape, expected


_CHUNK = 1 << 20   # bytes read (and inflated) at a time: the only memory beyond the array


def decode(label: str, dtype, shape_json, compression, data, budget=None,
           header: tuple | None = None) -> np.ndarray:
    """One stored record -> a fresh, writable, native-order numpy array, or SessionError.

    ``data`` is the stored bytes, or an open ``sqlite3.Blob`` (read in chunks, so a big
    record never exists twice in memory); ``budget`` (a MemoryBudget) counts the array;
    ``header`` is what :func:`check_header` returned for this record, if already called."""
    if not isinstance(data, bytes) and not hasattr(data, "read"):
        raise SessionError(f"{label} holds {type(data).__name__} instead of bytes.")
    np_dtype, shape, expected = header or check_header(label, dtype, shape_json, compression, len(data))
    out = np.empty(expected, dtype=np.uint8) if budget is None else budget.allocate(expected, label)
    if compression == "none":
        _copy(data, out)
    else:
        _inflate(label, data, out, lambda: f"{label} says shape {shape_text(shape)} {dtype} = {expected} bytes")
    arr = out.view(np_dtype)
    if dtype == "bool" and expected and out.max() > 1:
        raise SessionError(f"{label} is bool but holds bytes other than 0 and 1.")
    if not np_dtype.isnative:  # only on big-endian machines
        arr = arr.byteswap(inplace=True).view(np_dtype.newbyteorder("="))
    return arr.reshape(shape)


def _chunks(data):
    if isinstance(data, bytes):
        view = memoryview(data)
        for start in range(0, len(view), _CHUNK):
            yield view[start:start + _CHUNK]
        return
    while True:
        piece = data.read(_CHUNK)
        if not piece:
            return
        yield piece


def _copy(data, out: np.ndarray) -> None:
    if isinstance(data, bytes):
        out[:] = np.frombuffer(data, dtype=np.uint8)
        return
    pos = 0
    for piece in _chunks(data):
        out[pos:pos + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        pos += len(piece)


def _inflate(label: str, data, out: np.ndarray, said) -> None:
    """Inflate into ``out``, never past its end: a zip bomb stops one byte past its promise."""
    inflater = zlib.decompressobj()
    pos, size, junk = 0, len(out), False
    try:
        for piece in _chunks(data):
            if inflater.eof:
                junk = True
                break
            while True:
                # Output in bounded pieces too: a small chunk of a zero-filled record
                # inflates to hundreds of MB, which must go straight into ``out``.
                room = min(_CHUNK, size - pos + 1)   # never 0: max_length 0 is unbounded
                got = inflater.decompress(piece, room)
                if pos + len(got) > size:
                    raise SessionError(f"{said()} but holds more than that.")
                out[pos:pos + len(got)] = np.frombuffer(got, dtype=np.uint8)
                pos += len(got)
                piece = inflater.unconsumed_tail
                if inflater.eof or (not piece and len(got) < room):
                    break
    except zlib.error as exc:
        raise SessionError(f"{label} holds corrupt compressed bytes ({exc}).") from None
    if not inflater.eof or junk or inflater.unused_data:
        raise SessionError(f"{label} holds corrupt compressed bytes (the zlib stream is "
                           f"truncated or followed by junk).")
    if pos != size:
        raise SessionError(f"{said()} but holds {pos}.")
