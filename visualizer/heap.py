"""Keep Python's garbage collector out of the way of drawing.

With the window built the interpreter tracks some 360,000 objects (Qt wrappers, pyqtgraph
items, modules), and a full collection walks them all: 0.3-0.4 s with the window frozen,
several times a minute during a run (measured by bench/gui_latency.py). Objects alive once
the window is up, before a document is opened, live as long as the window does, so they
are moved out of the collector's sight; later collections walk only what was made since
(bench: the longest pause while training fell from 437 ms to under 5 ms).
"""
from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then freeze what survives (call when the window is up)."""
    gc.collect()
    gc.freeze()
