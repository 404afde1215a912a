"""The session store: one SQLite file per run, written by the engine worker, read by
anyone (the GUI reads while the worker writes). See docs/session-format.md."""
from .errors import SessionError
from .reader import Event, SessionReader
from .schema import FORMAT_NAME, FORMAT_VERSION
from .writer import SessionWriter

__all__ = ["Event", "FORMAT_NAME", "FORMAT_VERSION", "SessionError", "SessionReader",
           "SessionWriter"]
