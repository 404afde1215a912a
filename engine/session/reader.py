"""SessionReader: read-only access to a session file, safe while a writer is appending.

Every SELECT runs as its own read transaction, so a reader always sees the last
committed transaction of the writer; :meth:`SessionReader.refresh` re-reads the head.
Every failure (not SQLite, not a session, newer format, damaged or hostile record)
becomes one SessionError sentence naming the file. A stranger's file is bounded: its
schema may not define anything that runs (guard.py), every read has a deadline, and the
memory it can make us hold is limited per record and per file (budget.py, limits.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import records, tree
from .budget import MemoryBudget, size_text
from .errors import SessionError
from .guard import Deadline, check_schema, connect_readonly
from .limits import MAX_FILE_BYTES, MAX_META_BYTES, QUERY_SECONDS
from .query import JSON_GROWTH, RECORD, BoundedQueries, record_columns
from .schema import FORMAT_NAME, FORMAT_VERSION


@dataclass(frozen=True)
class Event:
    step: int
    wall: float
    kind: str
    message: str
    data: object   # the JSON value stored with the event, or None


class SessionReader(BoundedQueries):
    """Open ``path`` read-only. Usable as a context manager. One thread at a time.

    Arrays returned are fresh writable copies in native byte order. Names that were never
    written give empty results (a live view may ask before the first record arrives).
    Record queries always see the latest commit; :attr:`last_step` and the series names
    are cached until :meth:`refresh`, which a live view calls when the worker reports a
    commit. :attr:`version` changes whenever a refresh finds a commit since the last one,
    also one that did not move the last step (captures computed beside training arrive
    after their step, the last ones after the run's last step): what views key their caches on.
    """

    def __init__(self, path, memory_limit: int = MAX_FILE_BYTES,
                 query_seconds: float = QUERY_SECONDS):
        self.path = Path(path)
        if not self.path.is_file():
            raise SessionError(f"{self.path} does not exist or is not a file.")
        self._identity = _identity(self.path)
        self._deadline = Deadline(query_seconds)
        self.version = 0
        self._data_version = None
        self._budget = MemoryBudget(memory_limit, str(self.path))
        self._db = connect_readonly(self.path, self._deadline)
        try:
            check_schema(self._db, self.path, self._deadline)
            self._load_meta()
        except BaseException:
            self._db.close()
            raise

    # -- head ------------------------------------------------------------------------
    def _load_meta(self) -> None:
        try:
            rows = self._all("SELECT key, value FROM meta", sized=True)
        except SessionError as exc:
            if "no such table" in str(exc):
                raise SessionError(f"{self.path} is not a Neurostudio session.") from None
            raise
        raw = {k: v for k, v in rows if isinstance(k, str)}
        total = sum(len(v) for v in raw.values() if isinstance(v, (str, bytes)))
        if total > MAX_META_BYTES:
            raise SessionError(f"{self.path} is not a usable session: its meta table holds "
                               f"{size_text(total)} of text, more than the "
                               f"{size_text(MAX_META_BYTES)} a session needs.")
        self._budget.check(JSON_GROWTH * total, "its meta table")
        meta = {}
        for k, v in raw.items():
            if not isinstance(v, (str, bytes)):
                raise SessionError(f"{self.path} is a damaged session (its meta table holds "
                                   f"a value that is not JSON text).")
            meta[k] = self._json(v, "its meta table", f"{self.path} is a damaged session "
                                 f"(its meta table holds text that is not JSON).")
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
        # SQLite's data_version differs after any other connection's commit
        seen = self._one("PRAGMA data_version")
        if seen != self._data_version:
            self._data_version = seen
            self.version += 1
        return step

    @property
    def meta(self) -> dict:
        """All meta values (JSON-decoded), as of opening; see :meth:`reload_meta`."""
        return dict(self._meta)

    def reload_meta(self) -> dict:
        self._load_meta()
        return self.meta

    # Meta values come from the file: each has the type its users expect, or none.
    @property
    def graph(self) -> dict:
        return _dict_or(self._meta.get("graph"), {})

    @property
    def settings(self) -> dict:
        return _dict_or(self._meta.get("settings"), {})

    @property
    def dataset_info(self) -> dict | None:
        return _dict_or(self._meta.get("dataset_info"), None)

    @property
    def parent(self) -> dict | None:
        return _dict_or(self._meta.get("parent"), None)

    @property
    def size_bytes(self) -> int:
        """The file plus its write-ahead log, if any (0 once the file is gone)."""
        total = 0
        for name in (str(self.path), str(self.path) + "-wal"):
            try:
                total += os.stat(name).st_size
            except OSError:
                pass
        return total

    @property
    def memory_in_use(self) -> int:
        """Bytes of arrays this reader handed out that are still alive."""
        return self._budget.live

    def check_file(self) -> str | None:
        """None while the path still names the file this reader opened; else a sentence
        saying it was deleted or replaced. The reader goes on serving the file it opened
        (its data stay readable until it is closed): open the path again for the new one."""
        try:
            now = _identity(self.path)
        except OSError:
            return f"{self.path} was deleted while it was open; what is shown was read before."
        if now != self._identity:
            return f"{self.path} was replaced by another file while it was open; open it again to see it."
        return None

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
        arr = self._numbers(rows, 3, f"scalar series {name!r}")
        steps = self._steps([r[0] for r in rows], f"scalar series {name!r}")
        if with_wall:
            return steps, arr[:, 1].copy(), arr[:, 2].copy()
        return steps, arr[:, 1].copy()

    def scalar_near(self, name: str, step: int) -> tuple[int, float] | None:
        """(step, value) of one series' record at ``step``, else its last before it, else its
        first after it; None if the series is empty. What a pointer over a plot reads out."""
        sid = self._series("scalar").get(name)
        if sid is None:
            return None
        for query in ("SELECT step, value FROM scalars WHERE series = ? AND step <= ? ORDER BY step DESC LIMIT 1",
                      "SELECT step, value FROM scalars WHERE series = ? AND step > ? ORDER BY step LIMIT 1"):
            rows = self._all(query, (sid, int(step)))
            if rows:
                value = self._numbers(rows, 2, f"scalar series {name!r}")[0, 1]
                return self._step(rows[0][0], f"scalar series {name!r}"), float(value)
        return None

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
        arr = self._numbers(rows, 3, "a scalar series")
        steps = self._steps([r[1] for r in rows], "a scalar series")
        for sid, name in wanted.items():
            mine = arr[:, 0] == sid
            out[name] = (steps[mine], arr[mine, 2].copy())
        return out

    def scalars_at(self, step: int) -> dict[str, float]:
        """For every scalar series, its last value at or before ``step``."""
        rows = self._all(
            "SELECT sr.name, sc.value FROM series sr JOIN scalars sc ON sc.series = sr.id "
            "AND sc.step = (SELECT MAX(step) FROM scalars WHERE series = sr.id AND step <= ?) "
            "WHERE sr.kind = 'scalar'", (int(step),), sized=True)
        out = {}
        for name, value in rows:
            if not isinstance(name, str):
                continue
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise SessionError(f"{self.path}: scalar {records._excerpt(name)} at step {step} "
                                   f"is not a number.")
            out[name] = float("nan") if value is None else float(value)
        return out

    # -- tensors ---------------------------------------------------------------------
    def tensor_names(self) -> list[str]:
        return sorted(self._series("tensor"))

    def tensor_steps(self, name: str, since: int | None = None) -> np.ndarray:
        """The steps of one tensor series' records, in order; from ``since`` (inclusive)
        if given, so a live view reads only what is new."""
        sid = self._series("tensor").get(name)
        if sid is None:
            return np.zeros(0, np.int64)
        rows = self._all("SELECT step FROM tensors WHERE series = ? AND step >= ? ORDER BY step",
                         (sid, -(1 << 62) if since is None else int(since)))
        return self._steps([r[0] for r in rows], f"tensor series {name!r}")

    def tensor_step_at(self, name: str, step: int) -> int | None:
        """The step of the last record of ``name`` at or before ``step``, or None."""
        sid = self._series("tensor").get(name)
        if sid is None:
            return None
        row = self._one("SELECT MAX(step) FROM tensors WHERE series = ? AND step <= ?", (sid, int(step)))
        return None if row is None or row[0] is None else self._step(row[0], f"record {name!r}")

    def tensor(self, name: str, step: int, exact: bool = False) -> tuple[int, np.ndarray] | None:
        """(actual step, array) of the record of ``name`` at ``step``, or else the latest
        one before it (unless ``exact``); None if there is none."""
        sid = self._series("tensor").get(name)
        if sid is None:
            return None
        op = "=" if exact else "<="
        found = self._records("tensors", f"SELECT step, {RECORD} FROM tensors WHERE series = ? "
                              f"AND step {op} ? ORDER BY step DESC LIMIT 1", (sid, int(step)),
                              lambda row: f"record {name!r} at step {row[0]}")
        if not found:
            return None
        (s,), arr = found[0]
        return self._step(s, f"record {name!r}"), arr

    def tensors_at(self, step: int, prefix: str = "") -> dict[str, tuple[int, np.ndarray]]:
        """name -> (actual step, array) for every tensor series whose name starts with
        ``prefix``, each its latest record at or before ``step``."""
        found = self._records(
            "tensors",
            f"SELECT sr.name, t.step, {record_columns('t.')} FROM series sr "
            "JOIN tensors t ON t.series = sr.id AND t.step = (SELECT MAX(step) FROM tensors "
            "WHERE series = sr.id AND step <= ?) "
            "WHERE sr.kind = 'tensor' AND substr(sr.name, 1, ?) = ?",
            (int(step), len(prefix), prefix),
            lambda row: f"record {records._excerpt(row[0])} at step {row[1]}")
        return {name: (self._step(s, f"record {name!r}"), arr)
                for (name, s), arr in found if isinstance(name, str)}

    # -- events, checkpoints, probe ----------------------------------------------------
    def events(self, kinds=None, start: int = 0) -> list[Event]:
        """All events in the order written, or only those whose kind is in ``kinds``; from
        the ``start``-th one written (a live view reads only the new ones)."""
        rows = self._all("SELECT step, wall, kind, message, data FROM events ORDER BY id LIMIT -1 OFFSET ?",
                         (max(0, int(start)),), sized=True)
        wanted = None if kinds is None else ({kinds} if isinstance(kinds, str) else set(kinds))
        if wanted is not None:
            rows = [r for r in rows if r[2] in wanted]
        self._budget.check(JSON_GROWTH * sum(len(r[4]) for r in rows if isinstance(r[4], str)),
                           "its events' data")
        out = []
        for step, wall, kind, message, data in rows:
            what = f"event {records._excerpt(kind)} at step {records._excerpt(step)}"
            if (type(step) is not int or not isinstance(wall, (int, float))
                    or not isinstance(kind, str) or not isinstance(message, str)):
                raise SessionError(f"{self.path}: {what} has fields of the wrong type.")
            value = None if data is None else self._json(
                data, what, f"{self.path}: {what} has data that is not JSON.")
            out.append(Event(step, float(wall), kind, message, value))
        return out

    def checkpoint_steps(self) -> list[int]:
        rows = self._all("SELECT step FROM checkpoints ORDER BY step")
        return self._steps([r[0] for r in rows], "the checkpoints").tolist()

    def checkpoint_at_or_before(self, step: int) -> int | None:
        """The step of the last checkpoint at or before ``step`` (where a fork starts), or None."""
        row = self._one("SELECT MAX(step) FROM checkpoints WHERE step <= ?", (int(step),))
        return None if row is None or row[0] is None else self._step(row[0], "a checkpoint")

    def checkpoint(self, step: int) -> tuple[dict[str, np.ndarray], dict | None]:
        """(weights name -> array, optimizer state or None) saved at exactly ``step``."""
        self._begin()
        try:
            head = self._one("SELECT optimizer FROM checkpoints WHERE step = ?", (int(step),),
                             sized=True)
            if head is None:
                raise SessionError(f"{self.path} has no checkpoint at step {step} "
                                   f"(checkpoints: {self.checkpoint_steps()[:10]}).")
            found = self._records("checkpoint_tensors",
                                  f"SELECT part, name, {RECORD} FROM checkpoint_tensors WHERE step = ?",
                                  (int(step),), lambda row: f"checkpoint "
                                  f"{row[0] if row[0] in ('weights', 'optimizer') else records._excerpt(row[0])} "
                                  f"{records._excerpt(row[1])} at step {step}")
        finally:
            self._end()
        weights, arrays = {}, {}
        for (part, name), arr in found:
            (weights if part == "weights" else arrays)[name] = arr
        optimizer = None
        if head[0] is not None:
            label = f"{self.path}: the optimizer state at step {step}"
            value = self._json(head[0], "its optimizer state", f"{label} is not valid JSON.")
            try:
                optimizer = tree.unflatten(value, arrays, label)
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
        found = self._records("probe", f"SELECT name, {RECORD} FROM probe WHERE name IN ('x', 'y')",
                              (), lambda row: f"probe batch {records._excerpt(row[0])}")
        rows = {name: arr for (name,), arr in found}
        if "x" not in rows or "y" not in rows:
            return None
        return rows["x"], rows["y"]

    def record_counts(self) -> dict[str, dict[str, int]]:
        """{'scalar': {name: count}, 'tensor': {name: count}} (scans the indexes)."""
        out = {"scalar": {}, "tensor": {}}
        for kind, table in (("scalar", "scalars"), ("tensor", "tensors")):
            for name, n in self._all(f"SELECT sr.name, COUNT(*) FROM series sr JOIN {table} t "
                                     f"ON t.series = sr.id WHERE sr.kind = ? GROUP BY sr.id",
                                     (kind,), sized=True):
                if isinstance(name, str):
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
            for sid, k, name in self._all("SELECT id, kind, name FROM series", sized=True):
                if k in names and isinstance(name, str) and type(sid) is int:
                    names[k][name] = sid
            self._names = names
        return self._names[kind]

def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _dict_or(value, default):
    return value if isinstance(value, dict) else default
