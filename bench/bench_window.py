"""The window as the GUI benchmarks open it: a real window when DISPLAY is set (else
offscreen), preferences in a temporary folder, light theme, 1600 x 1000, the heap settled
as visualizer/app.py does once the window is up."""
from __future__ import annotations

import os
import sys
import tempfile


def bench_window(prefix: str, size=(1600, 1000)):
    """(app, window): a MainWindow shown and settled, never touching the user's settings."""
    if not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.environ["NEUROSTUDIO_CONFIG_DIR"] = os.path.join(tmp, "config")
    os.environ["NEUROSTUDIO_DATA_DIR"] = os.path.join(tmp, "data")
    from PySide6.QtWidgets import QApplication

    from visualizer import heap
    from visualizer.dialogs import HeadlessDialogs
    from visualizer.main_window import MainWindow
    from visualizer.theme import THEMES, apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app, THEMES["light"])
    window = MainWindow(dialogs=HeadlessDialogs(), restore_layout=False)
    window.resize(*size)
    window.show()
    app.processEvents()
    heap.settle()
    return app, window
