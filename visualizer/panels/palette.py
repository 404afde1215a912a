"""The layer palette: every layer type of the catalogue, grouped by category, searchable,
dragged onto the canvas (or double-clicked to add at the canvas centre)."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.graph.catalogue import by_category

from ..editor.view import MIME_LAYER

TYPE_ROLE = Qt.UserRole + 1


def _swatch(colour: QColor) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(colour)
    p.drawRoundedRect(1, 1, 10, 10, 3, 3)
    p.end()
    return QIcon(pm)


class LayerTree(QTreeWidget):
    def mimeData(self, items):
        mime = QMimeData()
        names = [it.data(0, TYPE_ROLE) for it in items if it.data(0, TYPE_ROLE)]
        if names:
            mime.setData(MIME_LAYER, names[0].encode("utf-8"))
            mime.setText(names[0])
        return mime

    def mimeTypes(self):
        return [MIME_LAYER]


class Palette(QWidget):
    add_requested = Signal(str)  # double-click: add at the canvas centre

    def __init__(self, theme, parent=None):
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = LayerTree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragOnly)
        self.tree.setIndentation(12)
        self.tree.setUniformRowHeights(True)
        self.tree.setRootIsDecorated(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.groups: dict[str, QTreeWidgetItem] = {}
        self._build(theme)
        self.search.textChanged.connect(self.filter)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.search.returnPressed.connect(self._add_first_match)

    def _build(self, theme) -> None:
        for category, layers in by_category().items():
            group = QTreeWidgetItem([category])
            group.setFlags(Qt.ItemIsEnabled)
            f = group.font(0)
            f.setBold(True)
            group.setFont(0, f)
            self.tree.addTopLevelItem(group)
            self.groups[category] = group
            for layer in layers:
                item = QTreeWidgetItem([layer.name])
                item.setData(0, TYPE_ROLE, layer.name)
                item.setToolTip(0, f"<b>{layer.name}</b><br>{layer.help}")
                item.setIcon(0, _swatch(theme.category(category)))
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                group.addChild(item)
                self.items[layer.name] = item
            group.setExpanded(True)

    def set_theme(self, theme) -> None:
        for category, group in self.groups.items():
            for i in range(group.childCount()):
                group.child(i).setIcon(0, _swatch(theme.category(category)))

    def filter(self, text: str) -> None:
        words = text.lower().split()
        for group in self.groups.values():
            shown = 0
            for i in range(group.childCount()):
                item = group.child(i)
                hay = (item.text(0) + " " + item.toolTip(0) + " " + group.text(0)).lower()
                hit = all(w in hay for w in words)
                item.setHidden(not hit)
                shown += hit
            group.setHidden(shown == 0)
            if words:
                group.setExpanded(True)

    def visible_types(self) -> list[str]:
        return [name for name, it in self.items.items() if not it.isHidden() and not it.parent().isHidden()]

    def _double_clicked(self, item, _column) -> None:
        name = item.data(0, TYPE_ROLE)
        if name:
            self.add_requested.emit(name)

    def _add_first_match(self) -> None:
        shown = self.visible_types()
        if self.search.text() and shown:
            self.add_requested.emit(shown[0])
