"""Opening a session for replay, checked before anything on screen changes.

SessionReader already refuses what is not a session; a truncated or damaged file can
still open and fail later, at the first read of a lost page. So we read, up front, what
a replay touches first (series, events, checkpoints, the records at the last committed
step, the graph): a damaged file fails here, with one sentence, and the caller leaves
the current document alone. A file left by a killed run opens up to its last commit
(SQLite replays the run's write-ahead log)."""
from __future__ import annotations

from pathlib import Path

from engine.graph.document import GraphDocument
from engine.graph.errors import GraphError
from engine.session import SessionError, SessionReader


def open_checked(path) -> SessionReader:
    """A SessionReader on ``path`` whose head records all decode; SessionError if not."""
    reader = SessionReader(path)
    try:
        reader.refresh()
        reader.scalar_names()
        reader.tensor_names()
        reader.events()
        reader.checkpoint_steps()
        last = max(reader.last_step, 0)
        reader.scalars_at(last)
        reader.tensors_at(last)
        reader.probe_batch()
        graph_document(reader)
    except BaseException:
        reader.close()
        raise
    return reader


def graph_document(reader) -> GraphDocument:
    """The graph the run was recorded from (not re-validated: it ran)."""
    try:
        return GraphDocument.from_dict(reader.graph, validate=False,
                                       source=f"Session {Path(reader.path).name}")
    except GraphError as exc:
        raise SessionError(f"{reader.path} holds a graph that cannot be read ({exc}).") from None


def run_label(reader) -> str:
    """A short name for a run: its title if the user gave one, else the file name."""
    title = reader.meta.get("title")
    return str(title) if isinstance(title, str) and title else Path(reader.path).stem
