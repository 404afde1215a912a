"""Form fields generated from a Param schema (engine.graph.catalogue.spec.Param).

Each field shows a value, validates what the user types with Param.problem (the same
rule the document validator applies), and emits ``committed(value)`` only for a valid
value. An invalid entry gets a red border and its reason as the tooltip.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget)

INT_LIMIT = 2_000_000_000


class Field(QObject):
    committed = Signal(object)

    def __init__(self, param, parent=None):
        super().__init__(parent)
        self.param = param
        self.widget: QWidget = self._make()
        tip = param.help + (f" ({param.unit})" if param.unit else "")
        self.widget.setToolTip(tip)
        self._tip = tip
        self._setting = False

    # -- building -------------------------------------------------------------------
    def _make(self) -> QWidget:
        p = self.param
        if p.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda v: self._emit(bool(v)))
            return w
        if p.kind == "choice":
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            w.activated.connect(lambda i: self._emit(w.itemData(i)))
            return w
        if p.kind == "int" and not p.nullable:
            w = QSpinBox()
            w.setRange(int(p.min) if p.min is not None else -INT_LIMIT,
                       int(p.max) if p.max is not None else INT_LIMIT)
            w.setKeyboardTracking(False)  # commit on Enter/arrows/focus-out, not per keystroke
            if p.unit:
                w.setSuffix(f" {p.unit}")
            w.valueChanged.connect(lambda v: self._emit(int(v)))
            return w
        if p.kind == "padding":
            w = QComboBox()
            w.setEditable(True)
            w.addItems(["same", "valid"])
            w.lineEdit().editingFinished.connect(lambda: self._from_text(w.currentText()))
            w.activated.connect(lambda i: self._from_text(w.itemText(i)))
            return w
        w = QLineEdit()
        if p.nullable:
            w.setPlaceholderText("none")
        if p.kind == "ints":
            w.setPlaceholderText("e.g. 3, 3")
        w.editingFinished.connect(lambda: self._from_text(w.text()))
        return w

    # -- values ---------------------------------------------------------------------------
    def parse(self, text: str):
        """The value typed, or raise ValueError with the reason."""
        p, text = self.param, text.strip()
        if text == "" and p.nullable:
            return None
        if p.kind == "int":
            return int(text)
        if p.kind == "float":
            return float(text)
        if p.kind == "ints":
            parts = [s for s in text.replace("[", "").replace("]", "").replace("×", ",").replace("x", ",")
                     .replace(" ", ",").split(",") if s]
            return [int(s) for s in parts]
        if p.kind == "padding":
            return text if text in ("same", "valid") else int(text)
        return text

    def _from_text(self, text: str) -> None:
        if self._setting:
            return
        try:
            value = self.parse(text)
        except ValueError:
            self._mark(f"{self.param.name} " + _expected(self.param))
            return
        self._emit(value)

    def _emit(self, value) -> None:
        if self._setting:
            return
        problem = self.param.problem(value)
        if problem:
            self._mark(f"{self.param.name} {problem}")
            return
        self._mark(None)
        self.committed.emit(value)

    def _mark(self, problem: str | None) -> None:
        self.widget.setProperty("invalid", bool(problem))
        self.widget.setToolTip(problem or self._tip)
        self.widget.style().unpolish(self.widget)
        self.widget.style().polish(self.widget)
        self.problem = problem

    def set_value(self, value) -> None:
        """Show ``value`` without emitting (the model changed; the field follows)."""
        self._setting = True
        try:
            w, p = self.widget, self.param
            if p.kind == "bool":
                w.setChecked(bool(value))
            elif p.kind == "choice":
                w.setCurrentIndex(max(0, w.findData(value)))
            elif isinstance(w, QSpinBox):
                if value is not None and w.value() != value:
                    w.setValue(int(value))
            elif p.kind == "padding":
                w.setEditText(str(value))
            else:
                text = _format(value)
                if w.text() != text and not (w.hasFocus() and _same(self, w.text(), value)):
                    w.setText(text)
            self._mark(None)
        finally:
            self._setting = False


def _same(field: Field, text: str, value) -> bool:
    try:
        return field.parse(text) == value
    except ValueError:
        return False


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if not isinstance(value, dict) else json.dumps(value)


def _expected(p) -> str:
    return {"int": "must be a whole number", "float": "must be a number",
            "ints": "must be whole numbers separated by commas",
            "padding": 'must be "same", "valid" or a whole number'}.get(p.kind, "is not valid")


def build_form(layout: QFormLayout, params, values: dict, on_commit, parent=None) -> dict[str, Field]:
    """Add one row per param to ``layout``; ``on_commit(name, value)`` on each valid edit."""
    fields = {}
    for p in params:
        f = Field(p, parent)
        f.set_value(values.get(p.name, p.default))
        f.committed.connect(lambda v, name=p.name: on_commit(name, v))
        label = QLabel(p.name.replace("_", " ") + (f" ({p.unit})" if p.unit and p.kind != "int" else ""))
        label.setToolTip(f._tip)
        label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        layout.addRow(label, f.widget)
        fields[p.name] = f
    return fields
