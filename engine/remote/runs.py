"""The engine server's runs: each a worker process (engine/worker.py) recording to a session
file on the server, whose commits are kept in memory for the clients that watch it.

A client's mirror holds commits 0..``have``; what brings it up to date is the commits after
``have`` while the engine still holds them in memory, else a snapshot of the file followed
by the commits received since (engine/remote/snapshot.py)."""
from __future__ import annotations

import re
import secrets
import time
from collections import deque
from pathlib import Path

from ..worker import TERMINAL, WorkerHandle
from .snapshot import snapshot_parts

RING_BYTES = 256 << 20   # commits kept in memory per run; older ones are read from the file
ENDED_RING_BYTES = 16 << 20   # once a run has ended: its file serves the clients as well
COMMANDS = ("pause", "resume", "step", "stop", "set_lr", "set_clipping", "set_probes",
            "checkpoint_now", "kill")


def new_run_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40] or "run"
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class ServerRun:
    """One run on the server. ``pump()`` reads the worker's messages: commits are kept
    (and returned for the clients), status and progress are returned as they are."""

    def __init__(self, run_id: str, name: str, session_path: Path, job: dict, ring_bytes: int = RING_BYTES):
        self.id, self.name, self.session_path = run_id, name, session_path
        self.ring: deque = deque()          # (seq, table, blobs, nbytes), oldest first
        self.ring_bytes, self._held = ring_bytes, 0
        self.last_seq = -1                  # the last commit received from the worker
        self.state, self.message, self.details = "starting", "Starting the training process…", ""
        self.last_progress: dict = {}
        self.final_seq: int | None = None   # known once the worker process has ended
        self.started = time.time()
        self.graph = job["graph"]
        self.handle = WorkerHandle({**job, "record": str(session_path), "stream": True})
        self.handle.start()

    @property
    def ended(self) -> bool:
        return self.final_seq is not None

    def info(self) -> dict:
        return {"run": self.id, "name": self.name, "state": self.state, "message": self.message,
                "details": self.details, "last_seq": self.last_seq, "final_seq": self.final_seq,
                "progress": self.last_progress, "started": self.started,
                "session": self.session_path.name, "graph": self.graph}

    def command(self, cmd: str, args: dict) -> str | None:
        """Pass a command to the worker; a sentence when it cannot be obeyed."""
        if cmd not in COMMANDS:
            return f"'{cmd}' is not a command a run obeys."
        if self.ended:
            return f"The run {self.id} has ended ({self.state}); it takes no more commands."
        if cmd == "kill":
            self.handle.kill()
            return None
        if not self.handle.send(cmd, **{k: v for k, v in args.items() if isinstance(k, str)}):
            return "The training process is gone, so the command was not delivered."
        return None

    def pump(self) -> tuple[list, list]:
        """(new commits, other messages) from the worker since the last call. A terminal
        status is held back until the process has ended and every commit is in: it then
        comes as an "ended" message that names the last commit."""
        commits, others = [], []
        for msg in self.handle.poll():
            kind = msg.get("kind")
            if kind == "rows":
                commits.append(self._keep(msg))
            elif kind == "status":
                self.state, self.message, self.details = msg["state"], msg.get("message", ""), msg.get("details", "")
                if msg["state"] not in TERMINAL:
                    others.append(msg)
            elif kind == "committed":
                pass  # the clients count commits in their mirror
            else:
                if kind == "progress":
                    self.last_progress = msg
                others.append(msg)
        if not self.ended and self.state in TERMINAL and self.handle.join(0):
            for msg in self.handle.poll():  # the last words after the status
                if msg.get("kind") == "rows":
                    commits.append(self._keep(msg))
            self.state, self.message = self.handle.state, self.handle.message
            self.final_seq = self.last_seq
            self.ring_bytes = min(self.ring_bytes, ENDED_RING_BYTES)
            self._trim()
            others.append({"kind": "ended", "state": self.state, "message": self.message,
                           "details": self.details, "final_seq": self.final_seq})
        return commits, others

    def _keep(self, msg: dict) -> tuple:
        blobs = msg.get("blobs") or []
        item = (int(msg["seq"]), msg.get("table") or {}, blobs, sum(len(b) for b in blobs) + 256)
        self.last_seq = item[0]
        self.ring.append(item)
        self._held += item[3]
        self._trim()
        return item

    def _trim(self) -> None:
        while self._held > self.ring_bytes and len(self.ring) > 1:
            self._held -= self.ring.popleft()[3]

    def commit(self, seq: int):
        """The commit ``seq`` as (seq, table, blobs, nbytes); None when it is no longer held
        (read the file: :meth:`snapshot`) or has not come yet."""
        if not self.ring or not self.ring[0][0] <= seq <= self.last_seq:
            return None
        return self.ring[seq - self.ring[0][0]]

    def held(self, seq: int) -> bool:
        """Whether commits from ``seq`` on can be sent from memory."""
        first = self.ring[0][0] if self.ring else self.last_seq + 1
        return seq >= first

    def snapshot(self):
        """(seq, parts): the file as it is now, as row dicts read lazily, and the last commit
        it surely holds (it may hold later ones too)."""
        return self.last_seq, snapshot_parts(self.session_path)

    def close(self, timeout: float = 5.0) -> None:
        self.handle.close(timeout)
