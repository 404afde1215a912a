"""The Lessons panel: the course's claims, each with its text for the student and buttons
that open its templates with the right views in front and the right node selected."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QListWidget, QListWidgetItem, QPushButton, QSplitter,
                               QTextBrowser, QVBoxLayout, QWidget)

from engine.graph.errors import GraphError
from engine.lessons import list_lessons, load_lesson

ID_ROLE = Qt.UserRole + 1


class LessonsPanel(QWidget):
    #: (lesson id, template slug): open that template for that lesson
    open_requested = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.buttons = QWidget()
        self.button_row = QVBoxLayout(self.buttons)
        self.button_row.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.list)
        split.addWidget(self.text)
        split.setSizes([160, 340])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split, 1)
        lay.addWidget(self.buttons)
        for lesson in list_lessons():
            item = QListWidgetItem(f"{lesson.number}. {lesson.title}")
            item.setToolTip(lesson.summary)
            item.setData(ID_ROLE, lesson.id)
            self.list.addItem(item)
        self.list.currentItemChanged.connect(self._show)

    def lesson_ids(self) -> list[str]:
        return [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())]

    def show_lesson(self, lesson_id: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(ID_ROLE) == lesson_id:
                self.list.setCurrentRow(i)
                return

    def _show(self, item, _prev=None) -> None:
        while self.button_row.count():
            w = self.button_row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if item is None:
            self.text.clear()
            return
        try:
            lesson = load_lesson(item.data(ID_ROLE))
        except GraphError as err:  # an unknown lesson, a missing text or a broken template
            self.text.setPlainText(str(err))
            return
        self.text.setMarkdown(lesson.text)
        for slug, doc in lesson.documents.items():
            button = QPushButton(f"Open {doc.name}")
            button.setToolTip(doc.description or slug)
            button.clicked.connect(lambda _=False, s=slug: self.open_requested.emit(lesson.id, s))
            self.button_row.addWidget(button)
