"""Drag and drop of .session and .json files onto the main window (anywhere, including
the canvas, which otherwise only takes layers dragged from the palette)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer

SUFFIXES = (".session", ".json")


def dropped_paths(mime) -> list[str]:
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls()
            if u.isLocalFile() and u.toLocalFile().lower().endswith(SUFFIXES)]


class FileDropFilter(QObject):
    """Accepts file drags and opens the first file after the drop has finished (a modal
    error dialog inside a drop handler would block the drag source)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind in (QEvent.DragEnter, QEvent.DragMove):
            if dropped_paths(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Drop:
            paths = dropped_paths(event.mimeData())
            if paths:
                event.acceptProposedAction()
                QTimer.singleShot(0, lambda p=paths[0]: self.window.open_file(p))
                return True
        return False


def install_file_drops(window) -> FileDropFilter:
    f = FileDropFilter(window)
    window.setAcceptDrops(True)
    window.installEventFilter(f)
    window.view.viewport().installEventFilter(f)
    return f
