"""The inspector: the selected node's type, help, output shape, params and FLOPs (for a
binary layer also its memory and compute against float32), and a form generated from its
param schema. Edits go through editor.edits (undoable)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from engine.graph.binary_costs import binary_costs
from engine.graph.binary_costs import facts as binary_facts
from engine.graph.catalogue import CATALOGUE, fmt_shape
from engine.graph.validate import resolved_params

from ..editor import edits
from .param_form import build_form


def human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


class Inspector(QScrollArea):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.node_id: str | None = None
        self.fields = {}
        self.setWidgetResizable(True)
        self._body = QWidget()
        self.setWidget(self._body)
        lay = QVBoxLayout(self._body)
        lay.setContentsMargins(10, 10, 10, 10)
        lay.setSpacing(8)
        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.help = QLabel()
        self.help.setObjectName("muted")
        self.help.setWordWrap(True)
        self.facts = QLabel()
        self.facts.setObjectName("facts")
        self.facts.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.facts.setWordWrap(True)  # a binary layer's claims are sentences
        self.problem = QLabel()
        self.problem.setObjectName("error")
        self.problem.setWordWrap(True)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 4, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for w in (self.heading, self.help, self.facts, self.problem, self.form_host):
            lay.addWidget(w)
        lay.addStretch(1)
        model.node_changed.connect(self._on_node_changed)
        model.node_removed.connect(self._on_node_removed)
        model.analysis_changed.connect(lambda _a: self._show_facts())
        model.reset.connect(lambda: self.show_node(None))
        self.show_node(None)

    def show_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        if node_id is None or not self.model.doc.has_node(node_id):
            self.node_id = None
            self.heading.setText("Nothing selected")
            self.help.setText("Select a node on the canvas to see its shape and edit its params. "
                              "Drag layers from the palette; connect them by dragging from a port.")
            for w in (self.facts, self.problem, self.form_host):
                w.hide()
            return
        node = self.model.doc.node(node_id)
        spec = CATALOGUE.get(node.type)
        self.heading.setText(f"{node.type}  ·  {node_id}")
        self.help.setText(spec.help if spec else "This layer type is unknown to this version.")
        if spec is not None:
            self.fields = build_form(self.form, spec.params, resolved_params(node.type, node.params),
                                     lambda name, v: edits.set_param(self.model, self.node_id, name, v), self)
            self.form_host.setVisible(bool(spec.params))
        self._show_facts()

    def _show_facts(self) -> None:
        if self.node_id is None:
            return
        info = self.model.analysis.nodes.get(self.node_id)
        problem = self.model.problem_for(self.node_id)
        if info is not None:
            rows = [("input", ", ".join(fmt_shape(s) for s in info.in_shapes) or "—"),
                    ("output", fmt_shape(info.out_shape)),
                    ("params", f"{info.n_params:,}"), ("FLOPs", human(info.flops) + " per sample")]
            node = self.model.doc.node(self.node_id)
            costs = binary_costs(node.type, resolved_params(node.type, node.params), info.in_shapes, info.out_shape)
            if costs is not None:
                rows += binary_facts(costs)
            self.facts.setText("<table>" + "".join(
                f"<tr><td style='padding-right:10px; color:gray'>{k}</td><td>{v}</td></tr>" for k, v in rows)
                + "</table>")
            self.facts.show()
        else:
            self.facts.hide()
        self.problem.setText(str(problem) if problem else "")
        self.problem.setVisible(problem is not None)

    def _on_node_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            node = self.model.doc.node(node_id)
            values = resolved_params(node.type, node.params)
            for name, f in self.fields.items():
                f.set_value(values.get(name))

    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.show_node(None)
