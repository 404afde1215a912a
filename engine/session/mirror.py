"""SessionMirror: a local copy of a session being recorded elsewhere (a remote engine).

The engine streams the rows of each of its writer's commits (engine/remote/); the mirror
writes them, unchanged, in one transaction each, so the mirror is a session file like any
other: live viewing and replay read it with :class:`SessionReader` and need nothing new.

Applying rows is idempotent: every row goes in by its key (``INSERT OR REPLACE``; events by
the id the engine's file gave them), so rows sent twice (a reconnection that resends what
was in flight) are neither lost nor duplicated. The mirror remembers, in the same
transaction, the number of the last commit it holds (meta ``remote``), so a reconnection,
even from a new window, resumes right after it.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .errors import SessionError
from .transaction import write_failed
from .writer import SessionWriter

REMOTE_KEY = "remote"   # meta: {"engine": "HOST:PORT", "run": id, "seq": last commit applied}


class SessionMirror:
    """A mirror at ``path``. Create it with :meth:`create` (from the engine's meta rows) or
    open one made earlier with :meth:`reopen`. One thread writes."""

    def __init__(self, path: Path, db: sqlite3.Connection, remote: dict):
        self.path, self._db, self.remote = path, db, remote
        self.last_step = int(self._meta_value("last_step", -1))

    @classmethod
    def create(cls, path, meta: dict, engine: str, run: str) -> "SessionMirror":
        """A new mirror of run ``run`` of ``engine`` from the engine file's meta rows (key ->
        JSON text). SessionError when it cannot be created or the meta is not a session's."""
        try:
            values = {k: json.loads(meta[k]) for k in ("graph", "settings", "dataset_info", "parent")}
        except (KeyError, TypeError, ValueError):
            raise SessionError(f"the engine's run {run} did not describe its session (graph, "
                               f"settings), so {path} cannot mirror it.") from None
        if not isinstance(values["graph"], dict) or not isinstance(values["settings"], dict):
            raise SessionError(f"the engine's run {run} sent a graph or settings that are not "
                               f"objects, so {path} cannot mirror it.")
        SessionWriter(path, values["graph"], values["settings"], values["dataset_info"],
                      parent=values["parent"]).close()
        mirror = cls(Path(path), _connect(path), {"engine": engine, "run": run, "seq": 0})
        mirror.apply({"meta": {k: v for k, v in meta.items() if k != REMOTE_KEY}}, seq=0)
        return mirror

    @classmethod
    def reopen(cls, path) -> "SessionMirror":
        """A mirror made earlier (by this or another window): it goes on from its ``seq``."""
        path = Path(path)
        if not path.is_file():
            raise SessionError(f"{path} does not exist, so there is no mirror to go on with.")
        db = _connect(path)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (REMOTE_KEY,)).fetchone()
            remote = json.loads(row[0]) if row else None
        except (sqlite3.Error, ValueError):
            remote = None
        if not isinstance(remote, dict) or type(remote.get("seq")) is not int:
            db.close()
            raise SessionError(f"{path} is not the mirror of a remote run.")
        return cls(path, db, remote)

    @property
    def seq(self) -> int:
        """The number of the engine's last commit this mirror holds (0: only the meta)."""
        return int(self.remote["seq"])

    def apply(self, rows: dict, seq: int | None = None) -> int:
        """Write one commit's rows (engine/remote/protocol.decode_rows) in one transaction;
        ``seq``: the commit's number, remembered with it (None: a snapshot part, which
        moves no cursor). Returns the mirror's last step."""
        db = self._db
        meta = dict(rows.get("meta") or {})
        step = meta.pop("last_step", None)
        last = max(self.last_step, int(json.loads(step))) if step is not None else self.last_step
        remote = dict(self.remote, seq=seq) if seq is not None else self.remote
        try:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO series VALUES (?, ?, ?)", rows.get("series", ()))
            db.executemany("INSERT OR REPLACE INTO scalars VALUES (?, ?, ?, ?)", rows.get("scalars", ()))
            db.executemany("INSERT OR REPLACE INTO tensors (series, step, wall, dtype, shape, "
                           "compression, data) VALUES (?, ?, ?, ?, ?, ?, ?)", rows.get("tensors", ()))
            db.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?)", rows.get("events", ()))
            gone = list(rows.get("dropped", ()))
            if rows.get("checkpoint_steps") is not None:  # a snapshot: the engine's whole set
                keep = set(rows["checkpoint_steps"])
                gone += [s for (s,) in db.execute("SELECT step FROM checkpoints") if s not in keep]
            for s in gone:
                db.execute("DELETE FROM checkpoints WHERE step = ?", (s,))
                db.execute("DELETE FROM checkpoint_tensors WHERE step = ?", (s,))
            for s, *_ in rows.get("checkpoints", ()):
                db.execute("DELETE FROM checkpoint_tensors WHERE step = ?", (s,))
            db.executemany("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", rows.get("checkpoints", ()))
            db.executemany("INSERT OR REPLACE INTO checkpoint_tensors VALUES (?, ?, ?, ?, ?, ?, ?)",
                           rows.get("checkpoint_tensors", ()))
            db.executemany("INSERT OR REPLACE INTO probe VALUES (?, ?, ?, ?, ?)", rows.get("probe", ()))
            meta.update(last_step=str(last), **{REMOTE_KEY: json.dumps(remote)})
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise write_failed(db, self.path, exc) from None
        self.last_step, self.remote = last, remote
        return last

    def close(self) -> None:
        """Fold the log into the file (as SessionWriter.close does) and close."""
        if self._db is None:
            return
        try:
            self._db.execute("PRAGMA busy_timeout=0")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass  # a reader is mid-read: the log stays, equally valid
        self._db.close()
        self._db = None

    def _meta_value(self, key: str, default):
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])


def _connect(path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=NORMAL")
        return db
    except sqlite3.Error as exc:
        raise SessionError(f"could not open {path}: {exc}.") from None
