"""RemoteRunController: a run on a remote engine (``python -m engine serve``), with
RunController's interface and signals, so the window binds it exactly as a local run.

Its ``session_path`` is the local mirror of the engine's session (engine/session/mirror.py),
named after the run, so a window opened later finds it and goes on from where it stopped.
Its handle is an engine.remote.RemoteRun, which speaks WorkerHandle's messages; a lost link
shows as the state "disconnected" and is reported in one sentence."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject

from engine.remote.runs import new_run_id  # (pyzmq, an optional extra, is imported only to connect)

from .controller import RunController, sessions_dir, writable


@dataclass(frozen=True)
class EngineAddress:
    """Where the engine listens and the token it asks for."""
    address: str
    token: str


def mirror_path(run_id: str) -> Path:
    return sessions_dir() / f"{run_id}.session"


class RemoteRunController(RunController):
    def __init__(self, engine: EngineAddress, parent: QObject | None = None, poll_ms: int = 50):
        super().__init__(parent, poll_ms)
        self.engine = engine

    def start(self, graph: dict, name: str = "run", overrides: dict | None = None,
              session_path: str | Path | None = None, start_paused: bool = False,
              probes: dict | None = None, fork: dict | None = None, base_dir=None, data_dirs=()) -> Path:
        """Start ``graph`` on the engine; returns the mirror's path. The engine reads data
        from its own folders (``serve --data``), so ``base_dir`` and ``data_dirs`` do not
        apply; a fork's checkpoint lies on this machine, so forks train here."""
        if self.running:
            raise RuntimeError("A run is already in progress; stop it first.")
        from engine.remote.link import LinkError
        from engine.remote.remote_run import RemoteRun
        if fork:
            raise LinkError("A fork starts from a checkpoint on this machine, so it trains here: "
                            "disconnect from the engine (Run > Connect to Engine…) to fork.")
        run_id = new_run_id(name)
        path = Path(session_path) if session_path else mirror_path(run_id)
        writable(path.parent)
        handle = RemoteRun(self.engine.address, self.engine.token, path)
        handle.start(graph, name, overrides=overrides, probes=probes, start_paused=start_paused, run_id=run_id)
        return self._begin(handle, path, f"Starting the run on the engine at {handle.link.address}…")

    def attach(self, run_id: str) -> Path:
        """Watch a run the engine already has, into its mirror (resumed if it exists)."""
        from engine.remote.remote_run import RemoteRun
        path = mirror_path(run_id)
        writable(path.parent)
        handle = RemoteRun(self.engine.address, self.engine.token, path)
        try:
            handle.attach(run_id)
        except Exception:
            handle.close()
            raise
        return self._begin(handle, path, f"Connecting to run {run_id} on the engine at {handle.link.address}…")

    def _begin(self, handle, path: Path, message: str) -> Path:
        self.handle, self.session_path = handle, path
        self.last_progress = {}
        self._stall_shown = 0.0
        self._set_state("starting", message, "")
        self._timer.start()
        self.started.emit(str(path))
        return path

    def stop(self):
        """Ask the engine to stop the run; while the link is down, stop watching instead
        (the engine may still be training: connect again to see it)."""
        if self.handle is None:
            return False
        if self.state == "disconnected":
            self.handle.detach(f"Stopped watching: the engine at {self.engine.address} cannot be reached, so "
                               f"the run may go on there; the mirror keeps what arrived.")
            self.poll()
            return True
        return super().stop()

    def shutdown(self, timeout: float = 3.0) -> None:
        """On window close: stop watching. The run goes on on the engine."""
        if self.handle is not None:
            self.handle.close()
        self._timer.stop()


def controller_for(window) -> RunController:
    """The controller a new run of ``window`` gets: on the engine it is connected to
    (Run > Connect to Engine…), else a local worker."""
    engine = getattr(window, "engine", None)
    return RemoteRunController(engine, window) if engine is not None else RunController(window)


def connect_engine(window) -> None:
    """Run > Connect to Engine…: the dialog, or one sentence when pyzmq is missing."""
    try:
        import zmq  # noqa: F401
    except ImportError:
        window.dialogs.error(window, "Connect to Engine", "Connecting to an engine needs pyzmq: "
                             "pip install 'neurostudio[remote]'.")
        return
    from .connect_dialog import open_connect_dialog
    open_connect_dialog(window)
