"""The base class of every view and the hub that drives them at a bounded rate."""
from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
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

    def set_reader(self, reader) -> None:
        self.reader = reader
        self.reset()

    def set_node(self, node_id: str | None, node_type: str | None = None) -> None:
        if node_id == self.node_id:
            return
        self.node_id, self.node_type = node_id, node_type
        self.reset()
        if self.reader is not None:
            self.show_step(self.step)

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
    """
    rendered = Signal(int)  # step drawn (for latency measurements)
    failed = Signal(str)    # one sentence: a record could not be read (a damaged file)

    def __init__(self, timeline, max_fps: float = 20.0, parent: QObject | None = None):
        super().__init__(parent)
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
        self._render()

    def _render(self) -> None:
        if not self._dirty or self.reader is None:
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
