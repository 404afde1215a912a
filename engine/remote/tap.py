"""The worker's side of a remote run: every commit of its session writer goes up the
worker pipe as a ``rows`` message, already in wire form (engine/remote/protocol.py), so
the engine's server forwards it to its clients without touching it."""
from __future__ import annotations

import sqlite3

from .protocol import encode_rows


def stream_commits(writer, send) -> None:
    """Send the session's meta now (commit 0) and every later commit of ``writer``, numbered
    1, 2, ...: ``send({"kind": "rows", "seq": n, "table": header fields, "blobs": [bytes]})``."""
    db = sqlite3.connect(f"file:{writer.path}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()
    count = iter(range(1, 1 << 62))

    def tap(rows: dict) -> None:
        # Never raises: the writer would take a failure here for a failed transaction.
        seq = next(count)
        try:
            table, blobs = encode_rows(rows)
        except Exception as exc:  # noqa: BLE001 — a bug: the clients get a sentence, and no gap
            send({"kind": "log", "text": f"Commit {seq} could not be sent to the clients: {exc}."})
            table, blobs = {}, []
        send({"kind": "rows", "seq": seq, "table": table, "blobs": blobs})

    table, blobs = encode_rows({"meta": meta})
    send({"kind": "rows", "seq": 0, "table": table, "blobs": blobs})
    writer.tap = tap
