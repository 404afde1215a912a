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

BIG = 2000  # nodes: a document this big is settled too (below)


def settle() -> None:
    """Collect once, then freeze what survives (call when the window is up)."""
    gc.collect()
    gc.freeze()


def settle_document(n_nodes: int) -> bool:
    """A big document (10,000 nodes: ~200,000 objects, a 100-400 ms full collection that
    otherwise struck while panning or opening a block) is frozen too, once it is drawn.
    When it is closed, reference counting frees it (a document holds no cycles); only the
    canvas items' wrappers of that time, a few hundred, stay behind. Small documents stay in
    the collector's sight, as before. True when it settled."""
    if n_nodes < BIG:
        return False
    settle()
    return True


_collector = None  # the one timer that collects; kept alive here


def collect_on_gui_thread() -> None:
    """Python collects cyclic garbage in whichever thread crosses a threshold. When that is a
    background job's thread (an ONNX export's) and the garbage holds a Qt object (a closed
    dialog's menu), the object is destroyed off the GUI thread and the window deadlocks on
    the interpreter lock (seen in the test suite). Automatic collection is switched off and
    done by a timer on the GUI thread instead: pyqtgraph's GarbageCollector, made for this.
    Call once a QApplication exists; calling again does nothing."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector
        _collector = GarbageCollector(interval=1.0)
