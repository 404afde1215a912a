"""EngineLink: a client's connection to ``python -m engine serve`` (Qt-free, never blocks
unless asked to).

ZeroMQ reconnects by itself after a dropped TCP connection; the link adds what a person
needs to know: a heartbeat (a ping every ``PING_S``; nothing heard for ``LOST_S`` means the
link is lost, the next message means it is back), a refusal when the token is wrong, and a
sentence for every message that is not the engine's.
"""
from __future__ import annotations

import json
import secrets
import time

import zmq

from . import protocol
from .protocol import ProtocolError


class LinkError(ConnectionError):
    """The engine cannot be reached or refused us: one sentence."""

    def __init__(self, text: str):
        super().__init__(text)
        self.strerror = text.rstrip(".")  # as an OSError's, for callers that add their own stop

    def __str__(self) -> str:
        return self.args[0] if self.args else "The engine cannot be reached."


def parse_address(address: str) -> tuple[str, int]:
    """"HOST:PORT" (or "[v6]:PORT") -> (host, port); LinkError with a sentence otherwise."""
    text = (address or "").strip()
    if text.startswith("tcp://"):
        text = text[6:]
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise LinkError(f"'{address}' is not an engine address: write HOST:PORT, e.g. 127.0.0.1:7370.")
    return host, int(port)


class EngineLink:
    PING_S = 0.5
    LOST_S = 4.0

    def __init__(self, address: str, token: str):
        if not token:
            raise LinkError("The engine needs its token: copy it from where the engine was started.")
        self.host, self.port = parse_address(address)
        self.address = f"{self.host}:{self.port}"
        self.key = token.encode("utf-8")
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, b"ns-" + secrets.token_bytes(12))
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 200)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        self.sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        self.sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
        if ":" in self.host:
            self.sock.setsockopt(zmq.IPV6, 1)
        host = f"[{self.host}]" if ":" in self.host else self.host
        try:
            self.sock.connect(f"tcp://{host}:{self.port}")
        except zmq.ZMQError as exc:
            self.sock.close(0)
            raise LinkError(f"Cannot connect to {self.address}: {exc}.") from None
        self.state = "connecting"       # connecting, up, lost, refused, closed
        self.problem = ""               # the last sentence about the link
        self._heard = self._pinged = time.monotonic()
        self._since = time.monotonic()

    # -- sending ------------------------------------------------------------------------------
    def send(self, kind: str, blobs=(), **fields) -> str | None:
        """Send a request; its message id, or None when it could not be queued."""
        if self.state in ("refused", "closed"):
            return None
        frames = protocol.pack(self.key, kind, blobs, **fields)
        try:
            self.sock.send_multipart(frames, zmq.NOBLOCK, copy=False)
        except zmq.ZMQError:
            return None
        return json.loads(bytes(frames[1]))["id"]

    # -- receiving ----------------------------------------------------------------------------
    def receive(self, timeout_ms: int = 0) -> tuple[list, list]:
        """(messages, link changes) since the last call: messages are (header, blobs) of the
        engine's signed messages (pongs are kept here); link changes are (state, sentence)
        pairs, e.g. ("lost", "Lost the connection to the engine at ...")."""
        out, changes = [], []
        if self.state == "closed":
            return out, changes
        now = time.monotonic()
        if now - self._pinged >= self.PING_S and self.state != "refused":
            self._pinged = now
            self.send("ping")
        try:
            ready = self.sock.poll(timeout_ms, zmq.POLLIN)
            while ready:
                frames = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
                self._take(frames, out, changes)
                ready = self.sock.poll(0, zmq.POLLIN)
        except zmq.ZMQError:
            pass
        if self.state in ("up", "connecting") and time.monotonic() - self._heard > self.LOST_S:
            was = self.state
            self.state = "lost"
            self.problem = (f"Lost the connection to the engine at {self.address}; reconnecting… "
                            f"(runs go on there)." if was == "up" else
                            f"No answer from an engine at {self.address}: is it running, and is the "
                            f"address (or the SSH tunnel to it) right?")
            changes.append(("lost", self.problem))
        return out, changes

    def _take(self, frames, out: list, changes: list) -> None:
        if len(frames) >= 2 and frames[0].bytes == b"refused":
            try:
                header = protocol.parse_header(frames[1].bytes)
                text = str(header.get("message") or "The engine refused the connection.")
            except ProtocolError:
                text = "The engine refused the connection."
            self.state, self.problem = "refused", text
            changes.append(("refused", text))
            return
        try:
            header, blobs = protocol.unpack(self.key, frames)
        except ProtocolError as exc:
            changes.append(("garbled", f"The engine at {self.address} sent a message that was ignored: {exc}."))
            return
        self._heard = time.monotonic()
        if self.state != "up":
            was, self.state = self.state, "up"
            self.problem = ""
            changes.append(("up", f"Connected to the engine at {self.address}." if was == "connecting"
                            else f"The connection to the engine at {self.address} is back."))
        if header["kind"] != "pong":
            out.append((header, blobs))

    def hello(self, timeout: float = 5.0) -> dict:
        """Wait (at most ``timeout`` s) for the engine's welcome: the runs it has. LinkError
        with a sentence when it refuses us or does not answer."""
        self.send("hello")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            messages, changes = self.receive(50)
            for state, text in changes:
                if state in ("refused", "garbled"):
                    raise LinkError(text)
            for header, _ in messages:
                if header["kind"] == "welcome":
                    return header
        raise LinkError(f"No answer from an engine at {self.address} within {timeout:g} s: is it "
                        f"running, and is the address (or the SSH tunnel to it) right?")

    def close(self) -> None:
        if self.state != "closed":
            if self.state == "up":
                self.send("bye")
            self.state = "closed"
            self.sock.close(0)
