"""The sessions library panel: every recorded run with its graph, dataset, final metrics,
duration, size and notes. Double-click opens a run; rename (a title kept in the session's
meta), notes, and delete (to the trash) are undoable."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHeaderView, QInputDialog, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.session import SessionError
from engine.session.notes import set_meta_value

from .catalog import RunSummary, Summaries, session_files
from .trash import TrashError, move_to_trash, restore

COLUMNS = ("Run", "Graph", "Dataset", "Steps", "Train loss", "Best val acc", "Duration", "Size",
           "Status", "Notes")


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def human_duration(s: float | None) -> str:
    if s is None:
        return ""
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def row_texts(s: RunSummary) -> list[str]:
    if s.problem:
        return [s.title, "", "", "", "", "", "", human_size(s.size_bytes), "unreadable", s.problem]
    return [s.title, s.graph, s.dataset, str(max(s.steps, 0)),
            "" if s.train_loss is None else f"{s.train_loss:.4g}",
            "" if s.best_val_accuracy is None else f"{100 * s.best_val_accuracy:.1f} %",
            human_duration(s.duration_s), human_size(s.size_bytes), s.status, s.notes.replace("\n", " ")]


class _SetMeta(QUndoCommand):
    def __init__(self, panel, path: Path, key: str, old, new, text: str):
        super().__init__(text)
        self.panel, self.path, self.key, self.old, self.new = panel, path, key, old, new

    def redo(self):
        self.panel._write_meta(self.path, self.key, self.new)

    def undo(self):
        self.panel._write_meta(self.path, self.key, self.old)


class _Delete(QUndoCommand):
    def __init__(self, panel, path: Path):
        super().__init__(f"Delete {path.name}")
        self.panel, self.path, self.item = panel, path, None

    def redo(self):
        try:
            self.item = move_to_trash(self.path, self.panel.folder())
        except TrashError as exc:
            self.item = None
            self.panel.report(str(exc))
        self.panel.refresh()

    def undo(self):
        if self.item is not None:
            try:
                restore(self.item)
            except TrashError as exc:
                self.panel.report(str(exc))
        self.panel.refresh()


class LibraryPanel(QWidget):
    open_requested = Signal(str)
    compare_requested = Signal(list)  # session paths

    def __init__(self, folder_fn, extra_fn=lambda: [], busy_fn=lambda p: False, parent=None):
        """``folder_fn()`` the sessions folder; ``extra_fn()`` other session paths to list
        (opened from elsewhere); ``busy_fn(path)`` true for a run that is open or running."""
        super().__init__(parent)
        self.folder, self.extra, self.busy = folder_fn, extra_fn, busy_fn
        self.undo_stack = QUndoStack(self)
        self.summaries: list[RunSummary] = []
        self._read = Summaries()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)  # several rows: Compare
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _c: self.open_row(row))
        self.message = QLabel(" ")
        self.message.setWordWrap(True)
        buttons = QGridLayout()  # two rows of three: the side panel stays narrow
        self.buttons = {}
        for key, text, slot in (("open", "Open", lambda: self.open_row(self.current_row())),
                                ("rename", "Rename…", self.ask_rename), ("notes", "Notes…", self.ask_notes),
                                ("delete", "Delete", self.delete_current), ("refresh", "Refresh", self.refresh)):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, s=slot: s())
            buttons.addWidget(b, len(self.buttons) // 3, len(self.buttons) % 3)
            self.buttons[key] = b
        compare = QPushButton("Compare")
        compare.setToolTip("Compare the selected runs side by side (select two or more with Ctrl or Shift; "
                           "with one selected, it is compared with the run on show)")
        compare.clicked.connect(lambda: self.compare_requested.emit(self.selected_paths()))
        buttons.addWidget(compare, 2, 0)
        self.buttons["compare"] = compare
        undo = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_stack.undo)
        self.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.undo_stack.undoTextChanged.connect(lambda t: self.undo_button.setToolTip(f"Undo {t}" if t else ""))
        self.undo_button.setEnabled(False)
        self.addAction(undo)
        undo.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        buttons.addWidget(self.undo_button, 1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(buttons)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.message)

    # -- contents ----------------------------------------------------------------------------
    def selected_paths(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [str(self.summaries[r].path) for r in rows if 0 <= r < len(self.summaries)]

    def showEvent(self, event):  # a run may have finished since the tab was last shown
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        keep = self.current_path()
        try:
            folder = self.folder()
        except OSError as exc:  # the sessions folder cannot be made: list what was opened only
            self.setToolTip(str(exc.strerror or exc))
            folder = None
        self.summaries = self._read.of(session_files(folder, self.extra()))
        self.table.setRowCount(len(self.summaries))
        for row, s in enumerate(self.summaries):
            for col, text in enumerate(row_texts(s)):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(str(s.path) + (f"\nforked from {Path(s.parent['path']).name} at step "
                                                   f"{s.parent.get('step')}" if s.parent else ""))
                if s.created and col == 0:
                    item.setStatusTip(time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created)))
                self.table.setItem(row, col, item)
            if s.path == keep:
                self.table.selectRow(row)

    def row_of(self, path) -> int:
        path = Path(path).resolve()
        return next((i for i, s in enumerate(self.summaries) if s.path.resolve() == path), -1)

    def current_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def current_path(self) -> Path | None:
        row = self.current_row()
        return self.summaries[row].path if 0 <= row < len(self.summaries) else None

    def report(self, text: str) -> None:
        self.message.setText(text)

    # -- actions -----------------------------------------------------------------------------
    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.summaries):
            self.open_requested.emit(str(self.summaries[row].path))

    def rename(self, path, title: str) -> None:
        s = self.summaries[self.row_of(path)]
        old = None if s.title == Path(path).stem else s.title
        self.undo_stack.push(_SetMeta(self, Path(path), "title", old, title.strip() or None,
                                      f"Rename {Path(path).name}"))

    def set_notes(self, path, text: str) -> None:
        s = self.summaries[self.row_of(path)]
        self.undo_stack.push(_SetMeta(self, Path(path), "notes", s.notes or None, text or None,
                                      f"Notes of {Path(path).name}"))

    def delete(self, path) -> None:
        if self.busy(path):
            self.report(f"{Path(path).name} is open or still recording: close it before deleting it.")
            return
        self.undo_stack.push(_Delete(self, Path(path)))

    def delete_current(self) -> None:
        path = self.current_path()
        if path is not None:
            self.delete(path)

    def ask_rename(self) -> None:
        row = self.current_row()
        if row < 0:
            return
        s = self.summaries[row]
        text, ok = QInputDialog.getText(self, "Rename run", "Title:", text=s.title)
        if ok:
            self.rename(s.path, text)

    def ask_notes(self) -> None:
        row = self.current_row()
        if row < 0:
            return
        s = self.summaries[row]
        text, ok = QInputDialog.getMultiLineText(self, "Notes", f"Notes on {s.title}:", s.notes)
        if ok:
            self.set_notes(s.path, text)

    def _write_meta(self, path: Path, key: str, value) -> None:
        try:
            set_meta_value(path, key, value)
        except SessionError as exc:
            self.report(str(exc))
        self.refresh()
