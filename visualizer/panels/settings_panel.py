"""Dataset and training settings: the dataset chooser and its params (from
engine.data.registry), "Choose data file…" for the user's own data (the data dialog,
data_dialog.py; the window opens it on ``data_requested``) and the training form (from
engine.graph.settings.TRAINING_PARAMS). Every change is an undoable edit of the document."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout,
                               QWidget)

from engine.data.registry import CATEGORY_ORDER, DATASETS
from engine.graph.settings import TRAINING_DEFAULTS, TRAINING_PARAMS

from ..editor import edits
from .param_form import build_form


class SettingsPanel(QScrollArea):
    data_requested = Signal()  # "Choose data file…": the window opens the data dialog

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.setWidgetResizable(True)
        body = QWidget()
        self.setWidget(body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 10, 10, 10)
        title = QLabel("Dataset")
        title.setObjectName("heading")
        lay.addWidget(title)
        self.dataset = QComboBox()
        for category in CATEGORY_ORDER:
            specs = [s for s in DATASETS.values() if s.category == category]
            if not specs:
                continue
            self.dataset.addItem(f"— {category} —", None)
            self.dataset.model().item(self.dataset.count() - 1).setEnabled(False)
            for s in specs:
                self.dataset.addItem(s.name, s.name)
                self.dataset.setItemData(self.dataset.count() - 1, s.help, 3)  # ToolTipRole
        self.dataset.activated.connect(self._dataset_chosen)
        self.path = QLineEdit()
        self.path.setReadOnly(True)
        self.choose_data = QPushButton("Choose data file…")
        self.choose_data.setToolTip("Your own data: an npz, IDX, CSV or text file, or a folder of images; "
                                    "see what it holds and fit the graph to it")
        self.choose_data.clicked.connect(self.data_requested)
        self.dataset_help = QLabel()
        self.dataset_help.setObjectName("muted")
        self.dataset_help.setWordWrap(True)
        self.dataset_form_host = QWidget()
        self.dataset_form = QFormLayout(self.dataset_form_host)
        self.dataset_form.setContentsMargins(0, 0, 0, 0)
        for w in (self.dataset, self.path, self.choose_data, self.dataset_help, self.dataset_form_host):
            lay.addWidget(w)
        title = QLabel("Training")
        title.setObjectName("heading")
        lay.addSpacing(10)
        lay.addWidget(title)
        host = QWidget()
        self.training_form = QFormLayout(host)
        self.training_form.setContentsMargins(0, 0, 0, 0)
        self.training_fields = build_form(self.training_form, TRAINING_PARAMS, TRAINING_DEFAULTS,
                                          lambda name, v: edits.set_training(self.model, name, v), self)
        lay.addWidget(host)
        lay.addStretch(1)
        self.dataset_fields = {}
        self._shown_dataset = object()
        model.settings_changed.connect(self._show_training)
        model.dataset_changed.connect(self._show_dataset)
        model.reset.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self._show_training()
        self._show_dataset()

    def _show_training(self) -> None:
        values = {**TRAINING_DEFAULTS, **self.model.doc.training}
        for name, f in self.training_fields.items():
            f.set_value(values.get(name))

    def _show_dataset(self) -> None:
        ds = self.model.doc.dataset or {}
        name = ds.get("name")
        spec = DATASETS.get(name) if isinstance(name, str) else None
        self.path.setVisible("path" in ds)
        self.path.setText(str(ds.get("path", "")))
        self.dataset.setCurrentIndex(max(0, self.dataset.findData(name)) if spec else -1)
        if not spec:
            self.dataset.setPlaceholderText("your data file" if "path" in ds else
                                            f"unknown dataset '{name}'" if name else "choose a dataset")
        self.dataset_help.setText(spec.help if spec else "")
        if spec is not self._shown_dataset:  # rebuild the form only when the dataset changes
            self._shown_dataset = spec
            while self.dataset_form.rowCount():
                self.dataset_form.removeRow(0)
            self.dataset_fields = {}
            if spec is not None:
                self.dataset_fields = build_form(self.dataset_form, spec.params, spec.defaults(),
                                                 self._dataset_param, self)
        if spec is not None:
            values = {**spec.defaults(), **(ds.get("params") or {})}
            for pname, f in self.dataset_fields.items():
                f.set_value(values.get(pname))

    def _dataset_chosen(self, index: int) -> None:
        name = self.dataset.itemData(index)
        if name and name != (self.model.doc.dataset or {}).get("name"):
            edits.set_dataset(self.model, {"name": name, "params": {}}, "name")

    def _dataset_param(self, pname: str, value) -> None:
        ds = dict(self.model.doc.dataset or {})
        params = dict(ds.get("params") or {})
        if params.get(pname, object()) == value:
            return
        params[pname] = value
        ds["params"] = params
        edits.set_dataset(self.model, ds, pname)
