"""The base class of every view and the hub that drives them at a bounded rate."""
from __future__ import annotations

import csv
from collections import defaultdict, deque
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QGraphicsItem, QWidget

from engine.session.errors import SessionError

from .widgets import loosen_title


class View(QWidget):
    """A dockable view of recorded data.

    Subclasses implement ``reset()`` (a new session or node: drop cached items) and
    ``show_step(step)`` (cheap: update plot items in place for that step). ``reader`` is an
    ``engine.session.SessionReader`` (or None); ``node_id`` the node selected on the canvas.
    """
    title = "View"
    #: catalogue probe names the view applies to (empty: the view is not per node)
    applies_to: tuple[str, ...] = ()
    #: a run is still recording into the session: plots over training keep room to grow
    growing = False

    node_selected = Signal(str)  # a view may ask the canvas to select a node

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.reader = None
        self.node_id: str | None = None
        self.node_type: str | None = None
        self.step = 0
        self._drawn_key = None
        self._steps_head = None
        self._steps: dict[tuple[str, int], int | None] = {}

    def set_reader(self, reader) -> None:
        self.reader = reader
        self._forget()
        self.reset()

    def set_node(self, node_id: str | None, node_type: str | None = None) -> None:
        if node_id == self.node_id:
            return
        self.node_id, self.node_type = node_id, node_type
        if not self.applies_to:
            return  # not a per-layer view: nothing it shows depends on the selection
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
        """The step of the last record of tensor ``name`` at or before ``step`` (asked of the
        session once per commit and step: one indexed lookup, however long the run)."""
        head = self.reader.version
        if head != self._steps_head:
            self._steps_head, self._steps = head, {}
        key = (name, step)
        if key not in self._steps:
            self._steps[key] = self.reader.tensor_step_at(name, step)
        return self._steps[key]

    def cache_axes(self) -> None:
        """Paint each axis from a pixmap while it is unchanged. A heat map that changes
        repaints its whole plot, and replaying every axis's tick picture through Python
        cost more than the images (gates: 28 axis paints, 16 of 27 ms a repaint).
        Called when the view joins the hub; a view that builds plots later calls it again."""
        for view in self.findChildren(pg.GraphicsView):
            for item in view.scene().items():
                if isinstance(item, pg.AxisItem) and item.cacheMode() != QGraphicsItem.DeviceCoordinateCache:
                    item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
                elif isinstance(item, pg.PlotItem):  # and no title holds a plot wider than its pane
                    loosen_title(item)
        style = getattr(self, "_style", None)  # plots built after a theme change get it too
        if style is not None:
            from .restyle import restyle
            restyle(self, *style)

    def paint_now(self) -> None:
        """Paint what the last update changed, now. Qt defers it by two posted-event
        hops (the scenes' dirty items, then the window's update request), and deferred
        paints of several views pile up in one event-loop pass."""
        for view in self.findChildren(pg.GraphicsView):
            QCoreApplication.sendPostedEvents(view.scene(), QEvent.MetaCall)
        QCoreApplication.sendPostedEvents(self.window(), QEvent.UpdateRequest)

    def reset(self) -> None:  # pragma: no cover - overridden
        pass

    def show_step(self, step: int) -> None:  # pragma: no cover - overridden
        self.step = step

    # -- export ------------------------------------------------------------------
    def export_png(self, path: str | Path) -> bool:
        if not self.grab().save(str(path), "PNG"):
            raise OSError("the picture could not be written")
        return True

    def export_svg(self, path: str | Path) -> bool:
        """The view as an SVG drawing: lines, text and axes as vectors, heat maps and
        images embedded as pictures (Qt's SVG generator, through the view's own painting)."""
        return export_svg(self, path)

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


def export_svg(widget: QWidget, path: str | Path) -> bool:
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(widget.size())
    gen.setViewBox(QRect(QPoint(0, 0), widget.size()))
    gen.setTitle(getattr(widget, "title", "") or widget.windowTitle())
    gen.setDescription("Exported from Neurostudio")
    # Items cached as pixmaps (the axes, see View.cache_axes) would go in as pictures:
    # draw them uncached so that their lines and text stay vectors.
    views = widget.findChildren(pg.GraphicsView) + ([widget] if isinstance(widget, pg.GraphicsView) else [])
    cached = [(item, item.cacheMode()) for gv in views
              for item in gv.scene().items() if item.cacheMode() != QGraphicsItem.NoCache]
    for item, _ in cached:
        item.setCacheMode(QGraphicsItem.NoCache)
    painter = QPainter()
    try:
        if not painter.begin(gen):
            raise OSError("the drawing could not be written")
        QWidget.render(widget, painter, QPoint(0, 0))  # a QGraphicsView overrides render()
    finally:
        if painter.isActive():
            painter.end()
        for item, mode in cached:
            item.setCacheMode(mode)
    return Path(path).is_file() and Path(path).stat().st_size > 0


class ViewHub(QObject):
    """Drives views from the timeline at a bounded rate, dropping stale frames.

    Step changes and new commits only mark the hub dirty; the *latest* step is rendered at
    most ``max_fps`` times a second, so a burst of commits never queues frames.
    A frame is drawn one view at a time, each view's update and repaint in an event-loop
    pass of its own, so the loop (input, the heartbeat of a benchmark) is never blocked
    for longer than one view. A frame's busy time is measured (updates and repaints), and
    the next frame waits until views have used at most ``budget`` of the wall time: on a
    slow or busy machine the views update less often instead of starving the event loop.
    """
    rendered = Signal(int)  # step drawn by every view (for latency measurements)
    failed = Signal(str)    # one sentence: a record could not be read (a damaged file)

    def __init__(self, timeline, max_fps: float = 20.0, parent: QObject | None = None,
                 budget: float = 0.6):
        super().__init__(parent)
        self.budget = budget
        self._clock = QElapsedTimer()
        self._clock.start()
        self._next_ms = 0.0          # no frame before this clock reading
        self.timeline = timeline
        self.views: list[View] = []
        self.reader = None
        self._dirty = False
        self.render_hidden = False  # screenshots and tests render views that are not shown
        self._frame: dict | None = None  # the frame being drawn, slice by slice
        # view title -> recent slice costs in ms (update + the repaint it caused)
        self.costs: dict[str, deque] = defaultdict(lambda: deque(maxlen=500))
        self._min_period_ms = 1000.0 / max_fps
        self._kicked = False             # a render is scheduled
        timeline.step_changed.connect(self.mark_dirty)

    def add(self, view: View) -> None:
        self.views.append(view)
        view.cache_axes()
        if self.reader is not None:
            view.set_reader(self.reader)
            self.mark_dirty()

    def set_reader(self, reader) -> None:
        self._frame = None  # slices left of a frame would read the old file
        self.reader = reader
        for v in self.views:
            v.set_reader(reader)
        self.mark_dirty()

    def set_node(self, node_id: str | None, node_type: str | None = None) -> None:
        for v in self.views:
            v.set_node(node_id, node_type)

    def set_growing(self, growing: bool) -> None:
        """A run is recording into the session (plots over training keep room to grow
        ahead of the data), or it is over (they fit the data: views draw again)."""
        for v in self.views:
            if v.growing != growing:
                v.growing = growing
                v._forget()
        self.mark_dirty()

    def mark_dirty(self, *_args) -> None:
        self._dirty = True
        self._kick()

    def _kick(self) -> None:
        """Schedule a frame as soon as the budget allows (once: later marks join it)."""
        if self._kicked or self._frame is not None:
            return
        self._kicked = True
        wait = max(0.0, self._next_ms - self._clock.nsecsElapsed() / 1e6)
        QTimer.singleShot(int(wait) + 1, self, self._render)

    def render_now(self) -> None:
        """Draw the current step in every view at once (tests, screenshots, exports)."""
        self._frame = None  # a frame in slices is superseded
        self._dirty = False
        if self.reader is None:
            return
        step = self.timeline.step
        for v in self._due_views():
            self._show(v, step)
        self.rendered.emit(step)

    def _due_views(self) -> list[View]:
        return [v for v in self.views if self.render_hidden or v.isVisible()]

    def _show(self, view: View, step: int) -> bool:
        """Show ``step`` in ``view``; True if it drew something new."""
        drawn_before = view._drawn_key
        try:
            view.show_step(step)
        except SessionError as err:  # a page damaged mid-file: say so, keep the window
            self.failed.emit(f"{view.title}: {err}")
        return view._drawn_key != drawn_before

    def _render(self) -> None:
        self._kicked = False
        if not self._dirty or self.reader is None or self._frame is not None:
            return
        now = self._clock.nsecsElapsed() / 1e6
        if now < self._next_ms:
            self._kick()
            return
        self._dirty = False
        self._frame = {"step": self.timeline.step, "views": self._due_views(), "busy": 0.0,
                       "start": now}
        self._slice(self._frame)

    def _slice(self, frame: dict) -> None:
        """Update the frame's next view that has something new and paint it at once
        (Qt would paint it in the next pass anyway, before any timer or input); the view
        after it is drawn in a later pass."""
        if frame is not self._frame or self.reader is None:
            return  # superseded (render_now, a new file)
        while frame["views"]:
            view = frame["views"].pop(0)
            start = self._clock.nsecsElapsed() / 1e6
            # Views without a drawn key (Curves) are judged by what their update cost.
            changed = self._show(view, frame["step"]) or self._clock.nsecsElapsed() / 1e6 - start > 2.0
            if changed:
                view.paint_now()
            spent = self._clock.nsecsElapsed() / 1e6 - start
            frame["busy"] += spent
            if changed:
                self.costs[view.title].append(spent)
                QTimer.singleShot(1, self, lambda: self._slice(frame))
                return
        self._frame = None
        now = self._clock.nsecsElapsed() / 1e6
        self._next_ms = max(now + frame["busy"] * (1 - self.budget) / self.budget,
                            frame["start"] + self._min_period_ms)
        self.rendered.emit(frame["step"])
        if self._dirty:
            self._kick()
