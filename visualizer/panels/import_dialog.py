"""Import a PyTorch nn.Module: a Python file, one of its classes, the constructor's arguments,
an example input shape and, optionally, a weights file (safetensors or a state dict, read
without unpickling). The window traces it with torch.fx into a new graph document."""
from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget)


def classes_in(path: str) -> list[str]:
    """Class names defined in a Python file, read without running it (the import runs it)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


class ImportModuleDialog(QDialog):
    import_requested = Signal(str, str, str, str, str)  # path, class, args, input shape, weights

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import a PyTorch Module")
        self.path = QLineEdit()
        self.path.setPlaceholderText("model.py")
        self.classes = QComboBox()
        self.classes.setEditable(True)
        self.args = QLineEdit()
        self.args.setPlaceholderText('constructor arguments as JSON, e.g. [10] or {"num_classes": 10}')
        self.shape = QLineEdit()
        self.shape.setPlaceholderText("one sample, without the batch: e.g. 1, 28, 28")
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("optional: .safetensors or a state dict (.pt, .pth)")
        form = QFormLayout()
        form.addRow("Python file", self._with_browse(self.path, self._browse_file))
        form.addRow("Class", self.classes)
        form.addRow("Arguments", self.args)
        form.addRow("Input shape", self.shape)
        form.addRow("Weights", self._with_browse(self.weights, self._browse_weights))
        note = QLabel("Importing runs the file's code, as Python would: import only files you trust. "
                      "Weights are read without running any code.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Import")
        self.buttons.accepted.connect(self._request)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.path.editingFinished.connect(self._fill_classes)
        self.resize(560, 0)

    def _with_browse(self, field: QLineEdit, slot) -> QWidget:
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(field, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(slot)
        lay.addWidget(button)
        return row

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Python file with an nn.Module", "", "Python (*.py)")
        if path:
            self.path.setText(path)
            self._fill_classes()

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights", "", "Weights (*.safetensors *.pt *.pth *.bin)")
        if path:
            self.weights.setText(path)

    def _fill_classes(self) -> None:
        names = classes_in(self.path.text())
        current = self.classes.currentText()
        self.classes.clear()
        self.classes.addItems(names)
        if current in names:
            self.classes.setCurrentText(current)

    def _request(self) -> None:
        if not self.path.text().strip() or not self.classes.currentText().strip():
            self.show_error("Choose a Python file and the class to import.")
            return
        self.error.setText("")
        self.import_requested.emit(self.path.text().strip(), self.classes.currentText().strip(),
                                   self.args.text().strip(), self.shape.text().strip(), self.weights.text().strip())

    def busy(self, on: bool) -> None:
        self.buttons.setEnabled(not on)
        self.setCursor(Qt.BusyCursor if on else Qt.ArrowCursor)
        if on:
            self.error.setText("Tracing the module…")

    def show_error(self, text: str) -> None:
        self.error.setText(text)
