"""Garbage that holds Qt objects is collected on the GUI thread, never in a background job's."""
from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject

from visualizer import heap


class _Cycle:
    """A Qt object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self, seen: list):
        self.me = self
        self.qobject = QObject()
        self.seen = seen

    def __del__(self):
        self.seen.append(threading.current_thread() is threading.main_thread())


def test_a_cycle_dropped_while_a_background_thread_allocates_is_freed_on_the_gui_thread(qtbot):
    heap.collect_on_gui_thread()
    assert not gc.isenabled()
    seen: list[bool] = []
    _Cycle(seen)

    def churn():  # far past every threshold: with automatic collection this collects here
        junk = []
        for _ in range(50_000):
            d = {}
            d["self"] = d
            junk.append(d)

    t = threading.Thread(target=churn)
    t.start()
    t.join()
    assert seen == []  # nothing was collected in the background thread
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)  # the GUI thread's timer collects it
    assert seen == [True]
