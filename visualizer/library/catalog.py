"""What the library shows of each run, read from its session file (no Qt here)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.session import SessionError, SessionReader

STATUS = {"finish": "finished", "stop": "stopped", "early_stop": "stopped", "failure": "failed"}


@dataclass
class RunSummary:
    path: Path
    title: str                 # the user's title, else the file name
    graph: str                 # the graph's (template's) name
    dataset: str
    steps: int                 # last committed step
    train_loss: float | None   # the last recorded training loss
    best_val_accuracy: float | None
    duration_s: float | None   # first to last record
    size_bytes: int
    notes: str
    status: str                # finished, stopped, failed, or incomplete (killed / still running)
    created: float | None
    parent: dict | None
    problem: str = ""          # set instead of the metrics when the file cannot be read


def summarize(path) -> RunSummary:
    path = Path(path)
    try:
        with SessionReader(path) as r:
            return _summary(path, r)
    except SessionError as exc:
        size = path.stat().st_size if path.exists() else 0
        return RunSummary(path, path.stem, "", "", -1, None, None, None, size, "", "unreadable",
                          None, None, problem=str(exc))


def _file_state(path: Path) -> tuple:
    """What changes when a session is written to: its size and time, and its log's (a live
    run and a renamed title write to the -wal file first). An empty log counts as none:
    reading the file may leave one behind."""
    state = []
    for p in (path, Path(str(path) + "-wal")):
        try:
            st = p.stat()
            state.append((st.st_mtime_ns, st.st_size) if st.st_size else None)
        except OSError:
            state.append(None)
    return tuple(state)


class Summaries:
    """Summaries of session files, read again only when a file changed: the library is
    refreshed each time it is shown and after every rename, note or delete."""

    def __init__(self):
        self._known: dict[Path, tuple[tuple, RunSummary]] = {}

    def of(self, paths: list[Path]) -> list[RunSummary]:
        out, known = [], {}
        for path in paths:
            state = _file_state(path)
            hit = self._known.get(path)
            summary = hit[1] if hit is not None and hit[0] == state else summarize(path)
            known[path] = (state, summary)
            out.append(summary)
        self._known = known  # files gone from the folder are forgotten
        return out


def _summary(path: Path, r: SessionReader) -> RunSummary:
    meta = r.meta
    graph = r.graph if isinstance(r.graph, dict) else {}
    info = r.dataset_info if isinstance(r.dataset_info, dict) else {}
    dataset = info.get("name") or (graph.get("dataset") or {}).get("name") or ""
    _, losses, loss_walls = r.scalar("train/loss", with_wall=True)
    loss = float(losses[-1]) if len(losses) else None
    _, acc = r.scalar("val/accuracy")
    acc = acc[np.isfinite(acc)]
    events = r.events()
    status = "incomplete"
    for e in events:
        status = STATUS.get(e.kind, status)
    walls = [e.wall for e in events]
    if len(loss_walls):
        walls += [float(loss_walls[0]), float(loss_walls[-1])]
    duration = (max(walls) - min(walls)) if walls else None
    title = meta.get("title")
    notes = meta.get("notes")
    return RunSummary(path=path, title=title if isinstance(title, str) and title else path.stem,
                      graph=str(graph.get("name") or ""), dataset=str(dataset), steps=r.last_step,
                      train_loss=loss if loss is not None and math.isfinite(loss) else None,
                      best_val_accuracy=float(acc.max()) if len(acc) else None,
                      duration_s=duration, size_bytes=r.size_bytes,
                      notes=notes if isinstance(notes, str) else "", status=status,
                      created=meta.get("created") if isinstance(meta.get("created"), (int, float)) else None,
                      parent=r.parent if isinstance(r.parent, dict) else None)


def session_files(folder, extra=()) -> list[Path]:
    """The sessions in ``folder`` (None: none; not its trash), newest first, then ``extra`` paths
    (sessions opened from elsewhere) that still exist; no duplicates."""
    found = sorted(Path(folder).glob("*.session"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if folder is not None and Path(folder).is_dir() else []
    seen = {p.resolve() for p in found}
    for p in map(Path, extra):
        if p.suffix == ".session" and p.is_file() and p.resolve() not in seen:
            found.append(p)
            seen.add(p.resolve())
    return found
