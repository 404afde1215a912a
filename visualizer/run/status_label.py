"""The run's state in one line: a bold, coloured head and a plain message."""
from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLabel, QSizePolicy


class StatusLabel(QLabel):
    """The message is elided to the room there is, the whole of it in the tooltip: a long
    reason ("Cannot train yet: ...") would otherwise set the run strip's minimum width, and
    with it the window's, past a 1280-pixel screen."""

    def __init__(self):
        super().__init__()
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._head, self._colour, self._message = "", "#777", ""

    @property
    def status(self) -> str:
        """The whole line as plain text, as the tooltip shows it."""
        return f"{self._head} — {self._message}" if self._message else self._head

    def show_status(self, head: str, colour: str, message: str = "") -> None:
        self._head, self._colour, self._message = head, colour, message
        self.setToolTip(f"<p>{html.escape(self.status)}</p>")  # <p>: rich text, so it wraps
        self.updateGeometry()
        self._render()

    def sizeHint(self) -> QSize:
        """The whole line's width: it is shown whole when the strip has the room."""
        bold = QFont(self.font())
        bold.setBold(True)
        width = QFontMetrics(bold).horizontalAdvance(self._head) + 8
        if self._message:
            width += self.fontMetrics().horizontalAdvance(f" — {self._message}")
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(120, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        room = max(0, self.width() - 6)
        head = QFontMetrics(bold).elidedText(self._head, Qt.ElideRight, room)
        text = f"<b style='color:{self._colour}'>{html.escape(head)}</b>"
        if self._message and head == self._head:
            room -= QFontMetrics(bold).horizontalAdvance(head) + self.fontMetrics().horizontalAdvance(" — ")
            message = self.fontMetrics().elidedText(self._message, Qt.ElideRight, max(0, room))
            if message:
                text += f" — {html.escape(message)}"
        self.setText(text)


class ElidedLabel(QLabel):
    """One line of plain text elided to the room there is: its length never sets the run
    strip's minimum width (a long capture mode, note or rate did, and with it the window's:
    1008 pixels after a run, 1290 in presentation mode, past a 1280-pixel projector).
    :meth:`text` is the whole text; the tooltip shows it while it is cut, unless the
    caller set one of its own (``own_tooltip``)."""

    def __init__(self, text: str = "", minimum: int = 60, own_tooltip: bool = False):
        super().__init__()
        self._full, self._minimum, self._own_tooltip = "", minimum, own_tooltip
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self._full = text or ""
        self.updateGeometry()
        self._render()

    def text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 8, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(self._minimum, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.ElideRight, max(0, self.width() - 4))
        QLabel.setText(self, shown)
        if not self._own_tooltip:
            self.setToolTip(self._full if shown != self._full else "")
