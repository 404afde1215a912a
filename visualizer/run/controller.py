"""RunController: one training run in a worker process, seen from the GUI.

The worker writes records to the session file; the pipe only says "committed up to step N"
and carries status and progress. Polling is a short non-blocking timer, so the window never
waits on the worker, and a worker that dies is reported by WorkerHandle.poll."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from engine.worker import TERMINAL, WorkerHandle

from ..settings_store import data_dir


def sessions_dir() -> Path:
    folder = data_dir() / "sessions"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"runs cannot be recorded in {folder}: {exc.strerror or exc}") from None
    return folder


def writable(folder: Path) -> None:
    """OSError with a sentence unless a file can be created in ``folder``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".neurostudio-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OSError(exc.errno, f"runs cannot be recorded in {folder}: {exc.strerror or exc}") from None


def new_session_path(name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = sessions_dir() / f"{slug}-{stamp}.session"
    i = 2
    while path.exists():
        path = sessions_dir() / f"{slug}-{stamp}-{i}.session"
        i += 1
    return path


class RunController(QObject):
    state_changed = Signal(str, str, str)   # state, message, details (traceback)
    progress = Signal(dict)
    committed = Signal(int)                 # records up to this step are in the file
    validation = Signal(dict)
    log = Signal(str)
    probes_changed = Signal(dict)           # the worker's probe settings after "set_probes"
    started = Signal(str)                   # the session file path
    stalled = Signal(float)                 # seconds without a word from a running worker (0: it spoke again)
    capture_mode = Signal(str, str)         # where heavy captures run: "inline", "process", "stream"; why

    #: a worker that says nothing for this long while running is reported (stopped with
    #: SIGSTOP, swapped out, or inside one very long step); it is not killed
    STALL_S = 10.0

    def __init__(self, parent: QObject | None = None, poll_ms: int = 50):
        super().__init__(parent)
        self.handle: WorkerHandle | None = None
        self.session_path: Path | None = None
        self.state = "idle"
        self.message = ""
        self.details = ""
        self.last_progress: dict = {}
        self.capture: tuple[str, str] | None = None  # (mode, message) as the worker last said
        self._heard = time.monotonic()
        self._stall_shown = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)

    @property
    def running(self) -> bool:
        return self.handle is not None and self.state not in TERMINAL and self.state != "idle"

    def start(self, graph: dict, name: str = "run", overrides: dict | None = None,
              session_path: str | Path | None = None, start_paused: bool = False,
              probes: dict | None = None, fork: dict | None = None, base_dir: str | Path | None = None,
              data_dirs=()) -> Path:
        """Start a worker on ``graph`` (a graph document dict), recording to a new session;
        ``probes``: ProbeSettings values (rates) for the recorded probes; ``base_dir``: the
        graph file's folder, which relative data paths are read from (as the CLI does);
        ``data_dirs``: folders the user chose (a file dialog), where data may be read too.
        Any other data path is refused by the worker (engine/data/paths.py)."""
        if self.running:
            raise RuntimeError("A run is already in progress; stop it first.")
        self.session_path = Path(session_path) if session_path else new_session_path(name)
        writable(self.session_path.parent)  # a read-only folder: one sentence now, not a dead worker
        job = {"graph": graph, "overrides": dict(overrides or {}), "record": str(self.session_path),
               "start_paused": start_paused, "progress_interval": 0.1, "probes": dict(probes or {})}
        if base_dir is not None:
            job["base_dir"] = str(base_dir)
        job["data_dirs"] = [str(d) for d in data_dirs]
        if fork:  # {"path", "step"}: start from a recorded checkpoint (engine/train/fork.py)
            job["fork"] = dict(fork)
        self.handle = WorkerHandle(job)
        self.handle.start()
        self.last_progress = {}
        self._heard = time.monotonic()
        self._stall_shown = 0.0
        self._set_state("starting", "Starting the training process…", "")
        self._timer.start()
        self.started.emit(str(self.session_path))
        return self.session_path

    # -- commands (each is a tiny pipe write; never blocks) ---------------------------------
    def pause(self):
        return self.handle is not None and self.handle.pause()

    def resume(self):
        return self.handle is not None and self.handle.resume()

    def step(self):
        return self.handle is not None and self.handle.step()

    def stop(self):
        """Ask the worker to stop after its step; one that has stopped answering (see
        ``stalled``) cannot read the request and is killed instead: the session keeps what
        it committed."""
        if self.handle is None:
            return False
        if self.running and self._stall_shown:
            self.kill()
            return True
        return self.handle.stop()

    def set_lr(self, value: float):
        return self.handle is not None and self.handle.set_lr(value)

    def set_clipping(self, norm: float | None = None, value: float | None = None):
        return self.handle is not None and self.handle.set_clipping(norm=norm, value=value)

    def set_probes(self, **changes):
        return self.handle is not None and self.handle.set_probes(**changes)

    def checkpoint_now(self):
        return self.handle is not None and self.handle.checkpoint_now()

    def kill(self) -> None:
        if self.handle is not None:
            self.handle.kill()
            self.poll()

    def shutdown(self, timeout: float = 3.0) -> None:
        """On window close: stop gracefully, then kill; the session keeps what was committed."""
        if self.handle is not None:
            self.handle.close(timeout)
            self.poll()
        self._timer.stop()

    # -- messages ---------------------------------------------------------------------------
    def poll(self) -> None:
        if self.handle is None:
            return
        last_commit = None
        messages = self.handle.poll()
        now = time.monotonic()
        if messages:
            self._heard = now
            if self._stall_shown:
                self._stall_shown = 0.0
                self.stalled.emit(0.0)
        elif self.state in ("running",) and now - self._heard >= self.STALL_S \
                and now - self._heard >= self._stall_shown + 5.0:
            self._stall_shown = now - self._heard
            self.stalled.emit(self._stall_shown)
        for msg in messages:
            kind = msg.get("kind")
            if kind == "status":
                self._set_state(msg["state"], msg.get("message", ""), msg.get("details", ""))
            elif kind == "progress":
                self.last_progress = msg
                self.progress.emit(msg)
            elif kind == "committed":
                last_commit = msg["step"]  # a burst of commits becomes one signal
            elif kind == "validation":
                self.validation.emit(msg)
            elif kind == "probes":
                self.probes_changed.emit(msg.get("settings", {}))
            elif kind == "capture_mode":
                self.capture = (str(msg.get("mode", "")), str(msg.get("message", "")))
                self.capture_mode.emit(*self.capture)
            elif kind == "log":
                self.log.emit(msg.get("text", ""))
        if last_commit is not None:
            self.committed.emit(int(last_commit))
        if self.state in TERMINAL:
            self._timer.stop()
            self._reap(self.handle)

    def _reap(self, handle: WorkerHandle, tries: int = 100) -> None:
        """Collect the ended process without making the window wait: after its last status
        it still folds the session's log into the file (joining here froze the window for
        up to 0.2 s at the end of every run)."""
        if not handle.join(0) and tries > 0:
            QTimer.singleShot(100, self, lambda: self._reap(handle, tries - 1))

    def _set_state(self, state: str, message: str, details: str) -> None:
        self.state, self.message, self.details = state, message, details
        self.state_changed.emit(state, message, details)
