"""Slow work (an ONNX export, tracing a user's module, reading a big file) off the GUI
thread: the window keeps painting and answering while it runs, and gets the result or the
exception back on its own thread."""
from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn, relay: _Relay):
        super().__init__()
        self.fn, self.relay = fn, relay

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, which decides
            self.relay.failed.emit(exc)
        else:
            self.relay.done.emit(result)


_running: set = set()  # relays alive until their job reports


def run_in_background(fn, on_done, on_error) -> None:
    """Call ``fn()`` on a pool thread; ``on_done(result)`` or ``on_error(exc)`` run on the
    GUI thread (queued signals) when it ends."""
    relay = _Relay()
    _running.add(relay)

    def finish(handler, value):
        _running.discard(relay)
        handler(value)

    relay.done.connect(lambda r: finish(on_done, r))
    relay.failed.connect(lambda e: finish(on_error, e))
    QThreadPool.globalInstance().start(_Job(fn, relay))
