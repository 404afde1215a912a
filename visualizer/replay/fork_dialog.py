"""The small dialog of "Fork from here…": the training settings the child run starts with,
pre-filled with the parent's, each field checked against the settings schema."""
from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

from engine.graph.settings import TRAINING_PARAMS

from ..panels.param_form import build_form

#: the settings a fork may change (the graph and the data stay the parent's)
EDITABLE = ("steps", "lr", "optimizer", "momentum", "weight_decay", "clip_norm", "clip_value",
            "schedule", "warmup_steps", "batch_size", "val_every", "early_stopping", "seed")


def default_budget(parent_settings: dict, fork_step: int, last_step: int) -> int:
    """The parent's step budget if the fork leaves room in it, else half as many more."""
    budget = parent_settings.get("steps") or last_step
    return int(budget) if budget > fork_step else fork_step + max(1, int(budget) // 2)


def fork_edits(values: dict, parent_settings: dict) -> dict:
    """Only what differs from the parent: the edits the child's session will show."""
    return {k: v for k, v in values.items() if parent_settings.get(k) != v}


class ForkDialog(QDialog):
    def __init__(self, parent_name: str, fork_step: int, parent_settings: dict, last_step: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Fork from here")
        self.fork_step = fork_step
        self.parent_settings = dict(parent_settings)
        self.values = {k: parent_settings.get(k) for k in EDITABLE}
        self.values["steps"] = default_budget(parent_settings, fork_step, last_step)
        intro = QLabel(f"A new run starts from the weights and optimizer state of <b>{html.escape(parent_name)}</b> "
                       f"at step <b>{fork_step}</b> (the nearest checkpoint) and trains the same graph "
                       f"with these settings:")
        intro.setWordWrap(True)
        form = QFormLayout()
        params = [p for p in TRAINING_PARAMS if p.name in EDITABLE]
        self.fields = build_form(form, params, self.values, self._set, self)
        self.problem = QLabel(" ")
        self.problem.setStyleSheet("color: #c0392b;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Start the fork")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.problem)
        lay.addWidget(self.buttons)
        self._check()

    def _set(self, name: str, value) -> None:
        self.values[name] = value
        self._check()

    def _check(self) -> None:
        steps = self.values.get("steps")
        bad = steps is not None and steps <= self.fork_step
        self.problem.setText(f"Steps must be more than {self.fork_step}: the fork goes on counting from "
                             f"the parent's step." if bad else " ")
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(not bad)

    def edits(self) -> dict:
        return fork_edits(self.values, self.parent_settings)


def ask_fork_settings(parent, parent_name, fork_step, parent_settings, last_step) -> dict | None:
    """The edits, or None if the user cancelled."""
    dlg = ForkDialog(parent_name, fork_step, parent_settings, last_step, parent)
    return dlg.edits() if dlg.exec() == QDialog.Accepted else None
