"""The capture helper process: ``python -m engine.probes.helper``, started by
:class:`engine.probes.offpath.ProcessCaptures`, never by a person.

It reads frames (:mod:`.protocol`) on stdin: one "init" (the graph document, the probe
batch, the snapshot slots' shared-memory files and their layout), then "capture"
requests (step, slot, and the histogram ranges when they were handed over), and "close".
For each capture it loads the slot into its own copy of the network, runs the capture
exactly as the training process would inline, and writes the encoded rows back on stdout.
Its stdin closing (the training process ended, however it ended) ends it too.
"""
from __future__ import annotations

import os
import sys
import time
import traceback


def main() -> int:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the frames
    inp = sys.stdin.buffer
    from .protocol import decode_row, encode_arrays, read_frame, write_frame
    try:
        header, rows = read_frame(inp)
        import torch
        torch.set_num_threads(max(1, int(header.get("threads", 1))))
        from ..graph.document import GraphDocument
        from .offpath import CaptureModel, _views
        doc = GraphDocument.from_dict(header["graph"])
        dtype = getattr(torch, header["dtype"])
        x = torch.from_numpy(decode_row("x", rows["x"]))
        y = torch.from_numpy(decode_row("y", rows["y"]))
        grid_x = torch.from_numpy(decode_row("grid_x", rows["grid_x"])) if "grid_x" in rows else None
        layout = header["layout"]
        cm = CaptureModel(doc, "cpu", dtype, x, y, int(header["max_channels"]), int(header["bins"]),
                          grid_x, int(header.get("grid", 0)), [entry[0] for entry in layout])
        cm.capture.load_ranges(header.get("ranges") or {})
        slots = [_views(torch.from_file(path, shared=True, size=int(header["size"]), dtype=torch.uint8),
                        layout, cm.tensors) for path in header["slots"]]
    except Exception as exc:
        write_frame(out, {"kind": "fatal", "message": f"{type(exc).__name__}: {exc}",
                          "details": traceback.format_exc()})
        return 1
    write_frame(out, {"kind": "ready", "pid": os.getpid()})
    while True:
        try:
            header, _ = read_frame(inp)
        except EOFError:
            return 0
        if header.get("kind") != "capture":
            return 0
        step, slot = int(header["step"]), int(header["slot"])
        start = time.perf_counter()
        try:
            cm.take_over(header.get("handover"))
            cm.load(slots[slot])
            rows = encode_arrays(cm.run())
            reply = {"kind": "result", "step": step, "slot": slot, "ranges": cm.capture.ranges()}
        except Exception as exc:  # a probe bug: the recorder reports it and stops captures
            rows = {}
            reply = {"kind": "result", "step": step, "slot": slot,
                     "error": f"{type(exc).__name__}: {exc}", "details": traceback.format_exc()}
        reply["seconds"] = time.perf_counter() - start
        try:
            write_frame(out, reply, rows)
        except (BrokenPipeError, OSError):
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
