"""The thread that writes a remote run's commits into its local mirror, one after another,
so that the caller (the window's GUI thread) never waits for SQLite."""
from __future__ import annotations

import queue
import threading

from ..session.mirror import SessionMirror


class MirrorWriter:
    """Applies commits to a mirror on a thread of its own, in the order given."""

    def __init__(self, mirror: SessionMirror):
        self.mirror = mirror
        self._todo: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._done, self._seq, self._error = 0, -1, None
        self._thread = threading.Thread(target=self._run, name="mirror-writer", daemon=True)
        self._thread.start()

    def put(self, rows: dict, seq: int | None) -> None:
        self._todo.put((rows, seq))

    def results(self) -> tuple[int, int, Exception | None]:
        """(messages written since the last call, the last commit written, the error that
        stopped the writer or None)."""
        with self._lock:
            done, self._done = self._done, 0
            return done, self._seq, self._error

    def stop(self, timeout: float = 30.0) -> None:
        self._todo.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            if self._error is not None:
                continue  # after a failure nothing more is written
            try:
                self.mirror.apply(*item)
            except Exception as exc:  # noqa: BLE001 — SessionError (a full disk): one sentence
                with self._lock:
                    self._error = exc
                continue
            with self._lock:
                self._done += 1
                if item[1] is not None:
                    self._seq = item[1]
