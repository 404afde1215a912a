"""Run > Connect to Engine…: reach a ``python -m engine serve`` (directly, or through an SSH
tunnel), then train there or watch one of its runs.

After "Train There", the window's Train starts runs on the engine (RemoteRunController);
"Watch Run" binds one of the engine's runs to a new document, as a live run, mirroring its
session here. The token is kept only while the window is open, never written to disk.
Every problem (a bad address, a wrong token, no answer) is one sentence in the dialog."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QVBoxLayout)

from engine.graph.document import GraphDocument
from engine.graph.errors import GraphError
from engine.remote.link import EngineLink, LinkError

from ..state import Binding, OpenDocument
from .remote_controller import EngineAddress, RemoteRunController

HELLO_S = 8.0


class ConnectDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.setWindowTitle("Connect to Engine")
        self._link: EngineLink | None = None
        self._asked = 0.0
        self.engine: EngineAddress | None = None
        self.address = QLineEdit(window.engine.address if window.engine else "127.0.0.1:7370")
        self.token = QLineEdit(window.engine.token if window.engine else "")
        self.token.setEchoMode(QLineEdit.Password)
        self.token.setPlaceholderText("printed by python -m engine serve")
        self.connect_btn = QPushButton("Connect")
        self.connect_btn.clicked.connect(self.connect_engine)
        self.note = QLabel("Start the engine on the server with  python -m engine serve  and, from here, "
                           "tunnel to it:  ssh -N -L 7370:127.0.0.1:7370 SERVER  (docs/remote.md).")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.runs = QListWidget()
        self.runs.itemDoubleClicked.connect(lambda _item: self.watch_selected())
        form = QFormLayout()
        form.addRow("Address", self.address)
        form.addRow("Token", self.token)
        buttons = QDialogButtonBox()
        self.train_btn = buttons.addButton("Train There", QDialogButtonBox.AcceptRole)
        self.watch_btn = buttons.addButton("Watch Run", QDialogButtonBox.ActionRole)
        self.local_btn = buttons.addButton("Train Here", QDialogButtonBox.ResetRole)
        buttons.addButton(QDialogButtonBox.Close)
        self.train_btn.setToolTip("From now on, Train runs the open graph on this engine.")
        self.local_btn.setToolTip("Train runs on this machine again.")
        self.train_btn.clicked.connect(self.use_engine)
        self.watch_btn.clicked.connect(self.watch_selected)
        self.local_btn.clicked.connect(self.train_locally)
        buttons.rejected.connect(self.reject)
        self.local_btn.setEnabled(window.engine is not None)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.connect_btn)
        layout.addWidget(self.note)
        layout.addWidget(QLabel("Runs on the engine"))
        layout.addWidget(self.runs)
        layout.addWidget(buttons)
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)
        self._set_connected(False)

    # -- connecting -------------------------------------------------------------------------
    def connect_engine(self) -> None:
        self._close_link()
        self._set_connected(False)
        try:
            self._link = EngineLink(self.address.text(), self.token.text().strip())
        except LinkError as exc:
            self._say(str(exc))
            return
        self._link.send("hello")
        self._asked = time.monotonic()
        self._say(f"Connecting to {self._link.address}…")
        self._timer.start()

    def _poll(self) -> None:
        link = self._link
        if link is None:
            self._timer.stop()
            return
        messages, changes = link.receive()
        for state, text in changes:
            if state in ("refused", "garbled"):
                self._fail(text)
                return
        for header, _ in messages:
            if header["kind"] == "welcome":
                self._timer.stop()
                self.engine = EngineAddress(link.address, self.token.text().strip())
                self._show_runs(header.get("runs") or [])
                self._say(f"Connected to the engine at {link.address}.")
                self._set_connected(True)
                self._close_link()
                return
        if time.monotonic() - self._asked > HELLO_S:
            self._fail(f"No answer from an engine at {link.address} within {HELLO_S:g} s: is it running, "
                       f"and is the address (or the SSH tunnel to it) right?")

    def _fail(self, text: str) -> None:
        self._timer.stop()
        self._close_link()
        self._say(text)

    def _show_runs(self, runs: list) -> None:
        self.runs.clear()
        for info in runs:
            step = (info.get("progress") or {}).get("step")
            text = f"{info.get('name', info.get('run'))} — {info.get('state')}" + (f", step {step:,}" if step else "")
            item = QListWidgetItem(text)
            item.setData(Qt.UserRole, info)
            item.setToolTip(info.get("run", ""))
            self.runs.addItem(item)
        if runs:
            self.runs.setCurrentRow(self.runs.count() - 1)

    # -- what to do with it -----------------------------------------------------------------
    def use_engine(self) -> None:
        if self.engine is None:
            return
        self.window.engine = self.engine
        self.window.statusBar().showMessage(f"Train now runs on the engine at {self.engine.address}.", 8000)
        self.accept()

    def train_locally(self) -> None:
        self.window.engine = None
        self.window.statusBar().showMessage("Train runs on this machine again.", 6000)
        self.accept()

    def watch_selected(self) -> RemoteRunController | None:
        item = self.runs.currentItem()
        if self.engine is None or item is None:
            return None
        try:
            controller = watch_remote_run(self.window, self.engine, item.data(Qt.UserRole))
        except (LinkError, OSError, GraphError) as exc:
            self._say(str(exc))
            return None
        self.accept()
        return controller

    # -- helpers ----------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.note.setText(text)

    def _set_connected(self, yes: bool) -> None:
        for button in (self.train_btn, self.watch_btn):
            button.setEnabled(yes)

    def _close_link(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def done(self, result: int) -> None:
        self._timer.stop()
        self._close_link()
        super().done(result)


def watch_remote_run(window, engine: EngineAddress, info: dict) -> RemoteRunController:
    """Bind the engine's run ``info`` (from its list of runs) to a new document made from
    its graph, as a live run whose session is the local mirror."""
    doc = GraphDocument.from_dict(info["graph"])
    controller = RemoteRunController(engine, window)
    path = controller.attach(info["run"])
    entry = OpenDocument.new(doc)
    window._install(entry)
    name = info.get("name") or doc.name
    binding = Binding(entry.key, path, "live", run=controller, doc=doc.to_dict(), name=name)
    controller.committed.connect(lambda step, b=binding: window._on_committed(b, step))
    controller.state_changed.connect(lambda *args, b=binding: window._on_run_state(b, *args))
    window.state.add_run(binding)
    window.statusBar().showMessage(f"Watching '{name}' on the engine at {engine.address}: "
                                   f"mirrored to {path.name}", 6000)
    return controller


def open_connect_dialog(window) -> ConnectDialog:
    dialog = ConnectDialog(window)
    window._connect_dialog = dialog  # kept while it is open
    dialog.show()
    return dialog
