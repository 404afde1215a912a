"""The data dialog (File > Open Data…, and "Choose data file…" under Data & training): choose
a file or a folder, see what it holds, set how it is read, and fit the graph to it.

The file is read in a worker thread while a busy bar runs (a 50 MB IDX takes seconds); the
engine reads and summarises it (engine/data/preview.py), this dialog only shows it. Fitting
reuses the check before Train's fixes, applied in rounds (engine/graph/data_fit.py) and
previewed line by line; accepting sets the dataset, the validation split and those fixes as
one undo step. Choosing a file allows its folder for this window (engine/data/paths.py)."""
from __future__ import annotations

import dataclasses
import html
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from engine.data.base import DataError
from engine.data.files import guess_format
from engine.data.limits import size_text
from engine.data.load import normalises, validation_size
from engine.data.preview import csv_columns, idx_pair, preview_file
from engine.graph.data_check import remember_info
from engine.graph.data_fit import plan_fit
from engine.graph.settings import TRAINING_DEFAULTS

from ..editor import edits
from ..screen_fit import resize_to_fit
from .data_findings import DataFindings

FORMATS = (("auto", "Guess from the name"), ("npz", "NumPy arrays x, y (npz)"), ("idx", "IDX images + labels"),
           ("csv", "CSV table"), ("text", "Text, character by character"), ("folder", "Folder of images"))
POLL_MS = 40
RELOAD_DELAY_MS = 300   # an option typed digit by digit reloads once


def stored_path(path: Path, graph_path: str | None) -> str:
    """How a document names a data file: relative to the graph file's folder when it lies
    inside it (the two can move together), else absolute."""
    real = Path(path).resolve()
    if graph_path:
        base = Path(graph_path).resolve().parent
        if base in real.parents:
            return real.relative_to(base).as_posix()
    return str(real)


def open_data_dialog(window):
    """Show the dialog over ``window`` (not blocking; it is window-modal) and return it."""
    if window.read_only:
        window.statusBar().showMessage("A recorded session is read-only: open a graph to choose its data.", 6000)
        return None
    dialog = DataDialog(window)
    dialog.open()
    return dialog


class DataDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Data")
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.window_ = window
        self.model = window.model
        self.path: Path | None = None        # the chosen file or folder (absolute)
        self.labels: Path | None = None      # an IDX pair's labels file
        self.columns: list[str] = []         # a CSV's columns
        self.csv_header = True
        self.preview = None                  # engine.data.preview.DataPreview, as loaded
        self.plan = None                     # engine.graph.data_fit.FitPlan for the options shown
        self.error: str | None = None
        self._loaded_key = None
        self._future = None
        self._pending = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-preview")
        self._poll = QTimer(self, interval=POLL_MS, timeout=self._check_done)
        self._delay = QTimer(self, singleShot=True, interval=RELOAD_DELAY_MS, timeout=self.load)
        self._build()
        resize_to_fit(self, 1040, 700)
        self._start_from(self.model.doc.dataset or {})

    # -- the form -------------------------------------------------------------------------------
    def _build(self) -> None:
        left = QVBoxLayout()
        title = QLabel("Data file or folder")
        title.setObjectName("heading")
        self.path_edit = QLineEdit(readOnly=True, placeholderText="Nothing chosen yet")
        self.file_btn = QPushButton("Choose File…", clicked=lambda: self.choose(folder=False))
        self.folder_btn = QPushButton("Choose Folder…", clicked=lambda: self.choose(folder=True))
        self.file_btn.setToolTip("An npz archive, an IDX images file (its labels file is found beside it), "
                                 "a CSV table or a text file")
        self.folder_btn.setToolTip("A folder with one sub-folder of images per class")
        buttons = QHBoxLayout()
        buttons.addWidget(self.file_btn)
        buttons.addWidget(self.folder_btn)
        self.where = QLabel(objectName="muted", wordWrap=True)
        for w in (title, self.path_edit):
            left.addWidget(w)
        left.addLayout(buttons)
        left.addWidget(self.where)

        self.form = QFormLayout()
        self.format = QComboBox()
        for key, text in FORMATS:
            self.format.addItem(text, key)
        self.labels_edit = QLineEdit(readOnly=True, placeholderText="the labels file of the pair")
        self.labels_btn = QPushButton("…", clicked=self.choose_labels, maximumWidth=32)
        labels_row = QWidget()
        row = QHBoxLayout(labels_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.labels_edit)
        row.addWidget(self.labels_btn)
        self.label_column = QComboBox()
        self.target = QComboBox()
        for key, text in (("auto", "Guess from the values"), ("class", "Classes"), ("value", "Values (regression)")):
            self.target.addItem(text, key)
        self.seq_len = QSpinBox(minimum=2, maximum=4096, value=self._default_seq_len())
        self.stride = QSpinBox(minimum=0, maximum=4096, specialValueText="the sequence length")
        self.stride.setToolTip("Characters from one sample's start to the next's")
        self.size = QSpinBox(minimum=0, maximum=4096, specialValueText="as the first image", suffix=" px")
        self.channels = QComboBox()
        for key, text in ((None, "1 if every image is gray"), (1, "1 (gray)"), (3, "3 (colour)")):
            self.channels.addItem(text, key)
        self.input_dtype = QComboBox()
        for key, text in ((None, "Guess from x's type"), ("float", "Float values"), ("long", "Token ids")):
            self.input_dtype.addItem(text, key)
        val = self.model.doc.training.get("val_fraction", TRAINING_DEFAULTS["val_fraction"])
        self.val = QSpinBox(minimum=0, maximum=90, singleStep=5, suffix=" %", value=round(100 * float(val)))
        self.val.setToolTip("Held out for validation (a training setting: the same as under Data & training)")
        self.normalise = QCheckBox("Standardise the inputs", checked=True)
        self.normalise.setToolTip("Mean 0 and std 1 per channel (images) or feature (tables), from the "
                                  "training split; token ids, sequences and text are never standardised")
        for label, w in (("Format", self.format), ("Labels file", labels_row), ("Label column", self.label_column),
                         ("Target", self.target), ("Sequence length", self.seq_len), ("Stride", self.stride),
                         ("Image size", self.size), ("Channels", self.channels), ("Inputs", self.input_dtype),
                         ("Validation", self.val), ("", self.normalise)):
            self.form.addRow(label, w)
        heading = QLabel("How to read it")
        heading.setObjectName("heading")
        left.addSpacing(6)
        left.addWidget(heading)
        left.addLayout(self.form)

        self.busy = QProgressBar(minimum=0, maximum=0, textVisible=False, maximumHeight=8)
        self.status = QLabel(objectName="muted", wordWrap=True)
        self.problem = QLabel(objectName="error", wordWrap=True)
        self.problem.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for w in (self.busy, self.status, self.problem):
            left.addWidget(w)
        heading = QLabel("Fit the graph")
        heading.setObjectName("heading")
        self.fit = QCheckBox("Change the graph to fit these data", checked=True)
        self.fit_list = QLabel(wordWrap=True, textFormat=Qt.RichText)
        left.addSpacing(6)
        for w in (heading, self.fit, self.fit_list):
            left.addWidget(w)
        left.addStretch(1)

        self.findings = DataFindings()
        body = QHBoxLayout()
        host = QWidget()
        host.setLayout(left)
        host.setFixedWidth(420)
        body.addWidget(host)
        body.addSpacing(12)
        body.addWidget(self.findings, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.Ok)
        self.ok.setText("Use These Data")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(body, 1)
        lay.addWidget(self.buttons)

        for combo in (self.format, self.label_column, self.target, self.channels, self.input_dtype):
            combo.activated.connect(self._options_changed)
        for spin in (self.seq_len, self.stride, self.size):
            spin.valueChanged.connect(self._options_changed)
        self.val.valueChanged.connect(self._show_preview)
        self.normalise.toggled.connect(self._show_preview)
        self.fit.toggled.connect(self._show_plan)
        self._set_busy(None)
        self._show_rows()

    def _default_seq_len(self) -> int:
        """A graph that reads token ids (T,) keeps its length T; otherwise the loader's 64."""
        for n in self.model.doc.nodes:
            shape = n.params.get("shape")
            if n.type == "Input" and n.params.get("dtype") == "long" and isinstance(shape, list) and len(shape) == 1:
                return max(2, int(shape[0]))
        return 64

    def data_format(self) -> str | None:
        """The format that will be read: the one chosen, or the one the name says."""
        chosen = self.format.currentData()
        if chosen != "auto" or self.path is None:
            return None if chosen == "auto" else chosen
        try:
            return guess_format(self.path)
        except DataError:
            return None

    def _show_rows(self) -> None:
        fmt = self.data_format()
        for w, formats in ((self.labels_btn.parentWidget(), ("idx",)), (self.label_column, ("csv",)),
                           (self.target, ("csv",)), (self.seq_len, ("text",)), (self.stride, ("text",)),
                           (self.size, ("folder",)), (self.channels, ("folder",)), (self.input_dtype, ("npz",))):
            self.form.setRowVisible(w, fmt in formats)

    # -- choosing -------------------------------------------------------------------------------
    def _start_dir(self) -> str:
        if self.path is not None:
            return str(self.path.parent)
        return str(Path(self.window_.path).parent) if self.window_.path else str(Path.cwd())

    def choose(self, folder: bool) -> None:
        answer = self.window_.dialogs.data_path(self, self._start_dir(), folder)
        if answer:
            self.format.setCurrentIndex(0)
            self.set_path(Path(answer))

    def choose_labels(self) -> None:
        answer = self.window_.dialogs.data_path(self, self._start_dir(), False)
        if answer:
            self.labels = Path(answer).absolute()
            self._allow(self.labels.parent)
            self.labels_edit.setText(str(self.labels))
            self.load()

    def _allow(self, folder: Path) -> None:
        """The user chose a file there: the window may read that folder (unless it already may)."""
        try:
            self.model.data_access.resolve(str(folder))
        except DataError:
            self.window_.allow_data_folder(folder)

    def set_path(self, path: Path, labels: Path | None = None, column=None) -> None:
        """Take ``path`` (a file or an image folder) and read it; ``labels``: an IDX pair's
        labels file (else found beside it), ``column``: a CSV's label column (else guessed)."""
        path = Path(path).absolute()
        self._allow(path if path.is_dir() else path.parent)
        self.path, self.labels = path, labels
        if self.data_format() == "idx" and labels is None:
            self.path, self.labels = idx_pair(path)
        self.path_edit.setText(str(self.path))
        self.labels_edit.setText(str(self.labels) if self.labels else "")
        self.columns = []
        if self.data_format() == "csv":
            try:
                self.columns, self.csv_header, guess = csv_columns(self.path)
            except DataError as err:
                self._show_error(str(err))
                return
            if column in self.columns:
                guess = self.columns.index(column)
            elif isinstance(column, int) and -len(self.columns) <= column < len(self.columns):
                guess = column % len(self.columns)
            self.label_column.clear()
            self.label_column.addItems(self.columns)
            self.label_column.setCurrentIndex(guess)
        self._show_where()
        self._show_rows()
        self.load()

    def _start_from(self, ref: dict) -> None:
        """Open on the document's own data file, with its options."""
        if not isinstance(ref.get("path"), str):
            return
        try:
            path = self.model.data_access.resolve(ref["path"])
            labels = self.model.data_access.resolve(ref["labels"], "IDX labels path") \
                if isinstance(ref.get("labels"), str) else None
        except DataError as err:
            self._show_error(str(err))
            return
        self.format.setCurrentIndex(max(0, self.format.findData(ref.get("format", "auto"))))
        self.target.setCurrentIndex(max(0, self.target.findData(ref.get("target", "auto"))))
        self.channels.setCurrentIndex(max(0, self.channels.findData(ref.get("channels"))))
        self.input_dtype.setCurrentIndex(max(0, self.input_dtype.findData(ref.get("input_dtype"))))
        for spin, key in ((self.seq_len, "seq_len"), (self.stride, "stride"), (self.size, "size")):
            if isinstance(ref.get(key), int):
                spin.setValue(ref[key])
        self.normalise.setChecked(ref.get("normalise", True) is not False)
        self.set_path(path, labels, ref.get("label_column", -1))

    def _show_where(self) -> None:
        graph = self.window_.path
        stored = stored_path(self.path, graph)
        if not graph:
            text = ("This graph has not been saved yet, so the path is kept absolute. The file is read "
                    "because you chose it here.")
        elif not Path(stored).is_absolute():
            text = f"Stored as “{stored}”, relative to the graph's folder: the graph and its data can move together."
        else:
            text = (f"Outside the graph's folder ({Path(graph).resolve().parent}): stored as an absolute path and "
                    "read because you chose it here. Opened again later, or by the command line, the graph "
                    "reads it once its folder is allowed again (choose the file here, or --allow-data).")
        self.where.setText(text)

    # -- the reference the document will hold -----------------------------------------------------
    def reference(self) -> dict:
        graph = self.window_.path
        ref: dict = {"path": stored_path(self.path, graph)}
        if self.format.currentData() != "auto":
            ref["format"] = self.format.currentData()
        fmt = self.data_format()
        if fmt == "idx" and self.labels is not None:
            ref["labels"] = stored_path(self.labels, graph)
        elif fmt == "csv" and self.columns:
            k = self.label_column.currentIndex()
            if k != len(self.columns) - 1:
                ref["label_column"] = self.columns[k] if self.csv_header else k
            if self.target.currentData() != "auto":
                ref["target"] = self.target.currentData()
        elif fmt == "text":
            ref["seq_len"] = self.seq_len.value()
            if self.stride.value() not in (0, self.seq_len.value()):
                ref["stride"] = self.stride.value()
        elif fmt == "folder":
            if self.size.value():
                ref["size"] = self.size.value()
            if self.channels.currentData() is not None:
                ref["channels"] = self.channels.currentData()
        elif fmt == "npz" and self.input_dtype.currentData() is not None:
            ref["input_dtype"] = self.input_dtype.currentData()
        if self.normalise.isEnabled() and not self.normalise.isChecked():
            ref["normalise"] = False
        return ref

    def val_fraction(self) -> float:
        return round(self.val.value() / 100, 4)

    # -- reading, in a worker thread ------------------------------------------------------------------
    def _options_changed(self, *_args) -> None:
        self._show_rows()
        self._delay.start()

    def reading(self) -> bool:
        """Whether a read is under way or about to start (an option just changed)."""
        return self._delay.isActive() or self._future is not None

    def load(self) -> None:
        """Read the file with the options shown, unless that was the last thing read."""
        self._delay.stop()
        if self.path is None:
            return
        ref = self.reference()
        key = json.dumps({k: v for k, v in ref.items() if k != "normalise"}, sort_keys=True)
        if key == self._loaded_key and self.preview is not None:
            self._show_preview()
            return
        access = self.model.data_access
        self._future = self._pool.submit(preview_file, ref, access, self.val_fraction())
        self._pending = (key, ref, access)
        self.preview = self.plan = self.error = None
        self._set_busy(f"Reading {self.path.name}{self._size_of(self.path)}…")
        self._poll.start()

    def _size_of(self, path: Path) -> str:
        try:
            return f" ({size_text(path.stat().st_size)})" if path.is_file() else ""
        except OSError:
            return ""

    def _check_done(self) -> None:
        if self._future is None or not self._future.done():
            return
        self._poll.stop()
        future, (key, ref, access) = self._future, self._pending
        self._future = None
        self._set_busy(None)
        try:
            preview = future.result()
        except DataError as err:
            self._show_error(str(err))
            return
        except Exception as exc:  # noqa: BLE001 -- the loaders turn a bad file into DataError; anything
            # else (out of memory, a loader's bug) is still one sentence here, never a traceback
            self._show_error(f"{self.path.name} could not be read ({type(exc).__name__}).")
            return
        self.preview, self._loaded_key, self.error = preview, key, None
        remember_info(ref, access, preview.info)  # the check before Train need not read it again
        self._show_preview()

    def _set_busy(self, text: str | None) -> None:
        self.busy.setVisible(text is not None)
        self.status.setText(text or "")
        self.status.setVisible(text is not None)
        if text is not None:
            self.problem.setText("")
            self.findings.show_message("Reading…")
        self.ok.setEnabled(text is None and self.preview is not None)

    def _show_error(self, text: str) -> None:
        self.error, self.preview, self.plan = text, None, None
        self.problem.setText(text)
        self.findings.show_message("Nothing to show: the data could not be read.")
        self.fit_list.setText("")
        self.ok.setEnabled(False)

    # -- what was found, and the fit ---------------------------------------------------------------
    def shown_preview(self):
        """The preview as shown: the split and standardising as set in the form."""
        p = self.preview
        n_val = validation_size(p.samples, self.val_fraction())
        return dataclasses.replace(p, train=p.samples - n_val, val=n_val,
                                   normalised=normalises(p.info) and self.normalise.isChecked())

    def _show_preview(self, *_args) -> None:
        if self.preview is None:
            return
        self.normalise.setEnabled(normalises(self.preview.info))
        self.problem.setText("")
        self.findings.show_preview(self.shown_preview())
        if self.data_format() == "csv" and self.columns:
            k = self.label_column.currentIndex()
            self.findings.set_column_names([c for i, c in enumerate(self.columns) if i != k], self.columns[k])
        self.plan = plan_fit(self.model.doc, self.reference(), self.preview.info)
        self._show_plan()
        self.ok.setEnabled(True)

    def _show_plan(self, *_args) -> None:
        plan = self.plan
        if plan is None:
            self.fit_list.setText("")
            return
        self.fit.setEnabled(bool(plan.changes))
        parts = []
        if plan.changes:
            verb = "These changes are made" if self.fit.isChecked() else "Left as it is; fitting would change"
            parts.append(f"{verb} (one undo step):" + _bullets(c.text() for c in plan.changes))
        elif plan.fits:
            parts.append("The graph already fits these data.")
        if plan.remaining:
            shown = [str(p) for p in plan.remaining[:4]]
            parts.append("Still to change by hand:" + _bullets(shown))
        self.fit_list.setText("".join(f"<p>{p}</p>" for p in parts))

    # -- accepting: one undo step -------------------------------------------------------------------
    def accept(self) -> None:
        if self.preview is None:
            return
        model, doc = self.model, self.model.doc
        ref, info, val = self.reference(), self.preview.info, self.val_fraction()
        remember_info(ref, model.data_access, info)
        changes = plan_fit(doc, ref, info).changes if self.fit.isChecked() else []
        new_val = float(doc.training.get("val_fraction", TRAINING_DEFAULTS["val_fraction"])) != val
        if doc.dataset != ref or new_val or changes:
            model.undo_stack.beginMacro(f"Use the data {Path(ref['path']).name}")
            try:
                edits.set_dataset(model, ref, "path")
                if new_val:
                    edits.set_training(model, "val_fraction", val)
                for c in changes:
                    edits.set_param(model, c.node, c.param, c.new)
            finally:
                model.undo_stack.endMacro()
        model.flush_analysis()
        fitted = f"; changed {len(changes)} setting(s) of the graph to fit" if changes else ""
        self.window_.statusBar().showMessage(f"Using {Path(ref['path']).name}: {self.preview.samples:,} "
                                             f"samples{fitted}. Undo with Ctrl+Z.", 8000)
        super().accept()

    def done(self, result: int) -> None:
        self._poll.stop()
        self._delay.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)  # a read under way ends on its own
        super().done(result)


def _bullets(items) -> str:
    return "<ul style='margin-left: -20px'>" + "".join(f"<li>{html.escape(t)}</li>" for t in items) + "</ul>"
