"""Autosave to a recovery file, and recovery after a crash.

While a document has unsaved changes, its JSON is written every few seconds to
``<data dir>/recovery/<pid>.json`` (with the path it was opened from). A clean exit or a
save removes the file. A recovery file left by a process that is no longer running means
that process crashed: the next start offers it back.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from engine.graph.document import GraphDocument, parse_json
from engine.graph.errors import GraphError

from .settings_store import data_dir

RECOVERY_FORMAT = "neurostudio.recovery"
DEFAULT_INTERVAL_S = 30


@dataclass
class Recovery:
    file: Path          # the recovery file itself
    doc: GraphDocument
    path: str | None    # where the document was last saved, if anywhere
    saved_at: float


def recovery_dir() -> Path:
    d = data_dir() / "recovery"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pending_recoveries() -> list[Recovery]:
    """Recovery files of processes that are gone, newest first. Unreadable ones are skipped."""
    out = []
    for f in recovery_dir().glob("*.json"):
        try:
            pid = int(f.stem)
        except ValueError:
            continue
        if _alive(pid):
            continue
        try:
            data = parse_json(f.read_text(encoding="utf-8"), f"Recovery file {f.name}")
            if data.get("format") != RECOVERY_FORMAT:
                continue
            doc = GraphDocument.from_dict(data["graph"], validate=False, source=f"Recovery file {f.name}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, GraphError):
            continue
        out.append(Recovery(f, doc, data.get("path"), float(data.get("saved_at", 0))))
    return sorted(out, key=lambda r: -r.saved_at)


class Autosaver(QObject):
    def __init__(self, model, path_fn, interval_s: float = DEFAULT_INTERVAL_S, parent=None):
        super().__init__(parent)
        self.model = model
        self.path_fn = path_fn  # -> the document's file path or None
        self.file = recovery_dir() / f"{os.getpid()}.json"
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_s * 1000))
        self.timer.timeout.connect(self.save_now)
        self.timer.start()
        model.undo_stack.cleanChanged.connect(self._on_clean)

    def save_now(self) -> bool:
        """Write the recovery file if there are unsaved changes; True if written."""
        if self.model.undo_stack.isClean():
            return False
        data = {"format": RECOVERY_FORMAT, "path": self.path_fn(), "saved_at": time.time(),
                "graph": self.model.doc.to_dict()}
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.file)
        return True

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)

    def _on_clean(self, clean: bool) -> None:
        if clean:
            self.discard()
