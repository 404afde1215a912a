"""A whole session file as ``rows`` parts, for a client whose mirror is further behind than
the commits the engine still holds in memory (a late or long-gone client).

The parts are read in one read transaction, so they show one committed state of the file;
that state holds at least every commit the engine had received when the snapshot began
(the worker writes a commit before it sends it). Commits after that are sent again after
the snapshot; the mirror applies rows by key, so twice is harmless.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

PART_BYTES = 8 << 20      # about this much array data per part
PART_ROWS = 200_000       # and at most this many small rows


def snapshot_parts(path: Path):
    """Yield row dicts (as SessionWriter._committed_rows makes them) that rebuild the
    session at ``path``; the first holds the meta table, the last the set of checkpoint
    steps (so a mirror drops checkpoints the engine has dropped)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("BEGIN")  # one consistent state of the file for every part
        yield {"meta": dict(db.execute("SELECT key, value FROM meta"))}
        yield from _chunks("series", db.execute("SELECT id, kind, name FROM series"))
        yield from _chunks("scalars", db.execute("SELECT series, step, wall, value FROM scalars"))
        yield from _sized("tensors", db.execute(
            "SELECT series, step, wall, dtype, shape, compression, data FROM tensors ORDER BY id"))
        yield from _chunks("events", db.execute("SELECT id, step, wall, kind, message, data FROM events ORDER BY id"))
        yield from _chunks("checkpoints", db.execute("SELECT step, wall, optimizer FROM checkpoints"))
        yield from _sized("checkpoint_tensors", db.execute(
            "SELECT step, part, name, dtype, shape, compression, data FROM checkpoint_tensors"))
        probe = db.execute("SELECT name, dtype, shape, compression, data FROM probe").fetchall()
        steps = [s for (s,) in db.execute("SELECT step FROM checkpoints ORDER BY step")]
        yield {"probe": probe, "checkpoint_steps": steps}
        db.execute("COMMIT")
    finally:
        db.close()


def _chunks(table: str, cursor):
    while True:
        rows = cursor.fetchmany(PART_ROWS)
        if not rows:
            return
        yield {table: rows}


def _sized(table: str, cursor):
    rows, size = [], 0
    for row in cursor:
        rows.append(row)
        size += len(row[-1])
        if size >= PART_BYTES:
            yield {table: rows}
            rows, size = [], 0
    if rows:
        yield {table: rows}
