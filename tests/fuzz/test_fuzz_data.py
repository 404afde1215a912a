"""Fuzzing every dataset reader (IDX plain and gzip, npz, CSV, text, image folder) with
generated and damaged files: a DataError of one sentence or a dataset, memory bounded by
the (scaled-down) limits before anything a header promises is allocated, no pickle runs."""
from __future__ import annotations

import gzip
import io
import math
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import DataError, load_dataset

from .conftest import examples
from .helpers import PICKLE, bounded, no_code_ran, only

BOUND = 256 << 20      # traced peak: several copies of a dataset at the 64 MiB limit
DIMS = st.one_of(st.integers(0, 12), st.sampled_from([2**32 - 1, 2**31, 10**6, 65536, 0]))


def load(folder: Path, ref: dict):
    with bounded(BOUND):
        result = only(DataError, load_dataset, ref, seed=0, val_fraction=0.2, base_dir=folder)
    no_code_ran()
    return result


def folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="fuzz-data-"))


def damage(data, raw: bytes) -> bytes:
    raw = bytearray(raw)
    how = data.draw(st.sampled_from(["keep", "truncate", "flip", "append"]))
    if how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    elif how == "flip" and raw:
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "append":
        raw += data.draw(st.binary(max_size=64))
    return bytes(raw)


# ---- IDX ---------------------------------------------------------------------------------

@settings(max_examples=examples(200))
@given(st.data())
def test_idx(data):
    f = folder()
    code = data.draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    dims = data.draw(st.lists(DIMS, min_size=0, max_size=5))
    itemsize = {0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(code, 1)
    promised = math.prod(dims) * itemsize if dims else 0
    size = promised if promised < 20_000 and data.draw(st.booleans()) else data.draw(st.integers(0, 2000))
    header = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    images = damage(data, header + data.draw(st.binary(min_size=size, max_size=size)))
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", dims[0] if dims else 0) + bytes(
        min(dims[0] if dims else 0, 20_000))
    if data.draw(st.booleans()):   # gzip, sometimes a bomb far past the header's promise
        images = gzip.compress(images + (bytes(data.draw(st.sampled_from([0, 10**6, 20 * 10**6])))), 6)
        images = damage(data, images)
    (f / "i-idx3-ubyte").write_bytes(images)
    (f / "l-idx1-ubyte").write_bytes(labels)
    load(f, {"path": "i-idx3-ubyte", "labels": "l-idx1-ubyte"})


# ---- npz ---------------------------------------------------------------------------------

def npy_member(data) -> bytes:
    """An .npy member: real, with a lying header, object dtype, a pickle, or junk."""
    kind = data.draw(st.sampled_from(["real", "lying", "object", "pickle", "junk", "structured"]))
    if kind == "junk":
        return data.draw(st.binary(max_size=200))
    if kind == "pickle":
        return PICKLE
    buf = io.BytesIO()
    if kind == "object":
        np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        return buf.getvalue()
    if kind == "structured":
        np.save(buf, np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))
        return buf.getvalue()
    shape = tuple(data.draw(st.lists(st.integers(0, 6), min_size=1, max_size=4)))
    dtype = data.draw(st.sampled_from(["<f4", "<f8", "|u1", "<i8", ">i4", "<f2", "|b1", "<c8", "<U3", "<M8[s]"]))
    arr = np.zeros(shape, dtype=dtype)
    np.save(buf, arr)
    raw = buf.getvalue()
    if kind == "lying":
        fake = data.draw(st.sampled_from(["(1000000, 1000000)", "(-1, 3)", "(3,)", "()", "(2, 10**9)",
                                          "(65536, 65536, 65536)", "'x'"]))
        raw = raw.replace(repr(shape).encode(), fake.encode(), 1)
    return damage(data, raw)


@settings(max_examples=examples(200))
@given(st.data())
def test_npz(data):
    f = folder()
    buf = io.BytesIO()
    method = data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
    with zipfile.ZipFile(buf, "w", method) as z:
        for name in data.draw(st.sampled_from([["x.npy", "y.npy"], ["x", "y"], ["x.npy"], ["y.npy", "x.npy", "z.npy"]])):
            z.writestr(name, npy_member(data))
        if data.draw(st.booleans()):   # a member that inflates to 20 MB from a few kB
            z.writestr("bomb.npy", bytes(20_000_000))
    (f / "d.npz").write_bytes(damage(data, buf.getvalue()))
    load(f, {"path": "d.npz", "input_dtype": data.draw(st.sampled_from([None, "float", "long"]))})


# ---- CSV and text ------------------------------------------------------------------------

CELLS = st.one_of(st.sampled_from(["0", "1", "2", "-1", "1.5", "1e400", "nan", "inf", "", " ", "a", "b",
                                   "9" * 30, '"q,uoted"', "\x00", "é"]), st.text(max_size=6))


@settings(max_examples=examples(200))
@given(st.data())
def test_csv(data):
    f = folder()
    delimiter = data.draw(st.sampled_from([",", "\t", ";"]))
    width = data.draw(st.integers(1, 5))
    rows = data.draw(st.lists(st.lists(CELLS, min_size=width - 1, max_size=width + 1), max_size=30))
    text = "\n".join(delimiter.join(r) for r in rows)
    (f / "d.csv").write_bytes(damage(data, text.encode("utf-8", errors="replace")))
    ref = {"path": "d.csv"}
    for key, values in (("label_column", [0, -1, 5, "a", "missing", True, 1.5]), ("header", [True, False, "yes"]),
                        ("target", ["class", "value", "other"]), ("delimiter", [";", "", ",,", 3])):
        if data.draw(st.booleans()):
            ref[key] = data.draw(st.sampled_from(values))
    load(f, ref)


@settings(max_examples=examples(150))
@given(st.text(max_size=300), st.one_of(st.integers(-1, 40), st.sampled_from([10**6, 2**40, True, "8", None])),
       st.one_of(st.integers(-1, 5), st.sampled_from([None, 10**9])), st.booleans())
def test_text(text, seq_len, stride, raw_bytes):
    f = folder()
    (f / "t.txt").write_bytes(text.encode("utf-8", errors="replace") if not raw_bytes else
                              text.encode("utf-16"))
    ref = {"path": "t.txt"}
    if seq_len is not None:
        ref["seq_len"] = seq_len
    if stride is not None:
        ref["stride"] = stride
    load(f, ref)


# ---- image folder ------------------------------------------------------------------------

def _png(width: int, height: int, payload: bytes) -> bytes:
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(payload)) + chunk(b"IEND", b""))


def image_bytes(data) -> tuple[str, bytes]:
    from PIL import Image
    kind = data.draw(st.sampled_from(["real", "real", "declared", "junk"]))
    if kind == "junk":
        return data.draw(st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif"])), data.draw(st.binary(max_size=100))
    if kind == "declared":   # a header that declares any size over little data
        w, h = data.draw(st.sampled_from([(12000, 12000), (4096, 4096), (1, 10**6), (0, 5), (65535, 65535), (3, 3)]))
        return ".png", _png(w, h, bytes(data.draw(st.integers(0, 2000))))
    mode = data.draw(st.sampled_from(["L", "RGB", "RGBA", "P", "1", "I;16", "F"]))
    w, h = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    fmt, suffix = data.draw(st.sampled_from([("PNG", ".png"), ("GIF", ".gif"), ("BMP", ".bmp"), ("TIFF", ".tif")]))
    buf = io.BytesIO()
    try:
        Image.new(mode, (w, h)).save(buf, fmt)
    except (OSError, ValueError, KeyError):
        Image.new("L", (w, h)).save(buf, "PNG")
        suffix = ".png"
    return suffix, damage(data, buf.getvalue())


@settings(max_examples=examples(150))
@given(st.data())
def test_image_folder(data):
    f = folder()
    for cls in data.draw(st.sampled_from([["a", "b"], ["a"], ["a", "b", "c"]])):
        (f / cls).mkdir()
        for i in range(data.draw(st.integers(0, 3))):
            suffix, raw = image_bytes(data)
            (f / cls / f"{i}{suffix}").write_bytes(raw)
    ref = {"path": "."}
    if data.draw(st.booleans()):
        ref["size"] = data.draw(st.sampled_from([4, [3, 5], 0, 5000, [1], "8", [2.5, 2]]))
    if data.draw(st.booleans()):
        ref["channels"] = data.draw(st.sampled_from([1, 3, 2, None]))
    load(f, ref)
