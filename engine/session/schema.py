"""The SQLite schema of a session file (documented column by column in
docs/session-format.md; change both together, and bump FORMAT_VERSION when an existing
column changes meaning)."""
from __future__ import annotations

FORMAT_NAME = "neurostudio.session"
FORMAT_VERSION = 1
APPLICATION_ID = 0x4E535331  # "NSS1" in the SQLite header, so `file` tools can tell

# Meta keys the writer owns; set_meta() refuses them.
RESERVED_META = ("format", "format_version", "created", "graph", "settings",
                 "dataset_info", "parent", "last_step")

# The columns every table of version 1 has, in order: a reader checks them when it opens a
# file (later versions may add columns; none may be computed, see engine/session/guard.py).
COLUMNS = {
    "meta": ("key", "value"),
    "series": ("id", "kind", "name"),
    "scalars": ("series", "step", "wall", "value"),
    "tensors": ("id", "series", "step", "wall", "dtype", "shape", "compression", "data"),
    "events": ("id", "step", "wall", "kind", "message", "data"),
    "checkpoints": ("step", "wall", "optimizer"),
    "checkpoint_tensors": ("step", "part", "name", "dtype", "shape", "compression", "data"),
    "probe": ("name", "dtype", "shape", "compression", "data"),
}

SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                -- JSON
);
CREATE TABLE series (
    id    INTEGER PRIMARY KEY,
    kind  TEXT NOT NULL,               -- 'scalar' or 'tensor'
    name  TEXT NOT NULL,
    UNIQUE (kind, name)
);
CREATE TABLE scalars (
    series INTEGER NOT NULL REFERENCES series(id),
    step   INTEGER NOT NULL,
    wall   REAL NOT NULL,              -- seconds since the Unix epoch
    value  REAL,                       -- NULL means NaN (SQLite cannot store NaN)
    PRIMARY KEY (series, step)
) WITHOUT ROWID;
CREATE TABLE tensors (
    id          INTEGER PRIMARY KEY,
    series      INTEGER NOT NULL REFERENCES series(id),
    step        INTEGER NOT NULL,
    wall        REAL NOT NULL,
    dtype       TEXT NOT NULL,
    shape       TEXT NOT NULL,         -- JSON list of ints
    compression TEXT NOT NULL,         -- 'none' or 'zlib'
    data        BLOB NOT NULL
);
CREATE UNIQUE INDEX tensors_by_series_step ON tensors (series, step);
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    step    INTEGER NOT NULL,
    wall    REAL NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    data    TEXT                       -- JSON or NULL
);
CREATE INDEX events_by_step ON events (step);
CREATE TABLE checkpoints (
    step      INTEGER PRIMARY KEY,
    wall      REAL NOT NULL,
    optimizer TEXT                     -- JSON tree with arrays as {"$tensor": name}, or NULL
);
CREATE TABLE checkpoint_tensors (
    step        INTEGER NOT NULL REFERENCES checkpoints(step),
    part        TEXT NOT NULL,         -- 'weights' or 'optimizer'
    name        TEXT NOT NULL,
    dtype       TEXT NOT NULL,
    shape       TEXT NOT NULL,
    compression TEXT NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (step, part, name)
);
CREATE TABLE probe (
    name        TEXT PRIMARY KEY,      -- 'x' or 'y'
    dtype       TEXT NOT NULL,
    shape       TEXT NOT NULL,
    compression TEXT NOT NULL,
    data        BLOB NOT NULL
);
"""
