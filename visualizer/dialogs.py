"""Every modal question the app asks, behind one small object, so that tests can answer
them without a dialog ever blocking (pass a scripted Dialogs to MainWindow)."""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox

GRAPH_FILTER = ("Graphs and sessions (*.json *.session);;Neurostudio graphs (*.json);;"
                "Recorded sessions (*.session);;All files (*)")
SAVE_FILTER = "Neurostudio graphs (*.json);;All files (*)"
SESSION_FILTER = "Recorded sessions (*.session);;All files (*)"
DATA_FILTER = ("Data files (*.npz *.csv *.tsv *.txt *.text *.md *ubyte* *idx* *.gz);;NumPy archives (*.npz);;"
               "CSV tables (*.csv *.tsv);;Text (*.txt *.text *.md);;IDX files (*ubyte* *idx*);;All files (*)")
EXPORT_FILTERS = {"png": "PNG pictures (*.png)", "csv": "CSV tables (*.csv)", "svg": "SVG drawings (*.svg)"}


class Dialogs:
    def error(self, parent, title: str, text: str) -> None:
        QMessageBox.warning(parent, title, text)

    def confirm(self, parent, title: str, text: str) -> bool:
        return QMessageBox.question(parent, title, text) == QMessageBox.Yes

    def save_changes(self, parent, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(QMessageBox.Warning, "Unsaved changes",
                          f"Save the changes to {name} before closing it?",
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, parent)
        box.setDefaultButton(QMessageBox.Save)
        answer = box.exec()
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def details(self, parent, title: str, text: str, details: str) -> None:
        """A message with the technical details (a traceback) behind a Details button."""
        box = QMessageBox(QMessageBox.Critical, title, text, QMessageBox.Ok, parent)
        box.setDetailedText(details)
        box.exec()

    def open_path(self, parent, directory: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, "Open graph or session", directory, GRAPH_FILTER)
        return path or None

    def open_paths(self, parent, directory: str) -> list[str]:
        """Several recorded sessions (to compare)."""
        paths, _ = QFileDialog.getOpenFileNames(parent, "Compare recorded sessions", directory, SESSION_FILTER)
        return paths

    def fork_settings(self, parent, parent_name: str, fork_step: int, parent_settings: dict,
                      last_step: int) -> dict | None:
        """The child run's setting edits for a fork, or None if cancelled."""
        from .replay.fork_dialog import ask_fork_settings
        return ask_fork_settings(parent, parent_name, fork_step, parent_settings, last_step)

    def data_path(self, parent, start_dir: str, folder: bool) -> str | None:
        """A data file (npz, IDX, CSV, text) or, with ``folder``, a folder of images with one
        sub-folder per class."""
        if folder:
            path = QFileDialog.getExistingDirectory(parent, "Choose a folder of images (one sub-folder "
                                                    "per class)", start_dir)
        else:
            path, _ = QFileDialog.getOpenFileName(parent, "Choose a data file", start_dir, DATA_FILTER)
        return path or None

    def save_path(self, parent, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(parent, "Save graph as", suggested, SAVE_FILTER)
        if path and "." not in path.rsplit("/", 1)[-1]:
            path += ".json"
        return path or None


    def text(self, parent, title: str, label: str, value: str) -> str | None:
        """One line of text (a block's name), or None when cancelled."""
        from PySide6.QtWidgets import QInputDialog
        text, ok = QInputDialog.getText(parent, title, label, text=value)
        return text if ok else None

    def export_path(self, parent, suggested: str, kind: str) -> str | None:
        """Where to write an export of ``kind`` ("png", "csv", "svg")."""
        path, _ = QFileDialog.getSaveFileName(parent, f"Export {kind.upper()}", suggested,
                                              EXPORT_FILTERS.get(kind, "All files (*)"))
        if path and not path.lower().endswith("." + kind):
            path += "." + kind
        return path or None


class HeadlessDialogs(Dialogs):
    """For --screenshot and scripts: errors go to stderr, every question gets 'no'."""

    def error(self, parent, title: str, text: str) -> None:
        import sys
        print(text, file=sys.stderr)

    def confirm(self, parent, title: str, text: str) -> bool:
        return False

    def details(self, parent, title: str, text: str, details: str) -> None:
        import sys
        print(f"{text}\n{details}", file=sys.stderr)

    def save_changes(self, parent, name: str) -> str:
        return "discard"

    def open_path(self, parent, directory: str) -> str | None:
        return None

    def open_paths(self, parent, directory: str) -> list[str]:
        return []

    def data_path(self, parent, start_dir: str, folder: bool) -> str | None:
        return None

    def export_path(self, parent, suggested: str, kind: str) -> str | None:
        return None

    def fork_settings(self, parent, parent_name: str, fork_step: int, parent_settings: dict,
                      last_step: int) -> dict | None:
        return None

    def save_path(self, parent, suggested: str) -> str | None:
        return None

    def text(self, parent, title: str, label: str, value: str) -> str | None:
        return None
