"""Messages between the training process and its capture helper (:mod:`.helper`), over
the helper's stdin and stdout. No pickle: a frame is two little-endian uint32 lengths,
a JSON header and the bytes of the arrays it lists, each encoded as a session record
(:mod:`engine.session.records`: dtype name, JSON shape, compression, bytes), so that a
capture's rows go into the session file exactly as the helper made them. The request
for a training step's statistics, sent every step, and for a capture is a fixed binary
frame instead (:func:`write_step`).
"""
from __future__ import annotations

import json
import math
import struct

from ..session import records

_LENGTHS = struct.Struct("<II")
MAX_HEADER = 64 << 20
# A training step's statistics request, sent every step: a fixed binary frame rather than
# JSON (encoding a header costs the training loop more than the statistics it ships).
# Its first length is this mark (no header is that long), its second the flags.
_STEP_MARK = 0xFFFFFFFF
_STEP = struct.Struct("<qqid")   # seq, step, slot, loss (NaN: none)
STEP_FLUSH, STEP_BEFORE_SLOT, STEP_BEFORE_PREVIOUS, STEP_DIAGNOSE = 1, 2, 4, 8
STEP_CAPTURE, STEP_NO_STATS = 16, 32
_BEFORE_FLAGS = {"slot": STEP_BEFORE_SLOT, "previous": STEP_BEFORE_PREVIOUS}


class ProtocolError(RuntimeError):
    """The other side sent something that is not a frame (or went away mid-frame)."""


def write_frame(stream, header: dict, rows: dict[str, tuple] | None = None, flush: bool = True) -> None:
    """``rows``: name -> (dtype, shape JSON, compression, bytes) as records.encode makes.
    ``flush=False`` leaves the frame in the stream's buffer (sent with the next flush)."""
    rows = rows or {}
    meta = dict(header)
    meta["arrays"] = [[name, d, shape, comp, len(data)] for name, (d, shape, comp, data) in rows.items()]
    head = json.dumps(meta).encode()
    payload = sum(len(r[3]) for r in rows.values())
    stream.write(_LENGTHS.pack(len(head), payload))
    stream.write(head)
    for _, _, _, data in rows.values():
        stream.write(data)
    if flush:
        stream.flush()


def write_step(stream, seq: int, step: int, slot: int, stats: dict | None, diagnose: bool, flush: bool,
               push: bool, capture: bool = False) -> None:
    """The statistics of ``step`` fill ``slot`` as every step's do (every gradient's norm,
    the outputs as laid out), or ``stats`` is None; ``capture``: and a capture of the
    weights in the slot, with nothing to hand over. ``stats``: "before", where the weights
    before the update are ("slot", "previous": the last step's weights after it, or None),
    and "loss". ``diagnose``: whether to run the diagnostics on the step; ``flush``: whether
    the helper sends what it measured at once (else in its next batch); ``push``: whether
    the frame leaves the stream's buffer now."""
    flags = ((STEP_FLUSH if flush else 0) | (STEP_DIAGNOSE if diagnose else 0) | (STEP_CAPTURE if capture else 0))
    if stats is None:
        flags, loss = flags | STEP_NO_STATS, None
    else:
        flags, loss = flags | _BEFORE_FLAGS.get(stats["before"], 0), stats["loss"]
    stream.write(_LENGTHS.pack(_STEP_MARK, flags) + _STEP.pack(seq, step, slot, math.nan if loss is None else loss))
    if push:
        stream.flush()


def _step_header(flags: int, raw: bytes) -> dict:
    seq, step, slot, loss = _STEP.unpack(raw)
    before = "slot" if flags & STEP_BEFORE_SLOT else "previous" if flags & STEP_BEFORE_PREVIOUS else None
    stats = None if flags & STEP_NO_STATS else {
        "present": "all", "before": before, "acts": "all", "loss": None if math.isnan(loss) else loss}
    return {"kind": "step", "seq": seq, "step": step, "slot": slot, "capture": bool(flags & STEP_CAPTURE),
            "handover": None, "flush": bool(flags & STEP_FLUSH), "diagnose": bool(flags & STEP_DIAGNOSE),
            "stats": stats}


def _exactly(stream, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        piece = stream.read(n - got)
        if not piece:
            raise EOFError("the other side closed the pipe")
        chunks.append(piece)
        got += len(piece)
    return b"".join(chunks)


def read_frame(stream) -> tuple[dict, dict[str, tuple]]:
    """(header, rows) of the next frame; EOFError when the pipe is closed between frames."""
    raw = stream.read(_LENGTHS.size)
    if not raw:
        raise EOFError("the other side closed the pipe")
    if len(raw) < _LENGTHS.size:
        raw += _exactly(stream, _LENGTHS.size - len(raw))
    n_head, n_payload = _LENGTHS.unpack(raw)
    if n_head == _STEP_MARK:
        return _step_header(n_payload, _exactly(stream, _STEP.size)), {}
    if n_head > MAX_HEADER:
        raise ProtocolError(f"a frame header of {n_head} bytes is too long")
    try:
        header = json.loads(_exactly(stream, n_head))
        arrays = header.pop("arrays")
    except (ValueError, KeyError) as exc:
        raise ProtocolError(f"unreadable frame header ({exc})") from None
    if sum(int(a[4]) for a in arrays) != n_payload:
        raise ProtocolError("a frame's arrays do not add up to its payload")
    payload = memoryview(_exactly(stream, n_payload))
    rows, pos = {}, 0
    for name, dtype, shape, comp, size in arrays:
        records.check_header(f"array {name!r}", dtype, shape, comp, int(size))
        rows[name] = (dtype, shape, comp, bytes(payload[pos:pos + size]))
        pos += size
    return header, rows


def encode_arrays(arrays: dict, compress: bool | None = None) -> dict[str, tuple]:
    return {name: records.encode(a, compress, f"array {name!r}") for name, a in arrays.items()}


def decode_row(name: str, row: tuple):
    return records.decode(f"array {name!r}", *row)
