"""RemoteRun: one run on a remote engine, seen as a local worker is (Qt-free).

It has WorkerHandle's interface (engine/worker.py): commands go to the engine, and
``poll()`` returns the same messages a local worker sends — status, progress, "committed up
to step N", log, validation, probes — so the window's RunController logic serves both. The
records land in a local mirror of the session (engine/session/mirror.py); "committed" is
said once they are in the mirror, so live viewing reads the mirror as it reads a local
run's file. A lost link shows as the status ``disconnected``; when the link is back the
run asks for what its mirror lacks, from the mirror's last commit on, so nothing is lost
or written twice. Closing a RemoteRun leaves the run going on the engine.

The mirror is written on a thread of its own, one commit after another, so a big commit
(a checkpoint, feature maps) never stalls the caller: the window's GUI thread only decodes
and checks a message; SQLite writes with the GIL released.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from ..session import SessionError
from ..session.mirror import SessionMirror
from ..worker import TERMINAL, RunCommands
from . import protocol
from .link import EngineLink, LinkError
from .mirror_writer import MirrorWriter
from .protocol import ProtocolError
from .runs import new_run_id

_subs = itertools.count(1)


class RemoteRun(RunCommands):
    def __init__(self, address: str, token: str, mirror_path):
        self.link = EngineLink(address, token)
        self.mirror_path = Path(mirror_path)
        self.mirror: SessionMirror | None = None
        self.run_id: str | None = None
        self.state, self.message, self.details = "idle", "", ""
        self.exit_code = None
        self.pid = None
        self.final_seq: int | None = None
        self._remote_state = "starting"
        self._sub = 0
        self._queued: list = []        # commands given before the engine knew the run
        self.received = {"rows": 0, "snapshot": 0}   # data messages applied, by kind
        self._sent_to_mirror = -1      # the last commit handed to the writer thread
        self._in_mirror = -1           # the last commit it has written (and "committed" said)
        self._writer: MirrorWriter | None = None
        self._out: list = []

    # -- starting -------------------------------------------------------------------------------
    def start(self, graph: dict, name: str = "run", overrides=None, probes=None,
              start_paused: bool = False, run_id: str | None = None) -> str:
        """Ask the engine to train ``graph``; returns the run's id (the engine confirms or
        refuses through :meth:`poll`)."""
        self.run_id = run_id or new_run_id(name)
        self._sub = next(_subs)
        self.state = "starting"
        if self.link.send("start", graph=graph, name=name, run=self.run_id, overrides=dict(overrides or {}),
                          probes=dict(probes or {}), start_paused=bool(start_paused), sub=self._sub) is None:
            raise LinkError(f"Cannot send to the engine at {self.link.address}.")
        return self.run_id

    def attach(self, run_id: str) -> None:
        """Watch a run the engine already has: from the mirror's last commit when the mirror
        exists (a window reopened), else from the start."""
        self.run_id = run_id
        if self.mirror is None and self.mirror_path.exists():
            self.mirror = SessionMirror.reopen(self.mirror_path)
            if self.mirror.remote.get("run") != run_id:
                self.mirror.close()
                self.mirror = None
                raise LinkError(f"{self.mirror_path.name} mirrors another run, not {run_id}.")
            self._sent_to_mirror = self._in_mirror = self.mirror.seq
        self.state = "starting"
        self._subscribe()

    def _subscribe(self) -> None:
        self._sub = next(_subs)
        # commits on their way to the mirror will be in it: ask for what follows them
        self.link.send("subscribe", run=self.run_id, have=self._sent_to_mirror, sub=self._sub)

    # -- commands (WorkerHandle's) ------------------------------------------------------------
    def send(self, cmd: str, **args) -> bool:
        """Send a command; False when it cannot reach the engine now (the link is down)."""
        if self.state in TERMINAL or self.link.state in ("refused", "closed", "lost"):
            return False
        if not self._known:  # the engine has not confirmed the run yet: send it then
            self._queued.append((cmd, args))
            return True
        return self.link.send("command", run=self.run_id, cmd=cmd, args=args) is not None

    _known = False  # the engine has confirmed the run

    def detach(self, message: str) -> None:
        """Stop watching a run the engine cannot be asked about now (the link is down)."""
        if self.state not in TERMINAL:
            self._status("stopped", message, self._out)
        self.close()

    def kill(self) -> None:
        """End the engine's training process now (its session keeps what it committed)."""
        self.send("kill")

    # -- messages -------------------------------------------------------------------------------
    def poll(self, timeout_ms: int = 0) -> list[dict]:
        """Every message since the last call, as a local worker's (engine/worker.py)."""
        out, self._out = self._out, []
        if self.link.state == "closed":
            return out
        messages, changes = self.link.receive(timeout_ms)
        for state, text in changes:
            self._link_changed(state, text, out)
        for header, blobs in messages:
            try:
                self._take(header, blobs, out)
            except (ProtocolError, SessionError) as exc:
                self._fail(f"The mirror of run {self.run_id} stopped: {str(exc).rstrip('.')}.", out)
                break
            except (KeyError, TypeError, ValueError) as exc:  # signed, but not what it should hold
                self._fail(f"The mirror of run {self.run_id} stopped: the engine sent a malformed "
                           f"'{header.get('kind')}' message ({type(exc).__name__}: {exc}).", out)
                break
        self._written(out)
        self._finish_if_complete(out)
        return out

    def _written(self, out: list) -> None:
        """Acknowledge what the writer thread has put in the mirror, and say "committed"."""
        if self._writer is None:
            return
        done, seq, error = self._writer.results()
        self._in_mirror = max(self._in_mirror, seq)
        if done:
            self.link.send("ack", run=self.run_id, sub=self._sub, n=done)
            out.append({"kind": "committed", "step": self.mirror.last_step})
        if error is not None:
            self._fail(f"The mirror of run {self.run_id} stopped: {str(error).rstrip('.')}.", out)

    def _link_changed(self, state: str, text: str, out: list) -> None:
        if state == "garbled":
            out.append({"kind": "log", "text": text})
        elif state == "refused":
            self._fail(text, out)
        elif state == "lost" and self.state not in TERMINAL:
            if self._known:
                self._status("disconnected", text, out)
            else:  # the engine never confirmed the run: nothing to wait for
                self._fail(text, out)
        elif state == "up" and self.state not in TERMINAL and self.run_id is not None:
            out.append({"kind": "log", "text": text})
            if self._known:
                self._subscribe()  # from the mirror's last commit: nothing lost, nothing twice

    def _take(self, h: dict, blobs: list, out: list) -> None:
        kind = h["kind"]
        if kind == "started" and h.get("run") == self.run_id:
            self._known = True
            self._remote(h, out)
            for cmd, args in self._queued:
                self.link.send("command", run=self.run_id, cmd=cmd, args=args)
            self._queued.clear()
        elif kind == "subscribed" and h.get("run") == self.run_id and h.get("sub") == self._sub:
            self._known = True
            self._remote(h, out)
        elif kind == "worker" and h.get("run") == self.run_id:
            self._worker(h.get("msg") or {}, out)
        elif kind in ("rows", "snapshot") and h.get("run") == self.run_id and h.get("sub") == self._sub:
            self._rows(h, blobs)
        elif kind == "error":
            text = str(h.get("message") or "The engine could not do what was asked.")
            if not self._known:
                self._fail(text, out)
            else:
                out.append({"kind": "log", "text": text})

    def _remote(self, info: dict, out: list) -> None:
        """The run as the engine describes it (after a start or a subscription)."""
        if info.get("progress"):
            out.append(info["progress"])
        if info.get("final_seq") is not None:
            self.final_seq = int(info["final_seq"])
            self._ended = {"state": info["state"], "message": info.get("message", ""),
                           "details": info.get("details", "")}
        elif info.get("state") not in TERMINAL:
            self._remote_state = info.get("state", "starting")
            self._status(self._remote_state, info.get("message", ""), out)

    _ended: dict | None = None

    def _worker(self, msg: dict, out: list) -> None:
        kind = msg.get("kind")
        if kind == "status":
            self._remote_state = msg.get("state", "")
            self._status(msg.get("state", ""), msg.get("message", ""), out, msg.get("details", ""))
        elif kind == "ended":
            self.final_seq = int(msg["final_seq"])
            self._ended = {"state": msg["state"], "message": msg.get("message", ""),
                           "details": msg.get("details", "")}
        elif kind in ("progress", "log", "validation", "probes", "capture_mode", "summary"):
            out.append(msg)

    def _rows(self, h: dict, blobs: list) -> None:
        rows = protocol.decode_rows(h.get("table"), blobs)
        seq = h.get("seq")
        if type(seq) is not int:
            raise ProtocolError("a rows message has no commit number")
        if h["kind"] == "rows":
            if seq <= self._sent_to_mirror:  # sent again after a reconnection: it is in the mirror
                self.link.send("ack", run=self.run_id, sub=self._sub, n=1)
                return
            if seq > self._sent_to_mirror + 1:  # a gap: something was lost on the way; ask again
                self._subscribe()
                return
        if self.mirror is None:
            if "meta" not in rows or not rows["meta"]:
                raise ProtocolError("the first rows of a run carry no session description")
            self.mirror = SessionMirror.create(self.mirror_path, rows["meta"], self.link.address, self.run_id)
        if self._writer is None:
            self._writer = MirrorWriter(self.mirror)
        last_part = h["kind"] == "rows" or h.get("last") is True
        self._writer.put(rows, seq if last_part else None)
        if last_part:
            self._sent_to_mirror = seq
        self.received[h["kind"]] += 1

    def _finish_if_complete(self, out: list) -> None:
        if self.final_seq is None or self.state in TERMINAL:
            return
        if self._in_mirror >= self.final_seq:
            self._close_mirror()
            self._status(self._ended["state"], self._ended["message"], out, self._ended["details"])
            self.link.close()

    def _status(self, state: str, message: str, out: list, details: str = "") -> None:
        self.state, self.message, self.details = state, message, details
        out.append({"kind": "status", "state": state, "message": message, "details": details})

    def _fail(self, text: str, out: list) -> None:
        if self.state not in TERMINAL:
            self._status("failed", text, out)
        self._close_mirror()
        self.link.close()

    # -- WorkerHandle's lifetime ------------------------------------------------------------------
    def is_alive(self) -> bool:
        return self.state not in TERMINAL and self.state != "idle"

    def join(self, timeout=None) -> bool:
        return not self.is_alive()

    def close(self, timeout: float = 0.0) -> None:
        """Stop watching (the run goes on on the engine); the mirror keeps what arrived."""
        self._close_mirror()
        self.link.close()

    def _close_mirror(self) -> None:
        if self._writer is not None:
            self._writer.stop()  # what it was given is written first
        if self.mirror is not None:
            self.mirror.close()


