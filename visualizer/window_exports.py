"""The main window's exports: any view as a PNG picture, an SVG drawing or its data as CSV
(from the pane's Export button or File > Export), the whole workspace as a picture, and
the bound session's scalars as CSV."""
from __future__ import annotations

import re
from pathlib import Path

from engine.session import SessionError


def _stem(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", "-".join(parts)).strip("-").lower() or "export"


class ExportsMixin:
    def _export_target(self, stem: str, kind: str) -> str | None:
        folder = Path(self.path).parent if self.path else Path.cwd()
        return self.dialogs.export_path(self, str(folder / f"{stem}.{kind}"), kind)

    def _written(self, what: str, path: str) -> None:
        self.statusBar().showMessage(f"Exported {what} to {path}", 6000)

    def _cannot(self, what: str, path: str, exc: Exception) -> bool:
        reason = getattr(exc, "strerror", None) or str(exc)
        self.dialogs.error(self, "Cannot export", f"{what} could not be written to {path}: {reason}.")
        return False

    def export_view(self, title: str, kind: str) -> bool:
        """View ``title`` as "png", "svg" or "csv" (its data), to a file the user names."""
        view = self.views_by_title.get(title)
        if view is None:
            return False
        path = self._export_target(_stem(self.model.doc.name, title), kind)
        if not path:
            return False
        try:
            ok = {"png": view.export_png, "svg": view.export_svg, "csv": view.export_csv}[kind](path)
        except OSError as exc:
            return self._cannot(title, path, exc)
        if ok is False:
            self.dialogs.error(self, "Nothing to export", f"{title} has no data to write as CSV yet.")
            return False
        self._written(title, path)
        return True

    def export_workspace(self) -> bool:
        """The whole workspace (canvas, views, run strip and timeline) as one picture."""
        path = self._export_target(_stem(self.model.doc.name, self.state.workspace), "png")
        if not path:
            return False
        if not self.workbench.grab().save(path, "PNG"):
            return self._cannot("The workspace", path, OSError("the picture could not be written"))
        self._written("the workspace", path)
        return True

    def export_scalars(self) -> bool:
        """The bound session's scalar series as one wide CSV (as `engine export --scalars`)."""
        if self.reader is None:
            self.dialogs.error(self, "Nothing to export", "No run or session is bound to this graph: "
                               "train it or open a recorded session first.")
            return False
        from engine.cli.export import write_scalars_csv
        path = self._export_target(_stem(Path(self.session_path).stem, "scalars"), "csv")
        if not path:
            return False
        try:
            rows = write_scalars_csv(self.reader, path)
        except (OSError, SessionError) as exc:
            return self._cannot("The scalars", path, exc)
        self._written(f"{rows:,} steps of scalars", path)
        return True

    def fill_export_menu(self) -> None:
        menu = self.export_menu
        menu.clear()
        shown = [t for t in self.grid.titles() if self.grid.isVisibleTo(self)] if self.grid.bound else []
        for title in shown:
            sub = menu.addMenu(title)
            sub.addAction("Picture (PNG)…", lambda t=title: self.export_view(t, "png"))
            sub.addAction("Drawing (SVG)…", lambda t=title: self.export_view(t, "svg"))
            csv = sub.addAction("Data (CSV)…", lambda t=title: self.export_view(t, "csv"))
            csv.setEnabled(self.views_by_title[title].table() is not None)
        if not shown:
            menu.addAction("No view on show (train, or open a session, in Watch or Replay)").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Workspace as Picture (PNG)…", self.export_workspace)
        scalars = menu.addAction("Session Scalars (CSV)…", self.export_scalars)
        scalars.setEnabled(self.reader is not None)
        menu.addSeparator()
        origin = "the run's weights at the shown step" if self.reader is not None else "fresh weights"
        for kind, text in (("pytorch", "Network as PyTorch Code…"), ("onnx", "Network as ONNX…"),
                           ("weights", "Network Weights (safetensors)…")):
            act = menu.addAction(text, lambda k=kind: self.export_network(k))
            act.setStatusTip(f"With {origin}")
