"""The Qt side of the graph document: one GraphDocument, changed only through the
primitives below (called by undo commands), announced by fine-grained signals.

The scene, inspector, problems list and status bar subscribe to these signals; none of
them keeps its own copy of a node's params. Shape inference (engine.graph.shapes.analyse)
re-runs shortly after the last change and is announced by ``analysis_changed``.
"""
from __future__ import annotations

import copy

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from engine.data.paths import DataAccess
from engine.graph.data_check import check_data, dataset_info
from engine.graph.blocks import Block, BlockTree
from engine.graph.document import Edge, GraphDocument, Node
from engine.graph.errors import GraphError
from engine.graph.shapes import Analysis, analyse

ANALYSIS_DELAY_MS = 100


class DocumentModel(QObject):
    node_added = Signal(str)
    node_removed = Signal(str)
    node_changed = Signal(str)      # params
    node_moved = Signal(str)
    edge_added = Signal(object)     # Edge
    edge_removed = Signal(object)   # Edge
    settings_changed = Signal()
    dataset_changed = Signal()
    reset = Signal()                # a whole new document
    analysis_changed = Signal(object)  # Analysis
    blocks_changed = Signal()       # blocks added or removed, or who is in which block
    block_changed = Signal(str)     # a block's name
    block_collapsed = Signal(str)   # a block folded or opened
    block_moved = Signal(str)

    def __init__(self, doc: GraphDocument | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._doc = doc if doc is not None else GraphDocument()
        # which files the dataset may come from (engine/data/paths.py): the graph file's
        # folder, where relative paths start, and folders the user chose in a file dialog
        self.data_access = DataAccess()
        self.undo_stack = QUndoStack(self)
        self.analysis = Analysis({}, [])
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(ANALYSIS_DELAY_MS)
        self._timer.timeout.connect(self._reanalyse)
        for sig in (self.node_added, self.node_removed, self.node_changed, self.edge_added,
                    self.edge_removed, self.reset, self.dataset_changed):
            sig.connect(self.schedule_analysis)
        self.settings_changed.connect(self.schedule_analysis)  # settings have their own checks
        self._tree = None
        for sig in (self.node_added, self.node_removed, self.blocks_changed, self.reset):
            sig.connect(self._drop_tree)
        self.schedule_analysis()

    @property
    def doc(self) -> GraphDocument:
        return self._doc

    @property
    def tree(self) -> BlockTree:
        """Who contains whom; rebuilt after nodes or blocks come and go."""
        if self._tree is None:
            self._tree = self._doc.tree()
        return self._tree

    def _drop_tree(self, *_args) -> None:
        self._tree = None

    # -- whole document -------------------------------------------------------------
    def set_document(self, doc: GraphDocument) -> None:
        """Replace the document (New, Open, Recover): the undo history starts afresh."""
        self._doc = doc
        self.undo_stack.clear()
        self.reset.emit()

    # -- primitives: only undo commands call these ----------------------------------
    def insert_node(self, node: Node, index: int | None = None) -> None:
        if self._doc.has_node(node.id):
            raise GraphError(f"A node with the id '{node.id}' already exists.", node=node.id)
        nodes = self._doc.nodes
        nodes.insert(len(nodes) if index is None else index, node)
        self.node_added.emit(node.id)

    def take_node(self, node_id: str) -> tuple[Node, int]:
        if self._doc.incoming(node_id) or self._doc.outgoing(node_id):
            raise RuntimeError(f"node {node_id} still has edges; remove them first")
        index = next(i for i, n in enumerate(self._doc.nodes) if n.id == node_id)
        node = self._doc.nodes.pop(index)
        self.node_removed.emit(node_id)
        return node, index

    def set_node_params(self, node_id: str, params: dict) -> None:
        self._doc.node(node_id).params = copy.deepcopy(params)
        self.node_changed.emit(node_id)

    def set_node_pos(self, node_id: str, pos: tuple[float, float]) -> None:
        self._doc.node(node_id).pos = (float(pos[0]), float(pos[1]))
        self.node_moved.emit(node_id)

    def set_unit_pos(self, unit: str, pos: tuple[float, float]) -> None:
        """A node's or a block's position."""
        block = self.tree.blocks.get(unit)
        if block is None:
            self.set_node_pos(unit, pos)
        else:
            block.pos = (float(pos[0]), float(pos[1]))
            self.block_moved.emit(unit)

    def set_structure(self, blocks: list[Block], membership: dict, positions: dict) -> None:
        """Replace the blocks, move nodes between them (node id -> block id or None) and set
        positions (unit -> pos), announced once: group, ungroup, and deletes that empty a block."""
        self._doc.blocks = copy.deepcopy(blocks)
        for node_id, block_id in membership.items():
            self._doc.node(node_id).block = block_id
        by_id = {b.id: b for b in self._doc.blocks}
        for unit, pos in positions.items():
            target = by_id.get(unit) or self._doc.node(unit)
            target.pos = (float(pos[0]), float(pos[1]))
        self.blocks_changed.emit()

    def set_block_name(self, block_id: str, name: str) -> None:
        self.tree.blocks[block_id].name = name
        self.block_changed.emit(block_id)

    def set_block_collapsed(self, block_id: str, collapsed: bool) -> None:
        self.tree.blocks[block_id].collapsed = bool(collapsed)
        self.block_collapsed.emit(block_id)

    def insert_edge(self, edge: Edge, index: int | None = None) -> None:
        edges = self._doc.edges
        edges.insert(len(edges) if index is None else index, edge)
        self.edge_added.emit(edge)

    def take_edge(self, edge: Edge) -> int:
        # the last equal edge: identical parallel edges (Add(x, x)) come back in order on undo
        index = max(i for i, e in enumerate(self._doc.edges) if e == edge)
        self._doc.edges.pop(index)
        self.edge_removed.emit(edge)
        return index

    def set_training(self, training: dict) -> None:
        self._doc.training = copy.deepcopy(training)
        self.settings_changed.emit()

    def set_dataset(self, dataset: dict) -> None:
        self._doc.dataset = copy.deepcopy(dataset)
        self.dataset_changed.emit()

    # -- analysis ---------------------------------------------------------------------
    def schedule_analysis(self, *_args) -> None:
        self._timer.start()

    def flush_analysis(self) -> Analysis:
        """Run a pending analysis now (tests, screenshots, before training)."""
        if self._timer.isActive():
            self._timer.stop()
            self._reanalyse()
        return self.analysis

    def _reanalyse(self) -> None:
        try:
            result = analyse(self._doc)
        except GraphError as err:
            result = Analysis({}, [err])
        else:  # the check before Train: does the dataset fit? (engine/graph/data_check.py)
            info, error = dataset_info(self._doc.dataset, self.data_access)
            result.problems.extend(check_data(self._doc, result, info, error))
        self.analysis = result
        self.analysis_changed.emit(result)

    def problem_for(self, node_id: str) -> GraphError | None:
        return next((p for p in self.analysis.problems if p.node == node_id), None)
