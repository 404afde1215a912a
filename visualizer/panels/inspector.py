"""The inspector: the selected node's type, help, output shape, params and FLOPs (for a
binary layer also its memory and compute against float32), and a form generated from its
param schema; for a selected block, its name, what it adds up to, and its members the
views can follow. Edits go through editor.edits (undoable)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QScrollArea, QVBoxLayout, QWidget

from engine.graph.binary_costs import binary_costs
from engine.graph.binary_costs import facts as binary_facts
from engine.graph.blocks import block_ports
from engine.graph.catalogue import CATALOGUE, fmt_shape
from engine.graph.validate import resolved_params

from ..editor import block_edits, edits
from ..editor.block_facts import block_facts, human, probed_members
from .param_form import build_form

__all__ = ["Inspector", "human"]


class Inspector(QScrollArea):
    member_chosen = Signal(str, str)  # block id, member node id: the views follow it

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.node_id: str | None = None
        self.block_id: str | None = None
        self.read_only = False
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
        # a block: its name, and the members with probes (the views follow the one chosen)
        self.block_name = QLineEdit()
        self.block_name.setToolTip("The block's name (F2 on the canvas); Enter renames it")
        self.members_label = QLabel("Probed members (the views follow the one chosen):")
        self.members_label.setObjectName("muted")
        self.members_label.setWordWrap(True)
        self.members = QListWidget()
        self.members.setToolTip("Click a member to show it in the views; double-click to open the block "
                                "and select it")
        for w in (self.heading, self.block_name, self.help, self.facts, self.problem, self.form_host,
                  self.members_label, self.members):
            lay.addWidget(w)
        lay.addStretch(1)
        self.block_name.editingFinished.connect(self._rename)
        self.members.currentItemChanged.connect(self._member_clicked)
        model.node_changed.connect(self._on_node_changed)
        model.node_removed.connect(self._on_node_removed)
        model.analysis_changed.connect(lambda _a: self._show_facts())
        model.block_changed.connect(self._on_block_changed)
        model.blocks_changed.connect(self._on_blocks_changed)
        model.reset.connect(lambda: self.show_node(None))
        self.show_node(None)

    def set_read_only(self, read_only: bool) -> None:
        """A replayed session: nothing can be edited, but a block's members can be chosen."""
        self.read_only = read_only
        self.form_host.setEnabled(not read_only)
        self.block_name.setReadOnly(read_only)

    def show_unit(self, unit: str | None, followed: str | None = None) -> None:
        """Show a node, or a block with ``followed`` marked among its members."""
        if unit is not None and unit in self.model.tree.blocks:
            self.show_block(unit, followed)
        else:
            self.show_node(unit)

    def show_block(self, block_id: str, followed: str | None = None) -> None:
        self.show_node(None)
        self.block_id = block_id
        tree = self.model.tree
        block = tree.blocks[block_id]
        self.heading.setText(f"Block  ·  {block_id}")
        self.block_name.setText(block.name)
        self.block_name.show()
        self.help.setText("A group of layers. Double-click it on the canvas to "
                          + ("open it." if block.collapsed else "fold it (on its header)."))
        self.members.blockSignals(True)
        self.members.clear()
        for node_id, kind in probed_members(self.model.doc, tree, block_id):
            item = QListWidgetItem(f"{node_id}  ({kind})")
            item.setData(Qt.UserRole, node_id)
            self.members.addItem(item)
            if node_id == followed:
                self.members.setCurrentItem(item)
        self.members.blockSignals(False)
        self.members_label.show()
        self.members.show()
        self._show_facts()

    def mark_member(self, node_id: str | None) -> None:
        """Show which member the views follow (chosen elsewhere: the strip above the canvas)."""
        self.members.blockSignals(True)
        for i in range(self.members.count()):
            if self.members.item(i).data(Qt.UserRole) == node_id:
                self.members.setCurrentRow(i)
        self.members.blockSignals(False)

    def _rename(self) -> None:
        if self.block_id is None or self.read_only:
            return
        name = self.block_name.text()
        problem = block_edits.rename_problem(name)
        if problem:
            self.problem.setText(problem)
            self.problem.show()
            self.block_name.setText(self.model.tree.blocks[self.block_id].name)
            return
        block_edits.rename(self.model, self.block_id, name)

    def _member_clicked(self, item, _previous=None) -> None:
        if item is not None and self.block_id is not None:
            self.member_chosen.emit(self.block_id, item.data(Qt.UserRole))

    def _on_block_changed(self, block_id: str) -> None:
        if block_id == self.block_id:
            self.block_name.setText(self.model.tree.blocks[block_id].name)

    def _on_blocks_changed(self) -> None:
        if self.block_id is not None and self.block_id not in self.model.tree.blocks:
            self.show_node(None)

    def show_node(self, node_id: str | None) -> None:
        self.block_id = None
        for w in (self.block_name, self.members_label, self.members):
            w.hide()
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
        if self.block_id is not None and self.block_id in self.model.tree.blocks:
            self._show_block_facts()
            return
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

    def _show_block_facts(self) -> None:
        tree = self.model.tree
        ins, outs = block_ports(self.model.doc, tree, self.block_id)
        ports = ([f"{n}.{p}" for n, p in ins], [f"{n}.{p}" for n, p in outs])
        f = block_facts(tree, self.model.analysis, self.block_id, ports)
        rows = [("layers", f"{len(f.members):,}"), ("input", ", ".join(dict.fromkeys(f.inputs)) or "—"),
                ("output", f.shape_text or "—"), ("params", f"{f.params:,}"),
                ("FLOPs", human(f.flops) + " per sample")]
        self.facts.setText("<table>" + "".join(
            f"<tr><td style='padding-right:10px; color:gray'>{k}</td><td>{v}</td></tr>" for k, v in rows)
            + "</table>")
        self.facts.show()
        self.problem.setText(str(f.problem) if f.problem else "")
        self.problem.setVisible(f.problem is not None)

    def _on_node_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            node = self.model.doc.node(node_id)
            values = resolved_params(node.type, node.params)
            for name, f in self.fields.items():
                f.set_value(values.get(name))

    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.show_node(None)
