"""The main window's blocks: group, ungroup, rename, fold and open; the breadcrumb and the
search above the canvas; showing a node that is folded inside blocks; and which member of a
selected block the views follow."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QTimer

from .editor import block_edits
from .editor.block_facts import probed_members
from .editor.block_item import FrameItem
from .editor.canvas_bar import CanvasPane, crumbs


class BlocksMixin:
    def _setup_blocks(self) -> None:
        self.canvas_pane = CanvasPane(self.view)
        self.canvas_pane.doc_tree = lambda: (self.model.doc, self.model.tree)
        self.canvas_pane.crumb_clicked.connect(self.show_crumb)
        self.canvas_pane.search_chosen.connect(self.show_node)
        self.inspector.member_chosen.connect(self.state.follow)
        self.canvas_pane.member_chosen.connect(self.state.follow)
        self.state.followed_changed.connect(self._followed_changed)
        self._crumb_timer = QTimer(self)
        self._crumb_timer.setSingleShot(True)
        self._crumb_timer.setInterval(150)
        self._crumb_timer.timeout.connect(self.update_crumbs)
        self.view.horizontalScrollBar().valueChanged.connect(lambda _v: self._crumb_timer.start())
        self.view.verticalScrollBar().valueChanged.connect(lambda _v: self._crumb_timer.start())
        for sig in (self.model.blocks_changed, self.model.block_changed, self.model.block_collapsed,
                    self.model.reset):
            sig.connect(lambda *_a: self._crumb_timer.start())

    def _followed_changed(self, node_id) -> None:
        self._follow_selection()
        self.show_block_members()

    def show_block_members(self) -> None:
        """The strip above the canvas offers the selected block's probed members."""
        sel = self.state.selection
        block = sel[0] if len(sel) == 1 and sel[0] in self.model.tree.blocks else None
        members = probed_members(self.model.doc, self.model.tree, block) if block else []
        self.canvas_pane.set_members(block, members, self.state.selected_node)
        if block is not None and self.inspector.block_id == block:
            self.inspector.mark_member(self.state.selected_node)

    # -- edits -------------------------------------------------------------------------------
    def group_selection(self) -> str | None:
        if self.read_only:
            return None
        units = self.scene.selected_units()
        problem = block_edits.group_problem(self.model, units)
        if problem:
            self.statusBar().showMessage(problem, 6000)
            return None
        block_id = block_edits.group(self.model, units)
        self.scene.select_nodes([block_id])
        self.statusBar().showMessage("Grouped into a block: F2 renames it, a double-click on its header "
                                     "folds it, Ctrl+Shift+G ungroups it.", 6000)
        return block_id

    def ungroup_selection(self) -> list[str]:
        if self.read_only:
            return []
        out: list[str] = []
        blocks = self.scene.selected_block_ids()
        if not blocks:
            self.statusBar().showMessage("Select a block to ungroup.", 4000)
            return out
        stack = self.model.undo_stack
        stack.beginMacro("Ungroup")
        for b in blocks:
            out += block_edits.ungroup(self.model, b)
        stack.endMacro()
        self.scene.select_nodes(out)
        return out

    def rename_selected_block(self) -> bool:
        blocks = self.scene.selected_block_ids()
        if self.read_only or len(blocks) != 1:
            self.statusBar().showMessage("Select one block to rename.", 4000)
            return False
        block = self.model.tree.blocks[blocks[0]]
        name = self.dialogs.text(self, "Rename Block", "Name:", block.name)
        if name is None:
            return False
        problem = block_edits.rename_problem(name)
        if problem:
            self.statusBar().showMessage(problem, 6000)
            return False
        return block_edits.rename(self.model, blocks[0], name)

    def fold_selection(self, collapsed: bool) -> None:
        blocks = self.scene.selected_block_ids()
        if not blocks:  # a node: its block
            blocks = [self.model.tree.parent.get(n) for n in self.scene.selected_node_ids()]
            blocks = [b for b in blocks if b is not None]
        stack = self.model.undo_stack
        stack.beginMacro("Collapse" if collapsed else "Expand")
        for b in dict.fromkeys(blocks):
            self.scene.toggle_block(b, collapsed)
        stack.endMacro()
        self.scene.select_nodes(blocks)

    # -- finding and showing -------------------------------------------------------------------
    def show_node(self, unit: str) -> None:
        """Select a node or block and bring it on screen, opening the blocks it is folded in."""
        tree = self.model.tree
        if unit not in tree.parent:
            return
        block_edits.reveal(self.model, unit)
        self.scene.flush()
        self.scene.select_nodes([unit])
        r = self.scene.geo.abs_rect(unit)
        self.view.graph_grew()
        self.view.centre_on(QRectF(r[0], r[1], r[2] - r[0], r[3] - r[1]))
        self.scene.flush()
        if self.workbench.right.isVisible():
            self.workbench.right.show_tab("inspector")
        self.update_crumbs()

    def show_crumb(self, block_id) -> None:
        if block_id is None:
            self.scene.select_nodes([])
            self.zoom_to_fit()
        else:
            self.show_node(block_id)

    def focus_search(self) -> None:
        self.canvas_pane.focus_search()

    def update_crumbs(self) -> None:
        """Where you are: the blocks around the selection, or around the middle of the view."""
        tree = self.model.tree
        sel = self.state.selection
        unit = sel[0] if len(sel) == 1 and sel[0] in tree.parent else None
        if unit is None:
            centre = self.view.mapToScene(self.view.viewport().rect().center())
            frames = [it for it in self.scene.items(centre) if isinstance(it, FrameItem)]
            unit = max(frames, key=lambda it: it.depth).node_id if frames else None
        self.canvas_pane.set_crumbs(crumbs(tree, unit))
