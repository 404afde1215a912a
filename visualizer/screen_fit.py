"""Windows open at a comfortable size that fits the screen they open on: a dialog sized for
a 1440-pixel screen put its buttons off a 1024 x 640 one, out of reach."""
from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

MARGIN = 0.95  # of the screen's free area: room for the window's frame


def resize_to_fit(widget: QWidget, width: int, height: int) -> None:
    """``widget.resize(width, height)``, made smaller where the screen is."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        free = screen.availableGeometry()
        width = min(width, int(free.width() * MARGIN))
        height = min(height, int(free.height() * MARGIN))
    widget.resize(width, height)
