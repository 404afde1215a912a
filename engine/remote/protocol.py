"""The remote engine's wire format: ZeroMQ multipart messages, signed as Jupyter's kernel
messages are (HMAC-SHA256 with a shared key), never pickled.

A message is ``[signature, header, *blobs]`` (a ROUTER socket adds the peer's routing id in
front). ``header`` is UTF-8 JSON with at least ``{"v": 1, "id": unique, "kind": ...}``;
``blobs`` are raw bytes the header points at by index (tensor data, scalar columns). The
signature is the hex HMAC-SHA256, keyed with the token, of every frame after it, each
preceded by its length, so no byte can move from one frame to another unnoticed. The
token itself never travels. See docs/remote.md.

Session rows travel as the session file holds them (docs/session-format.md): a ``rows``
message carries one writer commit, table by table, and the client writes them into its
mirror file unchanged (engine/session/mirror.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import uuid

import numpy as np

from ..session import records

VERSION = 1
#: one scalar row on the wire: the columns of the scalars table, little-endian
SCALAR_ROW = np.dtype([("series", "<i8"), ("step", "<i8"), ("wall", "<f8"), ("value", "<f8")])
MAX_HEADER_BYTES = 64 << 20


class ProtocolError(ValueError):
    """A message that is not ours: one sentence saying what is wrong with it."""


def sign(key: bytes, frames) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for frame in frames:
        view = memoryview(frame)
        mac.update(view.nbytes.to_bytes(8, "little"))
        mac.update(view)
    return mac.hexdigest().encode("ascii")


def pack(key: bytes, kind: str, blobs=(), **fields) -> list:
    """The frames of one message: signature, JSON header, blobs."""
    header = {"v": VERSION, "id": uuid.uuid4().hex, "kind": kind, **fields}
    head = json.dumps(header, separators=(",", ":"), default=_plain).encode("utf-8")
    body = [head, *blobs]
    return [sign(key, body), *body]


def unpack(key: bytes, frames) -> tuple[dict, list]:
    """(header, blobs) of a message; ProtocolError when it is unsigned, wrongly signed or
    not a message of this protocol. ``frames`` may be zmq Frames or bytes."""
    frames = [f.buffer if hasattr(f, "buffer") else f for f in frames]
    if len(frames) < 2:
        raise ProtocolError("a message had no header")
    signature, body = bytes(frames[0]), frames[1:]
    if not hmac.compare_digest(signature, sign(key, body)):
        raise ProtocolError("a message was not signed with this token")
    return parse_header(body[0]), body[1:]


def parse_header(frame) -> dict:
    if memoryview(frame).nbytes > MAX_HEADER_BYTES:
        raise ProtocolError("a message header is larger than 64 MiB")
    try:
        header = json.loads(bytes(frame).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("a message header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise ProtocolError("a message header names no kind")
    if header.get("v") != VERSION:
        raise ProtocolError(f"a message is of protocol version {header.get('v')!r}, "
                            f"but this Neurostudio speaks version {VERSION}")
    return header


def _plain(value):
    """JSON for what the worker's messages hold besides plain types (numpy numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


# -- session rows ----------------------------------------------------------------------------
def encode_rows(rows: dict) -> tuple[dict, list]:
    """A writer commit (SessionWriter._committed_rows) or a snapshot part as (header fields,
    blobs). Arrays stay bytes; nothing is decoded or re-encoded."""
    blobs: list = []

    def blob(data) -> int:
        blobs.append(data)
        return len(blobs) - 1

    out: dict = {}
    if rows.get("series"):
        out["series"] = [list(r) for r in rows["series"]]
    if rows.get("scalars"):
        arr = np.empty(len(rows["scalars"]), SCALAR_ROW)
        for i, (sid, step, wall, value) in enumerate(rows["scalars"]):
            arr[i] = (sid, step, wall, math.nan if value is None else value)
        out["scalars"] = blob(arr.tobytes())
    if rows.get("tensors"):
        out["tensors"] = [[s, st, w, d, sh, c, blob(data)] for s, st, w, d, sh, c, data in rows["tensors"]]
    if rows.get("events"):
        out["events"] = [list(r) for r in rows["events"]]
    for key in ("dropped", "checkpoint_steps"):
        if rows.get(key) is not None:
            out[key] = list(rows[key])
    if rows.get("checkpoints"):
        out["checkpoints"] = [list(r) for r in rows["checkpoints"]]
    if rows.get("checkpoint_tensors"):
        out["checkpoint_tensors"] = [[st, p, n, d, sh, c, blob(data)]
                                     for st, p, n, d, sh, c, data in rows["checkpoint_tensors"]]
    if rows.get("probe"):
        out["probe"] = [[n, d, sh, c, blob(data)] for n, d, sh, c, data in rows["probe"]]
    if rows.get("meta"):
        out["meta"] = dict(rows["meta"])
    return out, blobs


def decode_rows(table: dict, blobs: list) -> dict:
    """The rows of a ``rows`` message, checked as a session reader checks a file: every
    value of the right type, every array header valid and its bytes the promised length.
    ProtocolError names the first thing wrong."""
    if not isinstance(table, dict):
        raise ProtocolError("a rows message holds no tables")
    out: dict = {}
    try:
        out["series"] = [(_int(i), _kind(k), _text(n)) for i, k, n in table.get("series", ())]
        if "scalars" in table:
            data = _blob(blobs, table["scalars"])
            if len(data) % SCALAR_ROW.itemsize:
                raise ProtocolError("a scalars column is cut short")
            arr = np.frombuffer(data, SCALAR_ROW)
            out["scalars"] = [(int(s), _step(int(st)), float(w), None if v != v else float(v))
                              for s, st, w, v in arr.tolist()]
        out["tensors"] = [(_int(s), _step(st), _num(w), *_array(f"tensor at step {st}", d, sh, c, blobs, b))
                          for s, st, w, d, sh, c, b in table.get("tensors", ())]
        out["events"] = [(_int(i), _step(st), _num(w), _text(k), _text(m), _json_text(data))
                         for i, st, w, k, m, data in table.get("events", ())]
        out["dropped"] = [_step(s) for s in table.get("dropped", ())]
        if "checkpoint_steps" in table:
            out["checkpoint_steps"] = [_step(s) for s in table["checkpoint_steps"]]
        out["checkpoints"] = [(_step(st), _num(w), _json_text(opt)) for st, w, opt in table.get("checkpoints", ())]
        out["checkpoint_tensors"] = [
            (_step(st), _part(p), _text(n), *_array(f"checkpoint array {n!r}", d, sh, c, blobs, b))
            for st, p, n, d, sh, c, b in table.get("checkpoint_tensors", ())]
        out["probe"] = [(_text(n), *_array(f"probe array {n!r}", d, sh, c, blobs, b))
                        for n, d, sh, c, b in table.get("probe", ())]
        meta = table.get("meta", {})
        if not isinstance(meta, dict):
            raise ProtocolError("the meta rows are not a table")
        out["meta"] = {_text(k): _json_text(v) for k, v in meta.items()}
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"a rows message is malformed ({exc})") from None
    return out


def _int(v) -> int:
    if type(v) is not int:
        raise ProtocolError(f"{v!r} is not an integer")
    return v


def _step(v) -> int:
    if type(v) is not int or v < 0:
        raise ProtocolError(f"step {v!r} is not an integer >= 0")
    return v


def _num(v) -> float:
    if type(v) not in (int, float):
        raise ProtocolError(f"{v!r} is not a number")
    return float(v)


def _text(v) -> str:
    if not isinstance(v, str):
        raise ProtocolError(f"{v!r} is not text")
    return v


def _kind(v) -> str:
    if v not in ("scalar", "tensor"):
        raise ProtocolError(f"series kind {v!r} is neither 'scalar' nor 'tensor'")
    return v


def _part(v) -> str:
    if v not in ("weights", "optimizer"):
        raise ProtocolError(f"checkpoint part {v!r} is neither 'weights' nor 'optimizer'")
    return v


def _json_text(v):
    """A JSON text column (or NULL): it must parse, as a reader would check it later."""
    if v is None:
        return None
    try:
        json.loads(_text(v))
    except ValueError:
        raise ProtocolError("a JSON column does not parse") from None
    return v


def _blob(blobs: list, index) -> bytes:
    if type(index) is not int or not 0 <= index < len(blobs):
        raise ProtocolError(f"a row points at data frame {index!r}, which the message lacks")
    return blobs[index]


def _array(what: str, dtype, shape, compression, blobs, index) -> tuple:
    data = _blob(blobs, index)
    try:
        records.check_header(what, dtype, shape, compression, len(data))
    except Exception as exc:  # SessionError: the same checks a reader makes on a file
        raise ProtocolError(str(exc).rstrip(".")) from None
    return dtype, shape, compression, bytes(data)
