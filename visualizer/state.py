"""The window's state in one Qt-free object: the open document, the run or recorded session
bound to it, the step on show, the selection and the workspace.

Panels, views, the run panel, the timeline bar and the canvas overlay never keep their own
copy of "what is open": they subscribe to these signals and are reset and rebound when they
fire (napari's ViewerModel is the pattern). The invariant that matters: the binding, when
there is one, belongs to the open document, so no view can show another document's run.

Runs outlive the document they were started from: switch to another document and the run
goes on in the background; open its document again and it comes back bound.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from psygnal import Signal

from engine.graph.document import GraphDocument

from .replay.timeline import Timeline

WORKSPACES = ("build", "watch", "replay")
_new_ids = itertools.count(1)


@dataclass
class OpenDocument:
    """A document as the window holds it. ``key`` says which document it is across
    openings: the same file, template or session opened again has the same key."""
    key: str
    doc: GraphDocument
    path: str | None = None       # the graph file it was read from or saved to
    read_only: bool = False       # a recorded session's graph

    @classmethod
    def from_file(cls, doc: GraphDocument, path: str | Path) -> "OpenDocument":
        path = str(Path(path).resolve())
        return cls(f"file:{path}", doc, path)

    @classmethod
    def from_template(cls, doc: GraphDocument, slug: str) -> "OpenDocument":
        return cls(f"template:{slug}", doc)

    @classmethod
    def from_session(cls, doc: GraphDocument, path: str | Path) -> "OpenDocument":
        return cls(f"session:{Path(path).resolve()}", doc, None, read_only=True)

    @classmethod
    def new(cls, doc: GraphDocument) -> "OpenDocument":
        return cls(f"new:{next(_new_ids)}", doc)


@dataclass
class Binding:
    """A recorded session bound to a document: a run recording into it (``live``) or a
    session opened for replay. ``run`` is the window's handle on the worker (opaque here)."""
    doc_key: str
    session_path: Path
    mode: str                     # "live" or "replay"
    run: object = None
    doc: dict = field(default_factory=dict)  # the graph the run started from (to reopen it)
    name: str = ""
    shown_step: int | None = None  # where the user left the timeline; None: at the head


class AppState:
    document_changed = Signal(object)   # OpenDocument
    binding_changed = Signal(object)    # Binding or None
    selection_changed = Signal(tuple)   # node and block ids
    followed_changed = Signal(object)   # the node the views follow (a block's member), or None
    workspace_changed = Signal(str)
    runs_changed = Signal()             # a run was added or removed

    def __init__(self):
        self.document: OpenDocument | None = None
        self.binding: Binding | None = None
        self.runs: dict[str, Binding] = {}  # document key -> its latest run
        self.selection: tuple[str, ...] = ()
        self.members: dict[str, str] = {}   # block id -> the member its selection shows in the views
        self.workspace = "build"
        self.timeline = Timeline()

    # -- the document ------------------------------------------------------------------
    def open(self, entry: OpenDocument, binding: Binding | None = None) -> None:
        """Make ``entry`` the open document, bound to ``binding`` (a recorded session being
        replayed) or else to the latest run of the same document, if any."""
        self._leave_binding()
        self.document = entry
        self.selection = ()
        self.document_changed.emit(entry)
        self.selection_changed.emit(())
        self._bind(binding if binding is not None else self.runs.get(entry.key))

    def rekey(self, entry: OpenDocument) -> None:
        """The open document got a new identity (saved under a new name): its run follows."""
        old = self.document.key if self.document else None
        self.document = entry
        if old is not None and old in self.runs and old != entry.key:
            run = self.runs.pop(old)
            run.doc_key = entry.key
            self.runs[entry.key] = run

    # -- runs --------------------------------------------------------------------------
    def add_run(self, binding: Binding) -> None:
        """A run was started (or a fork) for ``binding.doc_key``: it replaces that
        document's previous run, and is bound at once if its document is open."""
        self.runs[binding.doc_key] = binding
        self.runs_changed.emit()
        if self.document is not None and binding.doc_key == self.document.key:
            self._leave_binding()
            self._bind(binding)

    def forget_run(self, binding: Binding) -> None:
        if self.runs.get(binding.doc_key) is binding:
            del self.runs[binding.doc_key]
            self.runs_changed.emit()
        if self.binding is binding:
            self._bind(None)

    def background_runs(self) -> list[Binding]:
        return [b for b in self.runs.values() if b is not self.binding]

    def unbind(self) -> None:
        self._leave_binding()
        self._bind(None)

    def _leave_binding(self) -> None:
        if self.binding is not None:  # come back to the same place later
            t = self.timeline
            self.binding.shown_step = None if t.live else t.step

    def _bind(self, binding: Binding | None) -> None:
        assert binding is None or self.document is None or binding.doc_key == self.document.key, \
            "a binding belongs to the open document"
        self.binding = binding
        self.binding_changed.emit(binding)

    # -- selection and workspace ---------------------------------------------------------
    def select(self, ids) -> None:
        ids = tuple(ids)
        if ids != self.selection:
            self.selection = ids
            self.selection_changed.emit(ids)

    @property
    def selected_node(self) -> str | None:
        """The node the per-layer views follow: the one selected node, or for one selected
        block the member chosen for it (the window chooses its first probed member when the
        user has not chosen one)."""
        if len(self.selection) != 1:
            return None
        unit = self.selection[0]
        doc = self.document.doc if self.document is not None else None
        if doc is None or not doc.has_block(unit):
            return unit
        chosen = self.members.get(unit)
        return chosen if chosen is not None and doc.has_node(chosen) else None

    def follow(self, block_id: str, node_id: str) -> None:
        """Show ``node_id`` in the views while block ``block_id`` is selected (remembered per
        block, by id, for as long as the window is open)."""
        if self.members.get(block_id) != node_id:
            self.members[block_id] = node_id
            if self.selection == (block_id,):
                self.followed_changed.emit(node_id)

    def set_workspace(self, name: str) -> None:
        if name not in WORKSPACES:
            raise ValueError(f"unknown workspace {name!r}")
        if name != self.workspace:
            self.workspace = name
            self.workspace_changed.emit(name)
