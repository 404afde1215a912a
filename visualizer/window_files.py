"""The main window's document life cycle: new, open, save, recent files, the prompt for
unsaved changes, and recovery after a crash."""
from __future__ import annotations

import time
from pathlib import Path

from engine.graph.document import GraphDocument, load_graph, save_graph
from engine.graph.errors import GraphError
from engine.templates import load_template

from . import settings_store
from .autosave import Recovery, pending_recoveries
from .editor.layout import layered_layout, needs_layout

DEFAULT_TEMPLATE = "playground_mlp"


class FilesMixin:
    path: str | None = None

    # -- replacing the document ----------------------------------------------------------
    def _install(self, doc: GraphDocument, path: str | None, layout: bool = True) -> None:
        if self.session_mode == "replay":
            self.leave_replay()
        if layout and needs_layout(doc):
            vp = self.view.viewport().size()
            viewport = (max(vp.width(), 900) / 0.9, max(vp.height(), 560) / 0.9)
            for nid, pos in layered_layout(doc, viewport).items():
                doc.node(nid).pos = pos
        self.path = path
        self.model.set_document(doc)
        self.model.flush_analysis()
        self.view.zoom_to_fit()
        self._update_title()

    def new_document(self) -> bool:
        if not self.maybe_save():
            return False
        self._install(GraphDocument(name="untitled"), None)
        return True

    def open_default(self) -> None:
        try:
            doc = load_template(DEFAULT_TEMPLATE)
        except GraphError:
            doc = GraphDocument(name="untitled")
        self._install(doc, None)

    def open_template(self, slug: str) -> bool:
        try:
            doc = load_template(slug)
        except GraphError as err:
            self.dialogs.error(self, "Cannot open template", str(err))
            return False
        if not self.maybe_save():
            return False
        self._install(doc, None)
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
        self._install(doc, str(Path(path).resolve()))
        settings_store.add_recent(path)
        return True

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
        self.path = str(Path(path).resolve())
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
        self._install(rec.doc, rec.path, layout=False)
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
