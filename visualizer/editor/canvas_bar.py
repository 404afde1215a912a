"""The strip above the canvas: a breadcrumb of the blocks around what is selected (or around
the middle of the view), and a search box that finds a layer by id, type or block name,
opening the blocks it is folded inside.

``search_matches`` is plain Python (tests call it); the widgets only show its answers.
"""
from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QCompleter, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout,
                               QWidget)

MAX_MATCHES = 50


def search_matches(doc, tree, text: str, limit: int = MAX_MATCHES) -> list[str]:
    """Units whose id, layer type or block name contains ``text`` (case-insensitive): exact
    ids first, then ids that start with it, then the rest, in document order."""
    q = text.strip().lower()
    if not q:
        return []
    exact, start, rest = [], [], []
    for b in doc.blocks:
        name = b.name.lower()
        key = b.id.lower()
        if key == q or name == q:
            exact.append(b.id)
        elif key.startswith(q) or name.startswith(q):
            start.append(b.id)
        elif q in key or q in name:
            rest.append(b.id)
    for n in doc.nodes:
        key = n.id.lower()
        if key == q:
            exact.append(n.id)
        elif key.startswith(q):
            start.append(n.id)
        elif q in key or q in n.type.lower():
            rest.append(n.id)
        if len(exact) + len(start) >= limit:
            break
    return (exact + start + rest)[:limit]


def crumbs(tree, unit: str | None) -> list[tuple[str | None, str]]:
    """(block id, name) from the graph down to the block holding ``unit`` (and ``unit`` itself
    when it is a block); the first entry (None, "Graph") is the whole graph."""
    out: list[tuple[str | None, str]] = [(None, "Graph")]
    if unit is None or unit not in tree.parent:
        return out
    chain = list(reversed(tree.ancestors(unit)))
    if unit in tree.blocks:
        chain.append(unit)
    return out + [(b, tree.blocks[b].name) for b in chain]


class CanvasPane(QWidget):
    """The canvas with its breadcrumb and search strip."""

    crumb_clicked = Signal(object)     # a block id, or None for the whole graph
    search_chosen = Signal(str)        # a unit id to reveal and select
    member_chosen = Signal(str, str)   # block id, member: the views follow it

    def __init__(self, view, parent=None):
        super().__init__(parent)
        self.view = view
        self.doc_tree = None           # (doc, tree) callable, set by the window
        bar = QWidget()
        bar.setObjectName("canvasBar")
        self.path = QHBoxLayout()
        self.path.setContentsMargins(0, 0, 0, 0)
        self.path.setSpacing(2)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a layer or block…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(260)
        self.search.setToolTip("Type a node id, a layer type or a block name; Enter opens the "
                               "blocks it is inside and selects it")
        self._model = QStringListModel(self)
        self.completer = QCompleter(self._model, self)
        self.completer.setCaseSensitivity(Qt.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchContains)
        self.search.setCompleter(self.completer)
        self.message = QLabel()
        self.message.setObjectName("muted")
        # a selected block: which of its members the views follow (in every workspace)
        self.member_label = QLabel("Views follow")
        self.member_label.setObjectName("muted")
        self.member_box = QComboBox()
        self.member_box.setToolTip("The member of the selected block that the views show")
        self._member_block: str | None = None
        top = QHBoxLayout(bar)
        top.setContentsMargins(8, 3, 8, 3)
        top.addLayout(self.path)
        top.addStretch(1)
        top.addWidget(self.member_label)
        top.addWidget(self.member_box)
        top.addWidget(self.message)
        top.addWidget(self.search)
        self.member_box.currentIndexChanged.connect(self._member_changed)
        self.set_members(None, [], None)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(bar)
        lay.addWidget(view, 1)
        self.search.textEdited.connect(self._suggest)
        self.search.returnPressed.connect(self._chosen)
        self.completer.activated.connect(lambda text: self._chosen(text))
        self._shown: list[tuple[str | None, str]] = []
        self.set_crumbs([(None, "Graph")])

    # -- breadcrumb --------------------------------------------------------------------------
    def set_crumbs(self, path: list[tuple[str | None, str]]) -> None:
        if path == self._shown:
            return
        self._shown = list(path)
        while self.path.count():
            w = self.path.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for i, (block_id, name) in enumerate(path):
            if i:
                sep = QLabel("›")
                sep.setObjectName("muted")
                self.path.addWidget(sep)
            b = QToolButton()
            b.setText(name)
            b.setAutoRaise(True)
            b.setToolTip("Show the whole graph" if block_id is None else f"Select and show block '{block_id}'")
            b.clicked.connect(lambda _=False, bid=block_id: self.crumb_clicked.emit(bid))
            self.path.addWidget(b)

    def crumb_names(self) -> list[str]:
        return [name for _, name in self._shown]

    # -- a block's members -------------------------------------------------------------------
    def set_members(self, block_id: str | None, members: list[tuple[str, str]], followed: str | None) -> None:
        """Offer ``members`` ((node id, type)) of the selected block; hidden without one."""
        self._member_block = None
        self.member_box.blockSignals(True)
        self.member_box.clear()
        for node_id, kind in members:
            self.member_box.addItem(f"{node_id} ({kind})", node_id)
        i = self.member_box.findData(followed)
        self.member_box.setCurrentIndex(max(i, 0))
        self.member_box.blockSignals(False)
        shown = block_id is not None and bool(members)
        self.member_label.setVisible(shown)
        self.member_box.setVisible(shown)
        self._member_block = block_id if shown else None

    def _member_changed(self, _index: int) -> None:
        node_id = self.member_box.currentData()
        if self._member_block is not None and node_id:
            self.member_chosen.emit(self._member_block, node_id)

    # -- search ------------------------------------------------------------------------------
    def _suggest(self, text: str) -> None:
        self.message.clear()
        if self.doc_tree is None:
            return
        doc, tree = self.doc_tree()
        labels = []
        for u in search_matches(doc, tree, text):
            if u in tree.blocks:
                labels.append(f"{u} — block {tree.blocks[u].name}")
            else:
                labels.append(f"{u} — {doc.node(u).type}")
        self._model.setStringList(labels)

    def _chosen(self, text: str | None = None) -> None:
        text = (text if isinstance(text, str) else self.search.text()).split(" — ")[0].strip()
        if not text or self.doc_tree is None:
            return
        doc, tree = self.doc_tree()
        found = search_matches(doc, tree, text, limit=1)
        if not found:
            self.message.setText(f"No layer or block matches '{text[:40]}'.")
            return
        self.message.clear()
        self.search_chosen.emit(found[0])

    def focus_search(self) -> None:
        self.search.setFocus(Qt.ShortcutFocusReason)
        self.search.selectAll()
