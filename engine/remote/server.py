"""``python -m engine serve``: runs training jobs for windows that connect over the network.

One ZeroMQ ROUTER socket, one thread: each pass reads the clients' messages, pumps every
run's worker, and sends each watching client what its mirror lacks. A client must sign
every message with the token (engine/remote/protocol.py); one that does not is answered
with a refusal and otherwise ignored. Data is sent with credit-based flow control (at most
``WINDOW`` data messages unacknowledged per client), so a slow or vanished client never
fills the engine's memory, and what a dropped link lost is sent again when the client asks
with the number of the last commit its mirror holds.
"""
from __future__ import annotations

import json
import re
import sys
import time
import traceback
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from . import protocol
from .protocol import ProtocolError
from .runs import RING_BYTES, ServerRun, new_run_id

WINDOW = 16               # data messages in flight per client and run
PEER_TIMEOUT_S = 120.0    # a client not heard from for this long is forgotten
MAX_CLIENT_MESSAGE = 64 << 20
RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
SEEN_IDS = 100_000        # message ids remembered, so a captured message cannot be replayed


@dataclass
class Watch:
    """One client watching one run: where its mirror is, and what is on its way."""
    sub: int                        # the client's number for this subscription
    cursor: int                     # the next commit to send
    inflight: int = 0
    snapshot: object = None         # (seq, parts iterator, next part) while one is sent


@dataclass
class Peer:
    ident: bytes
    heard: float
    watches: dict = field(default_factory=dict)   # run id -> Watch


class EngineServer:
    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0, runs_dir=".",
                 data_dirs=(), log=None, ring_bytes: int = RING_BYTES):
        if not token:
            raise ValueError("the engine needs a token")
        self.key = token.encode("utf-8")
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.data_dirs = [str(Path(d).resolve()) for d in data_dirs]
        self.ring_bytes = ring_bytes
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)   # know when a message could not go
        self.sock.setsockopt(zmq.ROUTER_HANDOVER, 1)    # a reconnecting client keeps its id
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_CLIENT_MESSAGE)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        self.sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
        addr = f"[{host}]" if ":" in host else host
        if ":" in host:
            self.sock.setsockopt(zmq.IPV6, 1)
        self.sock.bind(f"tcp://{addr}:{port}")
        endpoint = self.sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.host, self.port = host, int(endpoint.rsplit(":", 1)[1])
        self.runs: dict[str, ServerRun] = {}
        self.peers: dict[bytes, Peer] = {}
        self._seen: OrderedDict = OrderedDict()
        self._stop = False

    # -- the loop ---------------------------------------------------------------------------
    def serve_forever(self, poll_ms: int = 20) -> None:
        try:
            while not self._stop:
                self.serve_once(poll_ms)
        finally:
            self.close()

    def stop(self) -> None:
        self._stop = True

    def serve_once(self, poll_ms: int = 20) -> None:
        if self.sock.poll(poll_ms, zmq.POLLIN):
            for _ in range(256):  # then give the runs a turn
                try:
                    frames = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._receive(frames)
        for run in self.runs.values():
            try:
                self._pump(run)
            except Exception:  # noqa: BLE001 — one run's trouble must not stop the others
                self.log(f"Run {run.id}:\n{traceback.format_exc()}")
        self._feed_all()
        now = time.monotonic()
        for ident in [i for i, p in self.peers.items() if now - p.heard > PEER_TIMEOUT_S]:
            del self.peers[ident]

    def close(self) -> None:
        for run in self.runs.values():
            if not run.ended:
                self.log(f"Stopping run {run.id}; its session keeps every committed record.")
            run.close()
        self.sock.close(0)
        self.ctx.term()

    # -- from clients -----------------------------------------------------------------------
    def _receive(self, frames) -> None:
        ident = frames[0].bytes
        try:
            header, blobs = protocol.unpack(self.key, frames[1:])
        except ProtocolError as exc:
            self._refuse(ident, exc)
            return
        if header.get("id") in self._seen:
            return  # a replayed message
        self._seen[header.get("id")] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        peer = self.peers.get(ident)
        if peer is None:
            peer = self.peers[ident] = Peer(ident, time.monotonic())
        peer.heard = time.monotonic()
        try:
            self._handle(peer, header)
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            self._send(peer.ident, "error", message=f"The engine could not use a '{header.get('kind')}' "
                                                    f"message: {exc}.")
        except Exception as exc:  # noqa: BLE001 — the engine serves on; the details stay here
            self.log(f"A '{header.get('kind')}' request failed:\n{traceback.format_exc()}")
            self._send(peer.ident, "error", message=f"The engine failed to do a '{header.get('kind')}' "
                                                    f"request: {type(exc).__name__}: {exc}.")

    def _refuse(self, ident: bytes, exc: ProtocolError) -> None:
        reason = ("the token is wrong or missing" if "signed" in str(exc)
                  else f"it sent something that is not a Neurostudio message ({exc})")
        self.log(f"Refused a client: {reason}.")
        header = {"v": protocol.VERSION, "id": uuid.uuid4().hex, "kind": "refused",
                  "message": f"The engine refused the connection: {reason}."}
        try:  # unsigned: the client has no key to check it with
            self.sock.send_multipart([ident, b"refused", json.dumps(header).encode()], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def _handle(self, peer: Peer, h: dict) -> None:
        kind = h["kind"]
        if kind == "hello":
            self._send(peer.ident, "welcome", engine="neurostudio", runs=[r.info() for r in self.runs.values()],
                       address=f"{self.host}:{self.port}")
        elif kind == "ping":
            self._send(peer.ident, "pong")
        elif kind == "runs":
            self._send(peer.ident, "runs", runs=[r.info() for r in self.runs.values()])
        elif kind == "start":
            self._start(peer, h)
        elif kind == "subscribe":
            run = self._run(h)
            have = h["have"]
            if type(have) is not int or have < -1 or type(h.get("sub")) is not int:
                raise ProtocolError("'have' and 'sub' must be integers")
            peer.watches[run.id] = Watch(sub=h["sub"], cursor=have + 1)
            self._send(peer.ident, "subscribed", sub=h["sub"], **run.info())
        elif kind == "ack":
            watch = peer.watches.get(h.get("run"))
            if watch is not None and h.get("sub") == watch.sub and type(h.get("n")) is int:
                watch.inflight = max(0, watch.inflight - h["n"])
        elif kind == "unsubscribe":
            peer.watches.pop(h.get("run"), None)
        elif kind == "command":
            run = self._run(h)
            args = h.get("args") or {}
            if not isinstance(args, dict):
                raise ProtocolError("'args' must be an object")
            problem = run.command(str(h.get("cmd")), args)
            if problem:
                self._send(peer.ident, "worker", run=run.id, msg={"kind": "log", "text": problem})
        elif kind == "bye":
            self.peers.pop(peer.ident, None)
        else:
            raise ProtocolError(f"'{kind}' is not a request the engine knows")

    def _run(self, h: dict) -> ServerRun:
        run = self.runs.get(h.get("run"))
        if run is None:
            raise ProtocolError(f"this engine has no run {h.get('run')!r}")
        return run

    def _start(self, peer: Peer, h: dict) -> None:
        graph = h.get("graph")
        if not isinstance(graph, dict):
            raise ProtocolError("'graph' must be a graph document")
        name = str(h.get("name") or graph.get("name") or "run")
        run_id = h.get("run") or new_run_id(name)  # the client names it: its mirror's file name
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or run_id in self.runs:
            raise ProtocolError(f"run id {run_id!r} is taken or not made of a-z, 0-9 and '-'")
        job = {"graph": graph, "overrides": dict(h.get("overrides") or {}),
               "start_paused": bool(h.get("start_paused")), "progress_interval": 0.1,
               "probes": dict(h.get("probes") or {}),
               "base_dir": self.data_dirs[0] if self.data_dirs else None, "data_dirs": self.data_dirs}
        run = ServerRun(run_id, name, self.runs_dir / f"{run_id}.session", job, self.ring_bytes)
        self.runs[run_id] = run
        self.log(f"Started run {run_id} for a client.")
        peer.watches[run_id] = Watch(sub=int(h.get("sub") or 0), cursor=0)
        self._send(peer.ident, "started", sub=int(h.get("sub") or 0), request=h.get("id"), **run.info())

    # -- to clients -------------------------------------------------------------------------
    def _send(self, ident: bytes, kind: str, blobs=(), **fields) -> bool:
        try:
            self.sock.send_multipart([ident, *protocol.pack(self.key, kind, blobs, **fields)],
                                     zmq.NOBLOCK, copy=False)
            return True
        except zmq.ZMQError:  # gone, or its queue is full: what it lacks is sent again later
            return False

    def _pump(self, run: ServerRun) -> None:
        _, messages = run.pump()
        if not messages:
            return
        for peer in list(self.peers.values()):
            if run.id in peer.watches:
                for msg in messages:
                    self._send(peer.ident, "worker", run=run.id, msg=msg)

    def _feed_all(self) -> None:
        for peer in list(self.peers.values()):
            for run_id, watch in peer.watches.items():
                run = self.runs.get(run_id)
                if run is not None:
                    self._feed(peer, run, watch)

    def _feed(self, peer: Peer, run: ServerRun, w: Watch) -> None:
        """Send what ``w``'s mirror lacks, as far as its credit goes."""
        while w.inflight < WINDOW:
            if w.snapshot is None and w.cursor <= run.last_seq and not run.held(w.cursor):
                seq, parts = run.snapshot()
                w.snapshot = [seq, parts, next(parts)]
            if w.snapshot is not None:
                seq, parts, part = w.snapshot
                following = next(parts, None)
                table, blobs = protocol.encode_rows(part)
                if not self._send(peer.ident, "snapshot", blobs, run=run.id, sub=w.sub, seq=seq,
                                  last=following is None, table=table):
                    parts.close()  # ends its read of the file; begun again when the client asks
                    w.snapshot = None
                    return
                w.inflight += 1
                if following is None:
                    w.snapshot, w.cursor = None, seq + 1
                else:
                    w.snapshot[2] = following
                continue
            item = run.commit(w.cursor)
            if item is None:
                return  # up to date
            seq, table, blobs, _ = item
            if not self._send(peer.ident, "rows", blobs, run=run.id, sub=w.sub, seq=seq, table=table):
                return
            w.inflight += 1
            w.cursor = seq + 1
