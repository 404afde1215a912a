"""The Templates gallery: each built-in template with its name and description; open one
as a new document (the current one is offered for saving first)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from engine.templates import first_sentence, list_templates

SLUG_ROLE = Qt.UserRole + 1


class TemplatesGallery(QWidget):
    open_requested = Signal(str)  # template slug

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setObjectName("muted")
        self.detail.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.open_button = QPushButton("Open template")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.list, 3)
        lay.addWidget(self.detail, 2)
        lay.addWidget(self.open_button)
        for t in list_templates():
            item = QListWidgetItem(f"{t.name}\n{first_sentence(t.description)}")
            item.setData(SLUG_ROLE, t.slug)
            item.setToolTip(t.description)
            self.list.addItem(item)
            item.setData(Qt.UserRole + 2, t.description)
        self.list.currentItemChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(self._open)
        self.open_button.clicked.connect(lambda: self._open(self.list.currentItem()))
        self.open_button.setEnabled(False)

    def slugs(self) -> list[str]:
        return [self.list.item(i).data(SLUG_ROLE) for i in range(self.list.count())]

    def _show(self, item, _prev=None) -> None:
        self.open_button.setEnabled(item is not None)
        self.detail.setText(item.data(Qt.UserRole + 2) if item else "")

    def _open(self, item) -> None:
        if item is not None:
            self.open_requested.emit(item.data(SLUG_ROLE))
