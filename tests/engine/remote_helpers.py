"""What the remote-engine tests share: an engine server on a thread (loopback only), a TCP
relay whose connections a test can cut, every row of a session file for comparison, and a
loop that polls a RemoteRun until a condition holds."""
from __future__ import annotations

import queue
import socket
import sqlite3
import threading
import time

TOKEN = "test-token-" + "k" * 24
TIMEOUT = 90.0


class ServerThread:
    """EngineServer(...) serving on a thread; ``.address`` is its HOST:PORT."""

    def __init__(self, runs_dir, **kw):
        from engine.remote.server import EngineServer
        ready: queue.Queue = queue.Queue()

        def main():
            try:
                server = EngineServer(TOKEN, port=0, runs_dir=runs_dir, log=lambda text: None, **kw)
            except BaseException as exc:  # noqa: BLE001 — handed to the test
                ready.put(exc)
                return
            self.server = server
            ready.put(server.port)
            server.serve_forever(poll_ms=10)

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        port = ready.get(timeout=30)
        if isinstance(port, BaseException):
            raise port
        self.port = port
        self.address = f"127.0.0.1:{port}"

    def run_path(self, run_id: str):
        return self.server.runs[run_id].session_path

    def close(self) -> None:
        self.server.stop()
        self._thread.join(15)


class CuttableRelay:
    """A TCP relay on loopback: clients connect to ``.port``, bytes go to ``target``.
    ``cut()`` drops every connection and refuses new ones until ``restore()``."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.port = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listen()

    def _listen(self) -> None:
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self.port = self._server.getsockname()[1]
        self._server.listen(8)
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        try:  # wakes the accepting thread; a plain close would leave the port listening
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        self._listen()

    def close(self) -> None:
        self.cut()


def session_rows(path) -> dict:
    """Every row of a session file by table, in a comparable order (tensor rows by series
    name and step, not by row id, which a mirror numbers itself). Meta without the mirror's
    own ``remote`` entry."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        q = lambda sql: sorted(db.execute(sql).fetchall(), key=repr)  # noqa: E731
        return {
            "meta": {k: v for k, v in db.execute("SELECT key, value FROM meta") if k != "remote"},
            "series": q("SELECT id, kind, name FROM series"),
            "scalars": q("SELECT series, step, wall, value FROM scalars"),
            "tensors": q("SELECT series, step, wall, dtype, shape, compression, data FROM tensors"),
            "events": q("SELECT id, step, wall, kind, message, data FROM events"),
            "checkpoints": q("SELECT step, wall, optimizer FROM checkpoints"),
            "checkpoint_tensors": q("SELECT * FROM checkpoint_tensors"),
            "probe": q("SELECT * FROM probe"),
        }
    finally:
        db.close()


def poll_until(run, pred, what: str, seen: list | None = None, timeout: float = TIMEOUT) -> list:
    """Poll ``run`` (a RemoteRun) until ``pred(run)``; its messages are added to ``seen``."""
    seen = [] if seen is None else seen
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        seen.extend(run.poll(20))
        if pred(run):
            return seen
    raise AssertionError(f"no {what} within {timeout} s; state {run.state!r}, "
                         f"last messages {[m for m in seen if m['kind'] != 'progress'][-6:]}")
