"""The main window's document life cycle: new, open, save, recent files, the prompt for
unsaved changes, and recovery after a crash."""
from __future__ import annotations

import time
from pathlib import Path

from engine.data.paths import DataAccess
from engine.graph.document import GraphDocument, load_graph, save_graph
from engine.graph.errors import GraphError
from engine.templates import load_template

from . import settings_store
from .autosave import Recovery, pending_recoveries
from .editor.layout import layered_layout, needs_layout
from .state import OpenDocument

DEFAULT_TEMPLATE = "playground_mlp"


class FilesMixin:
    data_dirs: list  # folders the user chose in a file dialog (this window's session)

    # -- what is open (visualizer/state.py holds it) --------------------------------------
    @property
    def path(self) -> str | None:
        doc = self.state.document
        return doc.path if doc is not None else None

    @property
    def read_only(self) -> bool:
        doc = self.state.document
        return bool(doc is not None and doc.read_only)

    # -- replacing the document ----------------------------------------------------------
    def _install(self, entry: OpenDocument, binding=None, layout: bool = True, relayout: bool = False) -> None:
        """Open ``entry``; the state binds it to ``binding`` or to its latest run. Positions
        are laid out when the document has none (or, with ``relayout``, always)."""
        doc = entry.doc
        if relayout or (layout and needs_layout(doc)):
            vp = self.view.viewport().size()
            viewport = (max(vp.width(), 900) / 0.9, max(vp.height(), 560) / 0.9)
            for nid, pos in layered_layout(doc, viewport).items():
                doc.node(nid).pos = pos
        self.state.open(entry, binding)

    def _on_document_changed(self, entry: OpenDocument) -> None:
        self._set_data_access(entry.path)
        if entry.doc is not self.model.doc:
            self.model.set_document(entry.doc)
        self.model.flush_analysis()
        self.set_read_only(entry.read_only)
        self.fit_grid()
        self.view.zoom_to_fit()
        self._update_title()

    def _set_data_access(self, graph_path: str | None) -> None:
        """Data is read from the graph file's folder and the folders the user chose in this
        window (a file dialog), never from elsewhere: a stranger's graph cannot name one of
        the user's private files (engine/data/paths.py)."""
        base = Path(graph_path).resolve().parent if graph_path else None
        self.model.data_access = DataAccess(base, tuple(self.data_dirs))

    def allow_data_folder(self, folder) -> None:
        """The user chose a file in ``folder`` in a dialog: data may be read from there."""
        folder = Path(folder).resolve()
        if folder not in self.data_dirs:
            self.data_dirs.append(folder)
        self._set_data_access(self.path)
        self.model.schedule_analysis()

    def new_document(self) -> bool:
        if not self.maybe_save():
            return False
        self._install(OpenDocument.new(GraphDocument(name="untitled")))
        self.set_workspace("build")
        return True

    def open_default(self) -> None:
        try:
            entry = OpenDocument.from_template(load_template(DEFAULT_TEMPLATE), DEFAULT_TEMPLATE)
        except GraphError:
            entry = OpenDocument.new(GraphDocument(name="untitled"))
        self._install(entry)

    def open_template(self, slug: str) -> bool:
        try:
            doc = load_template(slug)
        except GraphError as err:
            self.dialogs.error(self, "Cannot open template", str(err))
            return False
        if not self.maybe_save():
            return False
        self._install(OpenDocument.from_template(doc, slug))
        self._leave_replay_workspace()
        self.statusBar().showMessage(f"Opened the template '{doc.name}'. Save it to keep your changes.", 6000)
        return True

    def open_dialog(self) -> bool:
        start = str(Path(self.path).parent) if self.path else str(Path.cwd())
        path = self.dialogs.open_path(self, start)
        return self.open_file(path) if path else False

    def open_file(self, path: str) -> bool:
        """Open a graph file or a recorded session. A malformed file leaves the current
        document untouched."""
        if str(path).endswith(".session"):
            return self.open_session(path)
        try:
            doc = load_graph(path)
        except GraphError as err:
            self.dialogs.error(self, "Cannot open graph", str(err))
            return False
        if not self.maybe_save():
            return False
        self._install(OpenDocument.from_file(doc, path))
        self._leave_replay_workspace()
        settings_store.add_recent(path)
        return True

    def _leave_replay_workspace(self) -> None:
        if self.state.workspace == "replay":
            self.set_workspace("watch" if self.state.binding is not None else "build")

    # -- saving ------------------------------------------------------------------------
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self._write(self.path)

    def save_as(self) -> bool:
        suggested = self.path or str(Path.cwd() / f"{_slug(self.model.doc.name)}.json")
        path = self.dialogs.save_path(self, suggested)
        return self._write(path) if path else False

    def _write(self, path: str) -> bool:
        try:
            save_graph(self.model.doc, path)
        except OSError as exc:
            self.dialogs.error(self, "Cannot save", f"The graph could not be saved to {path}: "
                               f"{exc.strerror or exc}.")
            return False
        entry = self.state.document
        self.state.rekey(OpenDocument.from_file(self.model.doc, path) if entry is None else
                         OpenDocument(f"file:{Path(path).resolve()}", entry.doc, str(Path(path).resolve())))
        self._set_data_access(self.path)
        self.model.schedule_analysis()  # relative dataset paths now read from the new folder
        self.model.undo_stack.setClean()
        settings_store.add_recent(self.path)
        self._update_title()
        self.statusBar().showMessage(f"Saved {self.path}", 4000)
        return True

    def maybe_save(self) -> bool:
        """True when it is fine to replace or close the document (saved, discarded)."""
        if self.model.undo_stack.isClean():
            return True
        answer = self.dialogs.save_changes(self, self._display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    # -- recent files ------------------------------------------------------------------
    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = settings_store.recent_files()
        for f in files:
            act = menu.addAction(Path(f).name)
            act.setToolTip(f)
            act.setStatusTip(f)
            act.triggered.connect(lambda _=False, f=f: self.open_file(f))
        if not files:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(settings_store.clear_recent)

    # -- crash recovery ----------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """After a crash: offer the newest recovery file. True if the user took it."""
        found = pending_recoveries()
        if not found:
            return False
        rec = found[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.saved_at))
        name = Path(rec.path).name if rec.path else rec.doc.name
        take = self.dialogs.confirm(self, "Recover unsaved work?",
                                    f"Neurostudio did not close properly last time. Unsaved changes to "
                                    f"{name} (autosaved {when}) can be recovered. Recover them?")
        for r in found:
            r.file.unlink(missing_ok=True)
        if take:
            self.recover(rec)
        return take

    def recover(self, rec: Recovery) -> None:
        entry = OpenDocument.from_file(rec.doc, rec.path) if rec.path else OpenDocument.new(rec.doc)
        self._install(entry, layout=False)
        self.model.undo_stack.resetClean()  # recovered work is unsaved work
        self._update_title()

    # -- title ------------------------------------------------------------------------
    def _display_name(self) -> str:
        if self.session_mode == "replay" and self.session_path is not None:
            return f"{Path(self.session_path).name} (recorded run, read-only)"
        return Path(self.path).name if self.path else (self.model.doc.name or "untitled")

    def _clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self._display_name()}[*] — Neurostudio")
        self.setWindowModified(not self.model.undo_stack.isClean())


def _slug(name: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    return out or "untitled"
