"""SessionReader: read-only access to a session file, safe while a writer is appending.

Every SELECT runs as its own read transaction, so a reader always sees the last
committed transaction of the writer; :meth:`SessionReader.refresh` re-reads the head.
Every failure (not SQLite, not a session, newer format, damaged or hostile record)
becomes one SessionError sentence naming the file.
"""
from __future__ import annotations

import json
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import records, tree
from .errors import SessionError
from .schema import FORMAT_NAME, FORMAT_VERSION


@dataclass(frozen=True)
class Event:
    step: int
    wall: float
    kind: str
    message: str
    data: object   # the JSON value stored with the event, or None


class SessionReader:
    """Open ``path`` read-only. Usable as a context manager. One thread at a time.

    Arrays returned are fresh writable copies in native byte order. Names that were never
    written give empty results (a live view may ask before the first record arrives).
    Record queries always see the latest commit; :attr:`last_step` and the series names
    are cached until :meth:`refresh`, which a live view calls when the worker reports a
    commit.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise SessionError(f"{self.path} does not exist or is not a file.")
        uri = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None,
                                       check_same_thread=False)
            # A stranger's file must not make us run SQL functions from its schema.
            self._db.execute("PRAGMA trusted_schema=OFF")
            self._db.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            raise SessionError(f"{self.path} could not be opened ({exc}).") from None
        try:
            self._load_meta()
        except BaseException:
            self._db.close()
            raise

    # -- head ------------------------------------------------------------------------
    def _load_meta(self) -> None:
        try:
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "not a database" in text or "no such table" in text:
                raise SessionError(f"{self.path} is not a Neurostudio session.") from None
            raise SessionError(f"{self.path} could not be read ({text}).") from None
        raw = {k: v for k, v in rows if isinstance(k, str)}
        try:
            meta = {k: json.loads(v) for k, v in raw.items()}
        except (TypeError, ValueError, RecursionError):
            raise SessionError(f"{self.path} is a damaged session (its meta table holds "
                               f"text that is not JSON).") from None
        if meta.get("format") != FORMAT_NAME:
            raise SessionError(f"{self.path} is not a Neurostudio session.")
        version = meta.get("format_version")
        if type(version) is not int or version < 1:
            raise SessionError(f"{self.path} is a damaged session (format version "
                               f"{str(version)[:20]!r}).")
        if version > FORMAT_VERSION:
            raise SessionError(f"{self.path} was written by a newer Neurostudio (session format "
                               f"{version}; this version reads up to {FORMAT_VERSION}).")
        self._meta = meta
        self._names: dict[str, dict[str, int]] | None = None
        self.last_step = meta.get("last_step") if type(meta.get("last_step")) is int else -1

    def refresh(self) -> int:
        """Re-read the head (cheap: one indexed row) and return :attr:`last_step`."""
        row = self._one("SELECT value FROM meta WHERE key = 'last_step'")
        try:
            step = int(row[0]) if row else -1
        except (TypeError, ValueError):
            step = -1
        self.last_step = step
        self._names = None  # new series may have arrived with the same last step
        return step

    @property
    def meta(self) -> dict:
        """All meta values (JSON-decoded), as of opening; see :meth:`reload_meta`."""
        return dict(self._meta)

    def reload_meta(self) -> dict:
        self._load_meta()
        return self.meta

    @property
    def graph(self) -> dict:
        return self._meta.get("graph") or {}

    @property
    def settings(self) -> dict:
        return self._meta.get("settings") or {}

    @property
    def dataset_info(self) -> dict | None:
        return self._meta.get("dataset_info")

    @property
    def parent(self) -> dict | None:
        return self._meta.get("parent")

    @property
    def size_bytes(self) -> int:
        """The file plus its write-ahead log, if any."""
        wal = Path(str(self.path) + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    # -- scalars ---------------------------------------------------------------------
    def scalar_names(self) -> list[str]:
        return sorted(self._series("scalar"))

    def scalar(self, name: str, upto: int | None = None, with_wall: bool = False,
               since: int | None = None):
        """(steps int64, values float64) of one series in step order, from ``since``
        and up to ``upto`` (both inclusive) if given; with ``with_wall`` also the wall
        times (float64) as a third array. NaN values come back as NaN. A live view reads
        only what is new with ``since`` = the step after the last one it has."""
        sid = self._series("scalar").get(name)
        limit = (1 << 62) if upto is None else int(upto)
        start = -(1 << 62) if since is None else int(since)
        rows = [] if sid is None else self._all(
            "SELECT step, value, wall FROM scalars WHERE series = ? AND step >= ? AND step <= ? "
            "ORDER BY step", (sid, start, limit))
        try:
            arr = np.array(rows, dtype=np.float64).reshape(len(rows), 3)
            steps = np.array([r[0] for r in rows], dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            raise SessionError(f"{self.path}: scalar series {name!r} holds values that "
                               f"are not numbers.") from None
        if with_wall:
            return steps, arr[:, 1].copy(), arr[:, 2].copy()
        return steps, arr[:, 1].copy()

    def scalar_tails(self, since: dict[str, int | None], upto: int | None = None
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Several series at once, each from its own ``since`` step (inclusive; None: from
        the start) up to ``upto``: {name: (steps, values)}. One query for all of them: a
        live plot of many series pays one read transaction a frame, not one a series."""
        sids = self._series("scalar")
        wanted = {sids[n]: n for n in since if n in sids}
        out = {n: (np.zeros(0, np.int64), np.zeros(0, np.float64)) for n in since}
        if not wanted:
            return out
        limit = (1 << 62) if upto is None else int(upto)
        # One range scan of the (series, step) key per series: a series recorded rarely
        # (validation) must not make the query re-read every other series since then.
        parts, params = [], []
        for sid, name in wanted.items():
            first = since[name]
            parts.append("SELECT series, step, value FROM scalars WHERE series = ? AND step >= ? AND step <= ?")
            params += [sid, -(1 << 62) if first is None else int(first), limit]
        rows = self._all(" UNION ALL ".join(parts) + " ORDER BY series, step", params)
        try:
            arr = np.array([(r[0], r[1], r[2]) for r in rows], dtype=np.float64).reshape(len(rows), 3)
        except (TypeError, ValueError, OverflowError):
            raise SessionError(f"{self.path}: a scalar series holds values that are not numbers.") from None
        for sid, name in wanted.items():
            mine = arr[arr[:, 0] == sid]
            out[name] = (mine[:, 1].astype(np.int64), mine[:, 2].copy())
        return out

    def scalars_at(self, step: int) -> dict[str, float]:
        """For every scalar series, its last value at or before ``step``."""
        rows = self._all(
            "SELECT sr.name, sc.value FROM series sr JOIN scalars sc ON sc.series = sr.id "
            "AND sc.step = (SELECT MAX(step) FROM scalars WHERE series = sr.id AND step <= ?) "
            "WHERE sr.kind = 'scalar'", (int(step),))
        out = {}
        for name, value in rows:
            if value is not None and not isinstance(value, (int, float)):
                raise SessionError(f"{self.path}: scalar {name!r} at step {step} is not a number.")
            out[name] = float("nan") if value is None else float(value)
        return out

    # -- tensors ---------------------------------------------------------------------
    def tensor_names(self) -> list[str]:
        return sorted(self._series("tensor"))

    def tensor_steps(self, name: str) -> np.ndarray:
        sid = self._series("tensor").get(name)
        if sid is None:
            return np.zeros(0, np.int64)
        rows = self._all("SELECT step FROM tensors WHERE series = ? ORDER BY step", (sid,))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def tensor(self, name: str, step: int, exact: bool = False) -> tuple[int, np.ndarray] | None:
        """(actual step, array) of the record of ``name`` at ``step``, or else the latest
        one before it (unless ``exact``); None if there is none."""
        sid = self._series("tensor").get(name)
        if sid is None:
            return None
        op = "=" if exact else "<="
        row = self._one(f"SELECT step, dtype, shape, compression, data FROM tensors "
                        f"WHERE series = ? AND step {op} ? ORDER BY step DESC LIMIT 1",
                        (sid, int(step)))
        if row is None:
            return None
        return row[0], self._decode(f"record {name!r} at step {row[0]}", row[1:])

    def tensors_at(self, step: int, prefix: str = "") -> dict[str, tuple[int, np.ndarray]]:
        """name -> (actual step, array) for every tensor series whose name starts with
        ``prefix``, each its latest record at or before ``step``."""
        rows = self._all(
            "SELECT sr.name, t.step, t.dtype, t.shape, t.compression, t.data FROM series sr "
            "JOIN tensors t ON t.series = sr.id AND t.step = (SELECT MAX(step) FROM tensors "
            "WHERE series = sr.id AND step <= ?) "
            "WHERE sr.kind = 'tensor' AND substr(sr.name, 1, ?) = ?",
            (int(step), len(prefix), prefix))
        return {name: (s, self._decode(f"record {name!r} at step {s}", rest))
                for name, s, *rest in rows}

    # -- events, checkpoints, probe ----------------------------------------------------
    def events(self, kinds=None) -> list[Event]:
        """All events in the order written, or only those whose kind is in ``kinds``."""
        rows = self._all("SELECT step, wall, kind, message, data FROM events ORDER BY id")
        wanted = None if kinds is None else ({kinds} if isinstance(kinds, str) else set(kinds))
        out = []
        for step, wall, kind, message, data in rows:
            if wanted is not None and kind not in wanted:
                continue
            try:
                value = None if data is None else json.loads(data)
            except (TypeError, ValueError, RecursionError):
                raise SessionError(f"{self.path}: event {kind!r} at step {step} has data "
                                   f"that is not JSON.") from None
            out.append(Event(step, wall, kind, message, value))
        return out

    def checkpoint_steps(self) -> list[int]:
        return [r[0] for r in self._all("SELECT step FROM checkpoints ORDER BY step")]

    def checkpoint_at_or_before(self, step: int) -> int | None:
        """The step of the last checkpoint at or before ``step`` (where a fork starts), or None."""
        row = self._one("SELECT MAX(step) FROM checkpoints WHERE step <= ?", (int(step),))
        return row[0] if row else None

    def checkpoint(self, step: int) -> tuple[dict[str, np.ndarray], dict | None]:
        """(weights name -> array, optimizer state or None) saved at exactly ``step``."""
        head = self._one("SELECT optimizer FROM checkpoints WHERE step = ?", (int(step),))
        if head is None:
            raise SessionError(f"{self.path} has no checkpoint at step {step} "
                               f"(checkpoints: {self.checkpoint_steps()[:10]}).")
        rows = self._all("SELECT part, name, dtype, shape, compression, data "
                         "FROM checkpoint_tensors WHERE step = ?", (int(step),))
        weights, arrays = {}, {}
        for part, name, *rest in rows:
            target = weights if part == "weights" else arrays
            target[name] = self._decode(f"checkpoint {part} {name!r} at step {step}", rest)
        optimizer = None
        if head[0] is not None:
            label = f"{self.path}: the optimizer state at step {step}"
            try:
                optimizer = tree.unflatten(json.loads(head[0]), arrays, label)
            except (TypeError, ValueError, RecursionError):
                raise SessionError(f"{label} is not valid JSON.") from None
        return weights, optimizer

    def probe_batch(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(x, y) of the fixed probe batch, or None if the run stored none (yet)."""
        cached = getattr(self, "_probe_batch", None)
        if cached is not None:  # written once, before the first step: never changes
            return cached
        self._probe_batch = self._read_probe_batch()
        return self._probe_batch

    def _read_probe_batch(self) -> tuple[np.ndarray, np.ndarray] | None:
        rows = dict((r[0], r[1:]) for r in self._all(
            "SELECT name, dtype, shape, compression, data FROM probe"))
        if "x" not in rows or "y" not in rows:
            return None
        return (self._decode("probe batch 'x'", rows["x"]),
                self._decode("probe batch 'y'", rows["y"]))

    def record_counts(self) -> dict[str, dict[str, int]]:
        """{'scalar': {name: count}, 'tensor': {name: count}} (scans the indexes)."""
        out = {"scalar": {}, "tensor": {}}
        for kind, table in (("scalar", "scalars"), ("tensor", "tensors")):
            for name, n in self._all(f"SELECT sr.name, COUNT(*) FROM series sr JOIN {table} t "
                                     f"ON t.series = sr.id WHERE sr.kind = ? GROUP BY sr.id",
                                     (kind,)):
                out[kind][name] = n
        return out

    # -- plumbing --------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "SessionReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _series(self, kind: str) -> dict[str, int]:
        if self._names is None:
            names: dict[str, dict[str, int]] = {"scalar": {}, "tensor": {}}
            for sid, k, name in self._all("SELECT id, kind, name FROM series"):
                if k in names and isinstance(name, str):
                    names[k][name] = sid
            self._names = names
        return self._names[kind]

    def _decode(self, label: str, fields) -> np.ndarray:
        try:
            return records.decode(label, *fields)
        except SessionError as exc:
            raise SessionError(f"{self.path}: {exc}") from None

    def _all(self, sql: str, params=()) -> list:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise SessionError(f"{self.path} could not be read ({exc}).") from None

    def _one(self, sql: str, params=()):
        rows = self._all(sql, params)
        return rows[0] if rows else None
