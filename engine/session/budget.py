"""The memory one open session file may make us hold: a per-file budget.

A record is limited on its own (limits.MAX_RECORD_BYTES), but a file holds many: eight
allowed 1 GiB records shown at once took the window past 3 GB. So every array a reader
hands out is allocated here, counted while it (or any view of it) is alive, and released
when the garbage collector frees it; an allocation that would take the total past the
limit is refused with a sentence before it happens. Rows a query returns are counted
against the same budget while they are read.
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from .errors import SessionError


def size_text(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class MemoryBudget:
    def __init__(self, limit: int, owner: str):
        self.limit = int(limit)
        self.owner = owner
        self.live = 0
        self._lock = threading.Lock()  # finalizers run in whatever thread frees an array

    def check(self, nbytes: int, what: str) -> None:
        """Refuse ``what`` if ``nbytes`` more would pass the limit."""
        if self.live + nbytes > self.limit:
            raise SessionError(f"{self.owner}: {what} would need {size_text(nbytes)}, taking the "
                               f"memory this file holds past its {size_text(self.limit)} limit "
                               f"({size_text(self.live)} in use).")

    def allocate(self, nbytes: int, what: str) -> np.ndarray:
        """A fresh uint8 buffer of ``nbytes``, counted until it is freed."""
        self.check(nbytes, what)
        buf = np.empty(nbytes, dtype=np.uint8)
        with self._lock:
            self.live += nbytes
        weakref.finalize(buf, self._release, nbytes)
        return buf

    def _release(self, nbytes: int) -> None:
        with self._lock:
            self.live -= nbytes
