"""Opening a stranger's session file without letting it run, hang or flood us.

SQLite runs whatever the file's own schema defines when a query touches it: a view that
never finishes, a trigger, a computed column. ``trusted_schema=OFF`` only stops SQL
functions with side effects, not an endless recursive view. So the schema is read first,
from ``sqlite_master`` (a plain table that runs nothing), and any object a session never
holds is refused before the first query touches the tables; and every query runs under a
deadline (a progress handler interrupts SQLite past it) and a cap on the size of any one
value SQLite builds.
"""
from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from pathlib import Path

from .errors import SessionError
from .limits import MAX_VALUE_BYTES
from .schema import COLUMNS

_TICK_INSTRUCTIONS = 20_000   # SQLite calls the deadline check every this many VM steps (~0.1 ms)


class Deadline:
    """A progress handler that interrupts the running statement once ``seconds`` passed
    since :meth:`start`."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.until = float("inf")
        self.expired = False

    def start(self) -> None:
        self.expired = False
        self.until = time.monotonic() + self.seconds

    def stop(self) -> None:
        self.until = float("inf")

    def __call__(self) -> int:
        if time.monotonic() > self.until:
            self.expired = True
            return 1  # non-zero: SQLite abandons the statement with "interrupted"
        return 0


def connect_readonly(path: Path, deadline: Deadline) -> sqlite3.Connection:
    db = _connect(path, "?mode=ro")
    if _cannot_open(db) and _unwritable_folder(path) and not Path(str(path) + "-wal").exists():
        # A finished session in a read-only folder (a CD, a read-only share): WAL mode wants
        # to create its -shm file beside it. With no -wal left nothing can change the file
        # (no writer can work there either), so SQLite may take it as immutable.
        db.close()
        db = _connect(path, "?mode=ro&immutable=1")
    try:
        db.set_progress_handler(deadline, _TICK_INSTRUCTIONS)
        if hasattr(db, "setlimit"):  # Python 3.11+
            db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        # A stranger's file must not make us run SQL functions from its schema.
        db.execute("PRAGMA trusted_schema=OFF")
        db.execute("PRAGMA query_only=ON")
    except sqlite3.Error as exc:
        db.close()
        raise SessionError(f"{path} could not be opened ({exc}).") from None
    return db


def _connect(path: Path, query: str) -> sqlite3.Connection:
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + query
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise SessionError(f"{path} could not be opened ({exc}).") from None


def _cannot_open(db: sqlite3.Connection) -> bool:
    try:
        db.execute("PRAGMA schema_version").fetchall()   # reads the header: opens the log
        return False
    except sqlite3.OperationalError as exc:
        return "unable to open" in str(exc)
    except sqlite3.Error:
        return False   # not a database, damaged...: said by the first real read


def _unwritable_folder(path: Path) -> bool:
    return not os.access(path.resolve().parent, os.W_OK)


def check_schema(db: sqlite3.Connection, path: Path, deadline: Deadline) -> None:
    """Refuse views, triggers, virtual tables and computed columns, and our tables in any
    other form than plain tables with (at least) their documented columns. Unknown plain
    tables and indexes are allowed: later versions may add them, and reading never runs them
    (an index's expressions run only on writes)."""
    deadline.start()
    try:
        objects = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        for kind, name, _table, sql in objects:
            shown = _short(name)
            if kind in ("view", "trigger"):
                raise SessionError(f"{path} is not a plain Neurostudio session: it defines a {kind} "
                                   f"{shown}, which a session never holds, so it is not read.")
            if kind == "table" and isinstance(sql, str) and sql.lstrip()[:14].upper().startswith(
                    "CREATE VIRTUAL"):
                raise SessionError(f"{path} is not a plain Neurostudio session: it defines a virtual "
                                   f"table {shown}, which a session never holds, so it is not read.")
        tables = {name: kind for kind, name, _t, _s in objects if isinstance(name, str)}
        for table, wanted in COLUMNS.items():
            if table not in tables:
                continue  # reading it fails later with a sentence; meta is checked first
            if tables[table] != "table":
                raise SessionError(f"{path} is a damaged session: {table!r} is a {tables[table]}, "
                                   f"not a table.")
            columns = db.execute(f"PRAGMA table_xinfo({table})").fetchall()
            names = [c[1] for c in columns]
            if any(c[6] != 0 for c in columns):  # hidden: generated (computed) columns
                raise SessionError(f"{path} is not a plain Neurostudio session: its {table!r} table "
                                   f"has computed columns, so it is not read.")
            missing = [c for c in wanted if c not in names]
            if missing:
                raise SessionError(f"{path} is a damaged session: its {table!r} table has no "
                                   f"column {missing[0]!r}.")
    except sqlite3.Error as exc:
        raise translate(exc, path, deadline) from None
    except UnicodeDecodeError:
        raise SessionError(f"{path} is a damaged session (its schema holds text that is not UTF-8).") from None
    finally:
        deadline.stop()


def translate(exc: sqlite3.Error, path: Path, deadline: Deadline) -> SessionError:
    """One sentence for an SQLite failure while reading ``path``."""
    text = str(exc)
    if deadline.expired:
        return SessionError(f"{path} took longer than {deadline.seconds:g} s to read, so the read "
                            f"was stopped (the file is damaged or built to hang readers).")
    if "not a database" in text or "file is encrypted" in text:
        return SessionError(f"{path} is not a Neurostudio session.")
    if "decode to UTF-8" in text:  # Python's sqlite3 reads TEXT as UTF-8 (and quotes the text)
        return SessionError(f"{path} is a damaged session (it holds text that is not UTF-8).")
    if "too big" in text:
        return SessionError(f"{path} holds a value bigger than the {MAX_VALUE_BYTES} bytes a "
                            f"reader takes from one field, so it was not read.")
    return SessionError(f"{path} could not be read ({_short(text, 120)[1:-1]}).")


def _short(value, limit: int = 60) -> str:
    """A name or message from the file, quoted, printable and cut short."""
    text = "".join(c if c.isprintable() else "?" for c in str(value)[:limit + 1])
    return repr(text[:limit] + ("…" if len(text) > limit else ""))
