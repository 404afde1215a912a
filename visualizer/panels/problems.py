"""The Problems list: every problem of the last analysis, one sentence each, the check
before Train included (does the dataset fit the graph?). Clicking a problem pinned to a
node selects that node and centres it; a problem with an obvious repair has a Fix button
that applies it as one undo step."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QStyle, QWidget

NODE_ROLE = Qt.UserRole + 1


class ProblemsPanel(QListWidget):
    node_requested = Signal(str)
    fix_requested = Signal(object, object)  # node id, engine.graph.data_check.Fix

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.setWordWrap(True)
        self.setAlternatingRowColors(False)
        model.analysis_changed.connect(self.show_problems)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        self.fix_buttons: list[QPushButton] = []
        self.show_problems(model.analysis)

    def show_problems(self, analysis) -> None:
        self.clear()
        self.fix_buttons = []
        icon = self.style().standardIcon(QStyle.SP_MessageBoxWarning)
        for p in analysis.problems:
            item = QListWidgetItem(icon, str(p))
            item.setData(NODE_ROLE, p.node)
            item.setToolTip(str(p) + ("\nClick to show the node." if p.node else ""))
            self.addItem(item)
            fix = getattr(p, "fix", None)
            if fix is not None:
                self._add_fix(item, fix)
        if not analysis.problems:
            ok = QListWidgetItem("No problems: the graph is ready to train.")
            ok.setFlags(Qt.ItemIsEnabled)
            self.addItem(ok)

    def _add_fix(self, item: QListWidgetItem, fix) -> None:
        """The sentence with a Fix button at its right end."""
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(24, 0, 4, 0)
        text = QLabel(item.text())
        text.setWordWrap(True)
        button = QPushButton(f"Fix: {fix.label}")
        button.setToolTip(f"{fix.label[0].upper()}{fix.label[1:]} on '{fix.node}' (one undo step)")
        button.clicked.connect(lambda: self.fix_requested.emit(fix.node, fix))
        lay.addWidget(text, 1)
        lay.addWidget(button)
        item.setText("")
        item.setData(Qt.UserRole + 2, text.text())
        item.setSizeHint(QSize(0, max(row.sizeHint().height(), 30)))
        self.setItemWidget(item, row)
        self.fix_buttons.append(button)

    def messages(self) -> list[str]:
        out = []
        for i in range(self.count()):
            item = self.item(i)
            if item.data(NODE_ROLE) is not None or item.flags() & Qt.ItemIsSelectable:
                out.append(item.data(Qt.UserRole + 2) or item.text())
        return out

    def _clicked(self, item) -> None:
        node = item.data(NODE_ROLE)
        if node and self.model.doc.has_node(node):
            self.node_requested.emit(node)
