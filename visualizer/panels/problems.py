"""The Problems list: every problem of the last analysis, one sentence each. Clicking a
problem pinned to a node selects that node and centres it."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle

NODE_ROLE = Qt.UserRole + 1


class ProblemsPanel(QListWidget):
    node_requested = Signal(str)

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.setWordWrap(True)
        self.setAlternatingRowColors(False)
        model.analysis_changed.connect(self.show_problems)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        self.show_problems(model.analysis)

    def show_problems(self, analysis) -> None:
        self.clear()
        icon = self.style().standardIcon(QStyle.SP_MessageBoxWarning)
        for p in analysis.problems:
            item = QListWidgetItem(icon, str(p))
            item.setData(NODE_ROLE, p.node)
            item.setToolTip(str(p) + ("\nClick to show the node." if p.node else ""))
            self.addItem(item)
        if not analysis.problems:
            ok = QListWidgetItem("No problems: the graph is ready to train.")
            ok.setFlags(Qt.ItemIsEnabled)
            self.addItem(ok)

    def messages(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count()) if self.item(i).data(NODE_ROLE) is not None
                or self.item(i).flags() & Qt.ItemIsSelectable]

    def _clicked(self, item) -> None:
        node = item.data(NODE_ROLE)
        if node and self.model.doc.has_node(node):
            self.node_requested.emit(node)
