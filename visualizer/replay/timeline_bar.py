"""The timeline bar along the bottom: scrub, play/pause at chosen speeds, step with the
keyboard, jump to events; during a live run, scrub back and return to live."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QStyleOptionSlider,
                               QToolButton, QWidget)

from .events import MarkTracker, next_mark

SPEEDS = (("0.5×", 0.5), ("1×", 1.0), ("2×", 2.0), ("5×", 5.0), ("20×", 20.0))
MARK_COLOURS = {"nan": "#d62728", "failure": "#d62728", "lr_change": "#9467bd", "best_val": "#2ca02c",
                "pause": "#d98c00", "finish": "#1f77b4", "diagnostic": "#e377c2", "checkpoint": "#17becf"}


class MarkedSlider(QSlider):
    """A horizontal slider that draws small ticks where events happened. A click or a drag
    anywhere on it goes to the step under the pointer (a plain QSlider pages by 10)."""

    def __init__(self, parent=None):
        super().__init__(Qt.Horizontal, parent)
        self.marks = []

    def value_at(self, x: float) -> int:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderHandle, self)
        span = max(1, groove.width() - handle.width())
        pos = int(round(x - groove.left() - handle.width() / 2))
        return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), max(0, min(pos, span)), span)

    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton and self.maximum() > self.minimum():
            self.setSliderDown(True)
            self.setValue(self.value_at(event.position().x()))
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self.isSliderDown():
            self.setValue(self.value_at(event.position().x()))
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self.isSliderDown():
            self.setSliderDown(False)
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def paintEvent(self, event):
        super().paintEvent(event)
        if not self.marks or self.maximum() <= self.minimum():
            return
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderGroove, self)
        span = self.maximum() - self.minimum()
        p = QPainter(self)
        for m in self.marks:
            x = groove.left() + (m.step - self.minimum()) / span * groove.width()
            p.setPen(QColor(MARK_COLOURS.get(m.kind, "#888")))
            p.drawLine(int(x), groove.top() - 4, int(x), groove.top())
        p.end()


class TimelineBar(QWidget):
    def __init__(self, timeline, parent=None):
        super().__init__(parent)
        self.timeline = timeline
        self.reader = None
        self._tracker = None
        self.marks = []
        self._icons = {}
        self.play_btn = QToolButton()
        self.play_btn.setToolTip("Play / pause the replay (Space)")
        self.speed = QComboBox()
        for label, _ in SPEEDS:
            self.speed.addItem(label)
        self.speed.setCurrentIndex(1)
        self.speed.setToolTip("Replay speed (steps per second relative to 50 steps/s at 1×)")
        self.prev_btn = QToolButton()
        self.prev_btn.setToolTip("Previous event (Shift+Left)")
        self.next_btn = QToolButton()
        self.next_btn.setToolTip("Next event (Shift+Right)")
        self.slider = MarkedSlider()
        self.slider.setRange(0, 0)
        self.step_label = QLabel("step 0 / 0")
        self.step_label.setMinimumWidth(130)
        self.event_label = QLabel("")
        self.event_label.setStyleSheet("color: gray;")
        self.live_btn = QToolButton()
        self.live_btn.setObjectName("liveButton")
        self.live_btn.setText("Live")
        self.live_btn.setCheckable(True)
        self.live_btn.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        for w in (self.play_btn, self.speed, self.prev_btn, self.next_btn):
            lay.addWidget(w)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.step_label)
        lay.addWidget(self.event_label)
        lay.addWidget(self.live_btn)
        self.setFocusPolicy(Qt.StrongFocus)

        self._play = QTimer(self)
        self._play.setInterval(50)
        self._play.timeout.connect(self._advance)
        self.play_btn.clicked.connect(self.toggle_play)
        self.prev_btn.clicked.connect(lambda: self.jump(-1))
        self.next_btn.clicked.connect(lambda: self.jump(+1))
        self.slider.valueChanged.connect(self._on_slider)
        self.live_btn.clicked.connect(self._on_live)
        timeline.step_changed.connect(self._sync)
        timeline.head_changed.connect(self._on_head)
        timeline.live_changed.connect(self._show_live)
        from ..theme import LIGHT
        self.set_theme(LIGHT)

    def set_theme(self, theme) -> None:
        from ..icons import themed_icon
        self.theme = theme
        self._icons = {name: themed_icon(name, theme) for name in ("play", "pause", "previous", "next")}
        self._icons["live"] = themed_icon("live", theme, theme.error)
        self._icons["not_live"] = themed_icon("live", theme, theme.muted)
        self.play_btn.setIcon(self._icons["pause" if self._play.isActive() else "play"])
        self.prev_btn.setIcon(self._icons["previous"])
        self.next_btn.setIcon(self._icons["next"])
        self._show_live()

    def _show_live(self, *_args) -> None:
        """The Live light: on only while the views follow the newest step."""
        on = self.timeline.live and self.timeline.at_head
        self.live_btn.setChecked(on)
        self.live_btn.setIcon(self._icons["live" if on else "not_live"])
        self.live_btn.setText("Live" if on else "Go live")
        self.live_btn.setToolTip("Showing the newest step as it is recorded" if on else
                                 "Showing an earlier step: click (or End) to follow the newest step again")

    def set_reader(self, reader, live: bool) -> None:
        self.reader = reader
        self._tracker = MarkTracker(reader) if reader is not None else None
        self.live_btn.setVisible(live)
        self.refresh_marks()

    def refresh_marks(self) -> None:
        self.marks = self._tracker.update() if self._tracker is not None else []
        self.slider.marks = self.marks
        self.slider.update()

    # -- playing --------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self._play.isActive():
            self._play.stop()
            self.play_btn.setIcon(self._icons["play"])
        else:
            if self.timeline.step >= self.timeline.head:
                self.timeline.seek(0)
            self._play.start()
            self.play_btn.setIcon(self._icons["pause"])

    def _advance(self) -> None:
        speed = SPEEDS[self.speed.currentIndex()][1]
        stride = max(1, int(round(speed * 50 * self._play.interval() / 1000)))
        nxt = self.timeline.step + stride
        if nxt >= self.timeline.head:
            self.timeline.seek(self.timeline.head)
            self.toggle_play()
        else:
            self.timeline.seek(nxt)

    def jump(self, direction: int) -> None:
        m = next_mark(self.marks, self.timeline.step, direction)
        if m is not None:
            self.timeline.seek(m.step)
            self.event_label.setText(m.label)

    def keyPressEvent(self, event):
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key_Left, Qt.Key_Right):
            direction = -1 if key == Qt.Key_Left else 1
            if mods & Qt.ShiftModifier:
                self.jump(direction)
            else:
                self.timeline.seek(self.timeline.step + direction * (10 if mods & Qt.ControlModifier else 1))
        elif key == Qt.Key_Home:
            self.timeline.seek(0)
        elif key == Qt.Key_End:
            self.timeline.go_live()
        elif key == Qt.Key_Space:
            self.toggle_play()
        else:
            super().keyPressEvent(event)

    # -- sync -----------------------------------------------------------------------------
    def _on_slider(self, value: int) -> None:
        if value != self.timeline.step:
            self.timeline.seek(value)

    def _on_live(self, checked: bool) -> None:
        if checked:
            self.timeline.go_live()
        else:
            self.timeline.seek(self.timeline.step)
        self._show_live()

    def _on_head(self, head: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(head, 0))
        self.slider.blockSignals(False)
        self._sync(self.timeline.step)

    def _sync(self, step: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(step)
        self.slider.blockSignals(False)
        self.step_label.setText(f"step {step:,} / {self.timeline.head:,}")
        self._show_live()
