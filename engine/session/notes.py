"""Edit the user's own meta values (title, notes) of an existing session file in place.

One short transaction on the meta table; everything the run recorded is left alone, and
the reserved keys (format, graph, settings, last_step, ...) cannot be written here. Safe
while a worker appends to the same file: SQLite serialises the two writers (we wait up
to ``timeout`` seconds for the worker's commit to finish).
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .errors import SessionError
from .reader import SessionReader
from .schema import RESERVED_META


def set_meta_value(path, key: str, value, timeout: float = 5.0) -> None:
    """Write one user meta value (any JSON-able value; None removes the key)."""
    path = Path(path)
    if not isinstance(key, str) or not key or key in RESERVED_META:
        raise SessionError(f"meta key {key!r} is reserved or empty; pick another name.")
    SessionReader(path).close()  # refuses anything that is not a readable session
    try:
        text = None if value is None else json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise SessionError(f"meta {key!r} is not JSON-able ({exc}).") from None
    try:
        db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise SessionError(f"{path} could not be opened for writing ({exc}).") from None
    try:
        db.execute("PRAGMA trusted_schema=OFF")
        if text is None:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, text))
    except sqlite3.Error as exc:
        raise SessionError(f"could not write {key!r} to {path}: {exc}.") from None
    finally:
        db.close()


def set_notes(path, text: str) -> None:
    set_meta_value(path, "notes", str(text) if text else None)


def set_title(path, title: str) -> None:
    set_meta_value(path, "title", str(title).strip() or None)
