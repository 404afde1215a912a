"""The base class of every view and the hub that drives them at a bounded rate."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from engine.session.errors import SessionError


class View(QWidget):
    """A dockable view of recorded data.

    Subclasses implement ``reset()`` (a new session or node: drop cached items) and
    ``show_step(step)`` (cheap: update plot items in place for that step). ``reader`` is an
    ``engine.session.SessionReader`` (or None); ``node_id`` the node selected on the canvas.
    """
    title = "View"
    #: catalogue probe names the view applies to (empty: the view is not per node)
    applies_to: tuple[str, ...] = ()

    node_selected = Signal(str)  # a view may ask the canvas to select a node

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.reader = None
        self.node_id: str | None = None
        self.node_type: str | None = None
        self.step = 0
        self._drawn_key = None
        self._steps_head = None
        self._steps: dict[str, np.ndarray] = {}

    def set_reader(self, reader) -> None:
        self.reader = reader
        self._forget()
        self.reset()

    def set_node(self, node_id: str | None, node_type: str | None = None) -> None:
        if node_id == self.node_id:
            return
        self.node_id, self.node_type = node_id, node_type
        self._forget()
        self.reset()
        if self.reader is not None:
            self.show_step(self.step)

    # -- drawing only what changed ---------------------------------------------------
    def _forget(self) -> None:
        self._drawn_key = None
        self._steps_head, self._steps = None, {}

    def already_drawn(self, key) -> bool:
        """True if the view already shows ``key`` (what it would draw: record steps and
        control values); else remember it. Live, the head moves several times a second
        while heavy records arrive less often: redrawing the same images would only cost
        repaints."""
        if key == self._drawn_key:
            return True
        self._drawn_key = key
        return False

    def latest_record(self, name: str, step: int) -> int | None:
        """The step of the last record of tensor ``name`` at or before ``step`` (record
        steps are read once per head)."""
        head = self.reader.last_step
        if head != self._steps_head:
            self._steps_head, self._steps = head, {}
        steps = self._steps.get(name)
        if steps is None:
            steps = self._steps[name] = self.reader.tensor_steps(name)
        i = int(np.searchsorted(steps, step, side="right")) - 1
        return int(steps[i]) if i >= 0 else None

    def reset(self) -> None:  # pragma: no cover - overridden
        pass

    def show_step(self, step: int) -> None:  # pragma: no cover - overridden
        self.step = step

    # -- export ------------------------------------------------------------------
    def export_png(self, path: str | Path) -> None:
        self.grab().save(str(path), "PNG")

    def table(self) -> tuple[list[str], list[list]] | None:
        """(header, rows) of what the view shows, for CSV export; None if it has none."""
        return None

    def export_csv(self, path: str | Path) -> bool:
        data = self.table()
        if data is None:
            return False
        header, rows = data
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        return True


class ViewHub(QObject):
    """Drives views from the timeline at a bounded rate, dropping stale frames.

    Step changes and new commits only mark the hub dirty; a timer renders the *latest*
    step at most ``max_fps`` times a second, so a burst of commits never queues frames.
    A frame's cost (the views' updates and the repaint they cause) is measured, and the
    next frame waits until views have used at most ``budget`` of the wall time: on a slow
    or busy machine the views update less often instead of starving the event loop.
    """
    rendered = Signal(int)  # step drawn (for latency measurements)
    failed = Signal(str)    # one sentence: a record could not be read (a damaged file)

    def __init__(self, timeline, max_fps: float = 20.0, parent: QObject | None = None,
                 budget: float = 0.35):
        super().__init__(parent)
        self.budget = budget
        self.frame_ms = 0.0          # the last frame's cost: updates + repaint
        self._clock = QElapsedTimer()
        self._clock.start()
        self._next_ms = 0.0          # no frame before this clock reading
        self.timeline = timeline
        self.views: list[View] = []
        self.reader = None
        self._dirty = False
        self.render_hidden = False  # screenshots and tests render views that are not shown
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / max_fps))
        self._timer.timeout.connect(self._render)
        self._timer.start()
        timeline.step_changed.connect(self.mark_dirty)

    def add(self, view: View) -> None:
        self.views.append(view)
        if self.reader is not None:
            view.set_reader(self.reader)
            self.mark_dirty()

    def set_reader(self, reader) -> None:
        self.reader = reader
        for v in self.views:
            v.set_reader(reader)
        self.mark_dirty()

    def set_node(self, node_id: str | None, node_type: str | None = None) -> None:
        for v in self.views:
            v.set_node(node_id, node_type)

    def mark_dirty(self, *_args) -> None:
        self._dirty = True

    def render_now(self) -> None:
        self._dirty = True
        self._render(force=True)

    def _render(self, force: bool = False) -> None:
        if not self._dirty or self.reader is None:
            return
        start = self._clock.nsecsElapsed() / 1e6
        if start < self._next_ms and not force:
            return
        self._dirty = False
        step = self.timeline.step
        for v in self.views:
            if self.render_hidden or v.isVisible():
                try:
                    v.show_step(step)
                except SessionError as err:  # a page damaged mid-file: say so, keep the window
                    self.failed.emit(f"{v.title}: {err}")
        self.rendered.emit(step)
        # Posted paint events are delivered before the next timer: a zero timer fires
        # once the repaint this frame caused is done.
        QTimer.singleShot(0, self, lambda: self._frame_done(start))

    def _frame_done(self, start: float) -> None:
        now = self._clock.nsecsElapsed() / 1e6
        self.frame_ms = now - start
        self._next_ms = now + self.frame_ms * (1 - self.budget) / self.budget
