"""The frames between the training process and its capture helper (engine/probes/protocol.py):
what is written is what the other side reads, and a broken frame is refused."""
from __future__ import annotations

import io
import math
import struct

import numpy as np
import pytest

from engine.probes.protocol import ProtocolError, encode_arrays, read_frame, write_frame, write_step


def frames(write) -> list:
    buf = io.BytesIO()
    write(buf)
    buf.seek(0)
    out = []
    while True:
        try:
            out.append(read_frame(buf))
        except EOFError:
            return out


@pytest.mark.parametrize("stats,capture", [({"before": "slot", "loss": 0.5}, False),
                                           ({"before": "previous", "loss": None}, True),
                                           ({"before": None, "loss": -2.0}, True),
                                           (None, True)])
@pytest.mark.parametrize("flush,diagnose", [(False, True), (True, False)])
def test_a_step_request_reads_back_as_the_header_it_stands_for(stats, capture, flush, diagnose):
    [(header, rows)] = frames(lambda b: write_step(b, 12, 3401, 5, stats, diagnose, flush, True, capture))
    assert rows == {}
    expected = None if stats is None else {"present": "all", "before": stats["before"], "acts": "all",
                                           "loss": stats["loss"]}
    assert header == {"kind": "step", "seq": 12, "step": 3401, "slot": 5, "capture": capture, "handover": None,
                      "flush": flush, "diagnose": diagnose, "stats": expected}


def test_json_frames_and_step_requests_interleave_with_their_arrays():
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([math.pi])}

    def write(b):
        write_frame(b, {"kind": "result", "step": 7}, encode_arrays(arrays), flush=False)
        write_step(b, 1, 8, 0, None, False, False, False, capture=True)
        write_frame(b, {"kind": "flushed"})
    (h1, rows), (h2, _), (h3, none) = frames(write)
    assert h1 == {"kind": "result", "step": 7} and h2["capture"] and h2["stats"] is None and h3 == {"kind": "flushed"}
    assert none == {} and sorted(rows) == ["a", "b"]
    assert rows["a"][:2] == ("float32", "[2, 3]") and np.frombuffer(rows["a"][3], "<f4").tolist() == list(range(6))


def test_a_frame_whose_arrays_do_not_add_up_is_refused():
    head = b'{"kind": "x", "arrays": [["a", "uint8", "[4]", "none", 4]]}'
    bad = io.BytesIO(struct.pack("<II", len(head), 3) + head + b"abc")
    with pytest.raises(ProtocolError, match="do not add up"):
        read_frame(bad)
