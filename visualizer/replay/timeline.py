"""The timeline: which training step every view shows. Live = follow the head.

Qt-free (psygnal signals), so the application state that owns it can be driven and tested
without a window."""
from __future__ import annotations

from psygnal import Signal


class Timeline:
    step_changed = Signal(int)       # the step views should show
    head_changed = Signal(int)       # the last committed step of the session
    live_changed = Signal(bool)

    def __init__(self, parent=None):  # parent: accepted for symmetry with Qt objects, unused
        self._step = 0
        self._head = 0
        self._live = True

    @property
    def step(self) -> int:
        return self._step

    @property
    def head(self) -> int:
        return self._head

    @property
    def live(self) -> bool:
        return self._live

    @property
    def at_head(self) -> bool:
        """The shown step is the newest one (what "● Live" lights for)."""
        return self._step >= self._head

    def set_head(self, head: int) -> None:
        """A new commit arrived (or a session was opened): extend the range; follow it if live."""
        if head == self._head:
            return
        self._head = head
        self.head_changed.emit(head)
        if self._live:
            self._set_step(head)

    def seek(self, step: int) -> None:
        """Show ``step`` (clamped). Seeking back leaves live mode; seeking to the head rejoins it."""
        step = max(0, min(int(step), self._head))
        self._set_live(step >= self._head)
        self._set_step(step)

    def go_live(self) -> None:
        self._set_live(True)
        self._set_step(self._head)

    def reset(self, head: int = 0, live: bool = True, step: int | None = None) -> None:
        """A new session: ``head`` steps recorded; follow the head if ``live``, else show
        ``step`` (default 0)."""
        self._head = head
        self.head_changed.emit(head)
        self._set_live(live)
        self._set_step(head if live else max(0, min(step or 0, head)))

    def _set_live(self, live: bool) -> None:
        if live != self._live:
            self._live = live
            self.live_changed.emit(live)

    def _set_step(self, step: int) -> None:
        if step != self._step:
            self._step = step
            self.step_changed.emit(step)
