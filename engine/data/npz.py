"""Reading arrays x and y from a stranger's .npz without trusting it.

``np.load`` would do, with ``allow_pickle=False``, but it allocates whatever shape an .npy
header promises before reading a byte (a 1 kB member can promise 10^12 elements), a
member that is not an .npy comes back as raw bytes (which then failed with an
AttributeError), and a compressed member can inflate far past its size. Here the header is
read first and checked (numeric dtype, no objects, a size within the limit and within the
member), and only then the array is allocated and filled from the member.
"""
from __future__ import annotations

import lzma
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .base import DataError
from .limits import check_data_bytes

# Anything the zip module or a decompressor may raise on a damaged or unusual archive.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
               RuntimeError, NotImplementedError, zlib.error, lzma.LZMAError, struct.error,
               KeyError, IndexError, OverflowError)
_HEADER_LIMIT = 10_000   # numpy's own default for the .npy header's size


def read_npz(path: Path, keys=("x", "y")) -> list[np.ndarray]:
    """The arrays ``keys`` of the .npz at ``path``; DataError names the file and the problem."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":  # anything else np.load would try to unpickle
        raise DataError(f"{path} is not a readable .npz file (an .npz is a zip archive of arrays x and y).")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            chosen = []
            for key in keys:
                info = members.get(f"{key}.npy")
                if info is None:
                    names = ", ".join(_name(n) for n in list(members)[:8]) or "none"
                    raise DataError(f"{path} has no array '{key}'; an .npz dataset needs arrays x and y "
                                    f"(it holds {names}{', ...' if len(members) > 8 else ''}).")
                chosen.append((key, info))
            headers = [(key, info, _header(archive, info, path, key)) for key, info in chosen]
            check_data_bytes(sum(_float_bytes(h) for _k, _i, h in headers), f"The arrays of {path}")
            return [_read(archive, info, header, path, key) for key, info, header in headers]
    except DataError:
        raise
    except _ZIP_ERRORS as exc:
        raise DataError(f"{path} is not a readable .npz file ({_name(type(exc).__name__)}).") from None


def _name(text) -> str:
    s = "".join(c if c.isprintable() else "?" for c in str(text)[:41])
    return s[:40] + ("…" if len(s) > 40 else "")


def _header(archive, info, path: Path, key: str):
    """(shape, fortran order, dtype, bytes of data, header length) of a member .npy."""
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=_HEADER_LIMIT)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=_HEADER_LIMIT)
            else:
                raise ValueError("unsupported .npy version")
        except Exception:  # numpy parses the header with ast/tokenize: any of their errors
            raise DataError(f"{path}: member '{key}.npy' is not a NumPy array file (.npy).") from None
        offset = f.tell()
    if len(shape) > 32:
        raise DataError(f"{path}: array {key} has {len(shape)} dimensions; a dataset array has at most 32.")
    if dtype.hasobject:
        raise DataError(f"{path} holds object arrays, which cannot be loaded without pickle; "
                        "save plain numeric arrays.")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise DataError(f"{path}: array {key} holds {_name(dtype)} values; it must be numeric.")
    nbytes = math.prod(shape) * dtype.itemsize
    return shape, fortran, dtype, nbytes, offset


def _float_bytes(header) -> int:
    """What the trainer will hold: inputs become float32 (at least), labels int64."""
    shape, _f, dtype, _n, _o = header
    return math.prod(max(d, 1) for d in shape) * max(4, dtype.itemsize)  # zero dims excuse no others


def _read(archive, info, header, path: Path, key: str) -> np.ndarray:
    shape, fortran, dtype, nbytes, offset = header
    if offset + nbytes > info.file_size:
        raise DataError(f"{path}: array {key} says it is {_shape(shape)} {dtype} ({nbytes} bytes) "
                        f"but its member holds {max(0, info.file_size - offset)} bytes of data.")
    flat = np.empty(math.prod(shape), dtype=dtype)
    view = memoryview(flat).cast("B")
    with archive.open(info) as f:
        f.read(offset)  # the header, checked already
        got = 0
        while got < nbytes:
            n = f.readinto(view[got:got + (1 << 20)])
            if not n:
                raise DataError(f"{path}: array {key} is cut short ({got} of {nbytes} bytes).")
            got += n
    arr = flat.reshape(shape, order="F" if fortran else "C")
    return arr.astype(dtype.newbyteorder("="), copy=False) if not dtype.isnative else arr


def _shape(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"
