"""The run panel: Train / Pause / Step / Stop, live learning rate and clipping, progress
(epoch, step, ETA, samples/s, device), the worker's state and the session file."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from engine.probes.settings import ProbeSettings
from engine.worker import TERMINAL

from .status_label import ElidedLabel, StatusLabel

STATE_COLOURS = {"idle": "#777", "starting": "#1f77b4", "running": "#2ca02c", "paused": "#d98c00",
                 "finished": "#1f77b4", "stopped": "#777", "failed": "#d62728", "killed": "#d62728"}


def fmt_eta(seconds) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class RunPanel(QWidget):
    """Bound to one RunController at a time: the run of the open document, or an idle one
    (``set_controller``); commands go to the bound run only."""
    train_requested = Signal()
    details_requested = Signal(str, str)  # message, traceback
    buttons_changed = Signal()            # which buttons are enabled changed (menus mirror them)

    def __init__(self, controller, parent: QWidget | None = None, show_train: bool = True):
        super().__init__(parent)
        self.controller = controller
        self.train_btn = QPushButton("▶ Train")
        self.pause_btn = QPushButton("Pause")
        self.step_btn = QPushButton("Step")
        self.stop_btn = QPushButton("■ Stop")
        self.checkpoint_btn = QPushButton("Checkpoint")
        self.checkpoint_btn.setToolTip("Save a checkpoint now (weights and optimizer state): the run can be "
                                       "forked from it later. Run settings set a policy (every N steps, each "
                                       "epoch, the best; keep the last K).")
        self.train_btn.setToolTip("Start training the current graph (recorded to a new session file).")
        self.step_btn.setToolTip("Train one batch, then pause.")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 10.0)
        self.lr.setSingleStep(1e-4)
        self.lr.setToolTip("Learning rate: changes apply to the running worker at once.")
        self.clip_on = QCheckBox("Clip ‖∇‖ at")
        self.clip = QDoubleSpinBox()
        self.clip.setRange(0.001, 1e6)
        self.clip.setValue(1.0)
        self.clip.setToolTip("Clip the global gradient norm (changes apply while running).")
        # Probe rates (engine.probes.ProbeSettings): sent to the worker when changed.
        self.stats_every = QSpinBox()
        self.stats_every.setRange(0, 100000)
        self.stats_every.setValue(ProbeSettings().stats_every)
        self.stats_every.setSuffix(" steps")
        self.stats_every.setSpecialValueText("never")
        self.stats_every.setToolTip("Cheap per-layer statistics (norms, dead/saturated units) every "
                                    "this many steps (0: never). Applies while running.")
        defaults = ProbeSettings()
        self.heavy_rate = QDoubleSpinBox()
        self.heavy_rate.setRange(1, 100000)
        self.heavy_rate.setDecimals(0)
        self.heavy_rate.setValue(defaults.heavy_every or 50)
        self.heavy_unit = QComboBox()
        self.heavy_unit.addItems(["steps", "per second"])  # by step first: the same steps every run
        tip = ("Heavy captures on the probe batch (feature maps, gates, gradients through time, "
               "histograms): every k steps (after a dense start: every step at first, then thinning), "
               "so two runs with the same settings and seed capture the same steps; or so many per "
               "second of wall time. Applies while running.")
        self.heavy_rate.setToolTip(tip)
        self.heavy_unit.setToolTip(tip)
        self.capture_where = QComboBox()
        for mode, text in (("auto", "auto"), ("inline", "inline"), ("process", "helper process"),
                           ("stream", "CUDA stream")):
            self.capture_where.addItem(text, mode)
        self.capture_where.setToolTip("Where heavy captures run: auto puts them beside training when there is "
                                      "room (a spare CPU core, a second CUDA stream), else in the training "
                                      "loop; the records are the same either way. Chosen at the start of a run.")
        self.note = ElidedLabel("", own_tooltip=True)
        self.note.setStyleSheet("color: gray;")
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setFormat("idle")
        self.state_label = StatusLabel()
        self.details_btn = QPushButton("Details…")
        self.details_btn.setVisible(False)
        self.stats = ElidedLabel("", minimum=120)
        self.capture_label = ElidedLabel("", own_tooltip=True)
        self.capture_label.setObjectName("muted")
        self.session_label = QLabel("")
        self.session_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.session_label.setStyleSheet("color: gray;")

        self.bar.setMinimumWidth(160)
        # the file's name gives way first: the run's state is what the strip is for
        self.session_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.session_label.setMinimumWidth(50)
        self._size_fields()
        top = QHBoxLayout()
        for b in (self.train_btn, self.pause_btn, self.step_btn, self.stop_btn, self.checkpoint_btn):
            top.addWidget(b)
        top.addSpacing(10)
        top.addWidget(QLabel("LR"))
        top.addWidget(self.lr)
        top.addWidget(self.clip_on)
        top.addWidget(self.clip)
        top.addSpacing(10)
        top.addWidget(self.bar, 1)
        top.addWidget(self.stats)
        bottom = QHBoxLayout()
        bottom.addWidget(self.state_label)
        bottom.addWidget(self.details_btn)
        bottom.addWidget(self.note)
        bottom.addSpacing(10)
        bottom.addWidget(QLabel("Statistics every"))
        bottom.addWidget(self.stats_every)
        bottom.addWidget(QLabel("Captures every"))
        bottom.addWidget(self.heavy_rate)
        bottom.addWidget(self.heavy_unit)
        bottom.addWidget(self.capture_where)
        bottom.addSpacing(10)
        bottom.addWidget(self.capture_label)
        bottom.addSpacing(10)
        bottom.addWidget(self.session_label, 1)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 2, 6, 2)
        grid.setVerticalSpacing(2)
        grid.addLayout(top, 0, 0)
        grid.addLayout(bottom, 1, 0)

        self.train_btn.clicked.connect(self.train_requested)
        self.train_btn.setVisible(show_train)  # the main window has Train on its toolbar
        self.pause_btn.clicked.connect(self._toggle_pause)
        self.step_btn.clicked.connect(lambda: self.controller.step())
        self.stop_btn.clicked.connect(lambda: self.controller.stop())
        self.checkpoint_btn.clicked.connect(lambda: self.controller.checkpoint_now())
        self.lr.editingFinished.connect(lambda: self.controller.set_lr(self.lr.value()))
        self.clip_on.toggled.connect(self._send_clip)
        self.clip.editingFinished.connect(self._send_clip)
        self.stats_every.editingFinished.connect(
            lambda: self.controller.set_probes(stats_every=self.stats_every.value()))
        self.heavy_rate.editingFinished.connect(self._send_heavy)
        self.heavy_unit.currentIndexChanged.connect(self._heavy_unit_changed)
        self.details_btn.clicked.connect(
            lambda: self.details_requested.emit(self.controller.message, self.controller.details))
        self.controller = None
        self.set_controller(controller)

    def _size_fields(self) -> None:
        """Compact fields: the strip must fit a 1280 px window, in presentation mode too."""
        for spin, chars in ((self.lr, 9), (self.clip, 6), (self.stats_every, 9), (self.heavy_rate, 6)):
            spin.setMaximumWidth(self.fontMetrics().horizontalAdvance("0" * chars) + 40)

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.FontChange:  # presentation mode: fields grow with the font
            self._size_fields()

    _SIGNALS = (("log", "_show_note"), ("probes_changed", "_show_probes"), ("state_changed", "on_state"),
                ("progress", "on_progress"), ("started", "_show_session"), ("stalled", "on_stalled"),
                ("capture_mode", "on_capture_mode"))

    def set_controller(self, controller, session_path=None) -> None:
        """Show and steer ``controller`` (a run, or an idle controller: nothing bound)."""
        if controller is self.controller and session_path is None:
            return
        if self.controller is not None and self.controller is not controller:
            for sig, slot in self._SIGNALS:
                getattr(self.controller, sig).disconnect(getattr(self, slot))
        if controller is not self.controller:
            for sig, slot in self._SIGNALS:
                getattr(controller, sig).connect(getattr(self, slot))
        self.controller = controller
        self.note.setText("")
        self.stats.setText("")
        capture = getattr(controller, "capture", None)
        self.capture_label.setText("")
        if capture:
            self.on_capture_mode(*capture)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("idle")
        if controller.last_progress:
            self.on_progress(controller.last_progress)
        if controller.state == "idle":
            self.on_state("idle", "Ready: press Train to start.", "")
        else:
            self.on_state(controller.state, controller.message, controller.details)
        path = controller.session_path or session_path
        if path is None:
            self.session_label.setText("")
            self.session_label.setToolTip("")
        else:
            self._show_session(str(path))

    def _show_session(self, path: str) -> None:
        from pathlib import Path
        recording = self.controller is not None and self.controller.running
        self.session_label.setText(f"{'Recording to' if recording else 'Session'} {Path(path).name}")
        self.session_label.setToolTip(path)

    def set_settings(self, training: dict) -> None:
        """Show the document's LR and clipping before a run starts."""
        from engine.graph.settings import TRAINING_DEFAULTS
        self.lr.setValue(float(training.get("lr", TRAINING_DEFAULTS["lr"])))
        clip = training.get("clip_norm")
        self.clip_on.setChecked(clip is not None)
        if clip is not None:
            self.clip.setValue(float(clip))

    def probe_settings(self) -> dict:
        """The probe rates shown, as ProbeSettings values (for the start of a run)."""
        out = {"stats_every": self.stats_every.value(), "capture_mode": self.capture_where.currentData()}
        if self.heavy_unit.currentIndex() == 0:
            return out | {"heavy_every": max(1, int(round(self.heavy_rate.value())))}
        return out | {"heavy_hz": self.heavy_rate.value(), "heavy_every": None}

    def _send_heavy(self, *_args) -> None:
        changes = self.probe_settings()
        changes.pop("stats_every")
        changes.pop("capture_mode")  # where captures run is decided at the start
        self.controller.set_probes(**changes)

    def _heavy_unit_changed(self, index: int) -> None:
        # A rate of 5 per second and "every 5 steps" mean very different things: pick a
        # sensible number for the new unit rather than reinterpret the old one.
        by_step = index == 0
        self.heavy_rate.setDecimals(0 if by_step else 1)
        self.heavy_rate.setMinimum(1 if by_step else 0)
        self.heavy_rate.setValue((ProbeSettings().heavy_every or 50) if by_step else ProbeSettings().heavy_hz)
        self._send_heavy()

    def _show_probes(self, settings: dict) -> None:
        every, hz = settings.get("heavy_every"), settings.get("heavy_hz")
        rate = f"every {every} steps" if every else (f"{hz:g} per second" if hz else "never")
        k = settings.get("stats_every")
        self._show_note(f"Probes: statistics every {k} step{'s' if k != 1 else ''}, captures {rate}.")

    def _show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setToolTip(text)

    def set_blocked_reason(self, reason: str | None) -> None:
        """Why Train is disabled (shown in the strip while no run is going), or None."""
        self._train_allowed = reason is None
        self._train_reason = reason or ""
        if self.controller.state == "idle":
            self.on_state("idle", f"Cannot train yet: {reason}" if reason else "Ready: press Train to start.", "")
        self._update_buttons()

    def _toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def _send_clip(self, *_args) -> None:
        self.controller.set_clipping(norm=self.clip.value() if self.clip_on.isChecked() else None)

    def on_state(self, state: str, message: str, details: str) -> None:
        colour = STATE_COLOURS.get(state, "#777")
        if message.lower().startswith(state.lower()):  # "Finished 370 steps.", not "Finished — Finished ..."
            self.state_label.show_status(message, colour)
        else:
            self.state_label.show_status(state.capitalize(), colour, message)
        self.details_btn.setVisible(bool(details))
        if self.controller is not None and self.controller.session_path is not None:
            self._show_session(str(self.controller.session_path))
        if state in TERMINAL:
            self.bar.setFormat(f"{state} · step {self.controller.last_progress.get('step', 0)}")
        self._update_buttons()

    CAPTURE_WORDS = {"inline": "on the training thread", "process": "beside training (a helper process)",
                     "stream": "beside training (a CUDA stream)"}

    def on_capture_mode(self, mode: str, message: str) -> None:
        """Where heavy captures run (the session records it too, as capture_mode events)."""
        self.capture_label.setText(f"Captures {self.CAPTURE_WORDS.get(mode, mode)}")
        self.capture_label.setToolTip(message)

    def on_stalled(self, seconds: float) -> None:
        """A running worker has been silent for ``seconds`` (0: it spoke again)."""
        c = self.controller
        if seconds <= 0:
            self.on_state(c.state, c.message, c.details)
            return
        self.state_label.show_status(f"No word from the training process for {seconds:.0f} s",
                                     STATE_COLOURS["paused"], "it may be stopped (SIGSTOP), swapped out or in a "
                                     "very long step; Stop ends it.")

    def on_progress(self, p: dict) -> None:
        total = p.get("steps_total") or 0
        step = p.get("step", 0)
        self.bar.setRange(0, max(int(total), 1))
        self.bar.setValue(min(int(step), max(int(total), 1)))
        epoch = p.get("epoch")
        # epoch arrives as a float (steps / steps per epoch): show the epoch being trained
        self.bar.setFormat(f"epoch {int(epoch) + 1} · step {step:,}/{total:,}" if epoch is not None
                           else f"step {step:,}/{total:,}")
        loss = p.get("loss")
        rate = p.get("samples_per_s")
        self.stats.setText("  ".join(filter(None, [
            f"loss {loss:.4g}" if isinstance(loss, (int, float)) else "",
            f"{rate:,.0f} samples/s" if rate else "",
            f"ETA {fmt_eta(p.get('eta_s'))}",
            str(p.get("device", "")).upper()])))
        if not self.lr.hasFocus() and isinstance(p.get("lr"), (int, float)):
            self.lr.setValue(p["lr"])

    def _update_buttons(self) -> None:
        state = self.controller.state
        active = self.controller.running
        allowed = getattr(self, "_train_allowed", True)
        self.train_btn.setEnabled(allowed and not active)
        self.train_btn.setToolTip("Start training the current graph (recorded to a new session file)."
                                  if allowed else f"Cannot train: {getattr(self, '_train_reason', '')}")
        self.pause_btn.setEnabled(active and state in ("running", "paused"))
        self.pause_btn.setText("Resume" if state == "paused" else "Pause")
        self.step_btn.setEnabled(active and state == "paused")
        self.stop_btn.setEnabled(active)
        self.capture_where.setEnabled(not active)
        self.checkpoint_btn.setEnabled(active and state in ("running", "paused"))
        self.buttons_changed.emit()
