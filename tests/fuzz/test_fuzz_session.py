"""Fuzzing the session reader: a real session with every record kind, damaged byte by byte,
row by row and in its schema. Every read gives a SessionError of one sentence or a checked
value; no query runs past its deadline; memory stays bounded; no pickle payload runs."""
from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.session import SessionError, SessionReader, SessionWriter
from engine.session.notes import set_title
from engine.session.records import DTYPES

from .conftest import examples
from .helpers import PICKLE, bounded, no_code_ran, only

LIMIT = 64 << 20
INT64 = st.integers(-(2**63), 2**63 - 1)
_BASE: list[Path] = []


def base_session() -> Path:
    """Built once: scalars, tensors raw and zlib (small, and big enough to be streamed),
    events, a checkpoint with optimizer state, the probe batch and user meta."""
    if not _BASE:
        folder = Path(tempfile.mkdtemp(prefix="fuzz-session-"))
        path = folder / "base.session"
        rng = np.random.default_rng(0)
        with SessionWriter(path, {"format": "neurostudio.graph", "version": 1, "nodes": []},
                           {"lr": 0.1}, {"kind": "image", "class_names": ["a", "b"]}) as w:
            w.probe_batch(rng.random((4, 1, 6, 6), dtype=np.float32), np.array([0, 1, 0, 1]))
            for step in range(6):
                w.scalar("train/loss", step, 1.0 / (step + 1))
                w.scalar("lr", step, 0.1)
                w.tensor("act/c1", step, rng.random((4, 8), dtype=np.float32), compress=False)
                w.tensor("mask", step, np.arange(300_000) % 3 == 0, compress=True)   # streamed
                w.event("tick", step, f"step {step}", {"step": step})
                w.commit()
            w.tensor("big", 5, rng.random(40_000).astype(np.float64), compress=False)  # streamed
            w.checkpoint(5, {"w": np.ones((3, 3))}, {"state": {0: {"m": np.zeros(3)}}, "lr": 0.1})
            w.set_meta("title", "fuzz")
        _BASE.append(path)
    return _BASE[0]


def fresh_copy() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-case-"))
    shutil.copy(base_session(), folder / "run.session")
    return folder / "run.session"


def read_everything(path: Path) -> None:
    """Every public read of SessionReader; each may fail alone, with one sentence."""
    reader = only(SessionError, SessionReader, path, memory_limit=LIMIT, query_seconds=2.0)
    if isinstance(reader, SessionError):
        return
    with reader:
        for value in (reader.graph, reader.settings):
            assert isinstance(value, dict)
        assert reader.dataset_info is None or isinstance(reader.dataset_info, dict)
        assert isinstance(reader.last_step, int)
        only(SessionError, reader.refresh)
        arrays = []
        for name in _names(only(SessionError, reader.scalar_names)):
            arrays += _arrays(only(SessionError, reader.scalar, name, with_wall=True))
            only(SessionError, reader.scalar_near, name, 4)  # the live readout's lookups
        only(SessionError, reader.scalar_tails, {"train/loss": 2, "lr": None})
        only(SessionError, reader.scalars_at, 3)
        for name in _names(only(SessionError, reader.tensor_names)):
            only(SessionError, reader.tensor_steps, name)
            only(SessionError, reader.tensor_steps, name, since=3)
            only(SessionError, reader.tensor_step_at, name, 5)
            arrays += _arrays(only(SessionError, reader.tensor, name, 5))
        for got in (only(SessionError, reader.tensors_at, 5) or {}).values() if not isinstance(
                only(SessionError, reader.tensors_at, 5), SessionError) else ():
            arrays += _arrays(got)
        only(SessionError, reader.events)
        only(SessionError, reader.events, start=1)
        steps = only(SessionError, reader.checkpoint_steps)
        for step in steps[:3] if isinstance(steps, list) else ():
            arrays += _arrays(only(SessionError, reader.checkpoint, step))
        only(SessionError, reader.checkpoint_at_or_before, 10)
        arrays += _arrays(only(SessionError, reader.probe_batch))
        only(SessionError, reader.record_counts)
        assert reader.memory_in_use <= LIMIT
        for arr in arrays:
            assert arr.dtype.name in DTYPES and arr.dtype.isnative
        reader.size_bytes, reader.check_file()
    only(SessionError, set_title, path, "renamed")   # the one writer of a user's old file
    no_code_ran()


def _names(value):
    return value[:6] if isinstance(value, list) else []


def _arrays(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    return []


# ---- byte-level damage ---------------------------------------------------------------------

@pytest.mark.timeout(600)
@settings(max_examples=examples(150))
@given(st.data())
def test_damaged_bytes(data):
    path = fresh_copy()
    raw = bytearray(path.read_bytes())
    how = data.draw(st.sampled_from(["truncate", "flip", "zero page", "splice"]))
    if how == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 16))):
            i = data.draw(st.one_of(st.integers(0, 99), st.integers(0, len(raw) - 1)))  # the header too
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "zero page":
        page = data.draw(st.integers(0, len(raw) // 16384))
        raw[page * 16384:(page + 1) * 16384] = bytes(len(raw[page * 16384:(page + 1) * 16384]))
    else:
        i = data.draw(st.integers(0, len(raw)))
        raw[i:i + 64] = data.draw(st.binary(min_size=64, max_size=64))
    path.write_bytes(bytes(raw))
    with bounded(3 * LIMIT):
        read_everything(path)


# ---- row-level damage ------------------------------------------------------------------------

SHAPES = st.one_of(
    st.lists(st.integers(-2, 10**12), max_size=6).map(json.dumps),
    st.lists(st.sampled_from([0, 1, 10**6, 2**31, 2**62, 2**63, 10**12]), max_size=40).map(json.dumps),
    st.sampled_from(["[2.5]", "{}", "[[1]]", "nonsense", "[true]", "", "[" * 5000, "null", "[1e400]"]),
    INT64, st.none(), st.binary(max_size=8))
ARRAY_COLUMNS = {
    "dtype": st.one_of(st.sampled_from(list(DTYPES) + ["object", "|O", "<U8", "complex128", "V8", ""]),
                       INT64, st.none(), st.binary(max_size=4)),
    "shape": SHAPES,
    "compression": st.one_of(st.sampled_from(["none", "zlib", "lz4", "ZLIB", ""]), INT64, st.none()),
    "data": st.one_of(st.binary(max_size=300), st.just(PICKLE), st.just(zlib.compress(PICKLE)),
                      st.sampled_from([10**6, 30 * 10**6]).map(lambda n: zlib.compress(bytes(n))),  # bombs
                      st.binary(max_size=64).map(lambda b: zlib.compress(b)[:-3]),
                      st.text(max_size=20), INT64, st.none(), st.floats()),
}
JSON_TEXT = st.one_of(
    st.recursive(st.one_of(st.none(), st.booleans(), INT64, st.floats(), st.text(max_size=6)),
                 lambda i: st.one_of(st.lists(i, max_size=4), st.dictionaries(st.text(max_size=5), i, max_size=4)),
                 max_leaves=20).map(json.dumps),
    st.sampled_from(['{"$tensor": "9"}', '{"$items": [[[1], 2]]}', '{"$items": 5}', '[' * 3000 + ']' * 3000,
                     "{oops", '"\\ud800"', "NaN", "1" * 5000]),
    INT64, st.binary(max_size=8), st.none())
ROW_UPDATES = {
    "tensors": dict(ARRAY_COLUMNS, step=st.one_of(INT64, st.text(max_size=4), st.floats())),
    "checkpoint_tensors": dict(ARRAY_COLUMNS, part=st.sampled_from(["weights", "optimizer", "x", ""]),
                               name=st.one_of(st.text(max_size=4), INT64)),
    "probe": dict(ARRAY_COLUMNS, name=st.sampled_from(["x", "y", "z"])),
    "checkpoints": {"optimizer": JSON_TEXT, "step": st.one_of(INT64, st.text(max_size=3))},
    "events": {"data": JSON_TEXT, "step": st.one_of(INT64, st.text(max_size=3), st.floats()),
               "kind": st.one_of(st.text(max_size=5), INT64, st.none()),
               "message": st.one_of(st.text(max_size=50), st.binary(max_size=5), INT64),
               "wall": st.one_of(st.floats(), st.text(max_size=3))},
    "scalars": {"value": st.one_of(st.floats(), st.text(max_size=5), st.binary(max_size=5)),
                "step": st.one_of(INT64, st.text(max_size=3), st.floats())},
    "series": {"kind": st.sampled_from(["scalar", "tensor", "x"]),
               "name": st.one_of(st.text(max_size=5), INT64, st.binary(max_size=3))},
    "meta": {"value": JSON_TEXT},
}
META_KEYS = ["format", "format_version", "graph", "settings", "dataset_info", "parent", "last_step", "title"]


@pytest.mark.timeout(600)
@settings(max_examples=examples(300))
@given(st.data())
def test_hostile_rows(data):
    path = fresh_copy()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")   # a test's own edits need no fsync
    for _ in range(data.draw(st.integers(1, 3))):
        table = data.draw(st.sampled_from(sorted(ROW_UPDATES)))
        column = data.draw(st.sampled_from(sorted(ROW_UPDATES[table])))
        value = data.draw(ROW_UPDATES[table][column])
        where = ""
        if table == "meta":
            where = " WHERE key = " + json.dumps(data.draw(st.sampled_from(META_KEYS)))
        elif data.draw(st.booleans()):
            where = " WHERE rowid = (SELECT MIN(rowid) FROM " + table + ")" if table != "scalars" else " WHERE step = 3"
        try:
            db.execute(f"UPDATE OR IGNORE {table} SET {column} = ?{where}", (value,))
        except (sqlite3.Error, OverflowError):
            pass  # e.g. NOT NULL, or an int past 64 bits: no file can hold such a row
    db.commit()
    db.close()
    with bounded(3 * LIMIT):
        read_everything(path)


# ---- schema objects --------------------------------------------------------------------------

ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"
OURS = ["meta", "series", "scalars", "tensors", "events", "checkpoints", "checkpoint_tensors", "probe"]


@pytest.mark.timeout(600)
@settings(max_examples=examples(120))
@given(st.sampled_from(OURS + ["extra"]), st.sampled_from(["view", "trigger", "virtual", "generated",
                                                           "table", "index", "drop", "wrong columns"]))
def test_unexpected_schema_objects(name, kind):
    path = fresh_copy()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")   # a test's own edits need no fsync
    if name in OURS and kind in ("view", "virtual", "generated", "wrong columns"):
        db.execute(f"ALTER TABLE {name} RENAME TO {name}_old")
    statements = {
        "view": f"CREATE VIEW {name} AS {ENDLESS}",
        "trigger": f"CREATE TRIGGER t_{name} AFTER INSERT ON meta BEGIN DELETE FROM series; END",
        "virtual": f"CREATE VIRTUAL TABLE {name} USING fts5(body)",
        "generated": f"CREATE TABLE {name} (a, b AS (zeroblob(100000000)) VIRTUAL)",
        "table": f"CREATE TABLE IF NOT EXISTS {name} (a, b)",
        "index": f"CREATE INDEX i_{name} ON {'meta' if name == 'extra' else name} (rowid)",
        "drop": f"DROP TABLE IF EXISTS {name}",
        "wrong columns": f"CREATE TABLE {name} (key, other)",
    }
    try:
        db.execute(statements[kind])
    except sqlite3.Error:
        pass
    db.commit()
    db.close()
    with bounded(3 * LIMIT):
        read_everything(path)
