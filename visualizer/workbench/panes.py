"""The grid of view panes in the Watch and Replay workspaces.

Each view widget exists once; a pane shows one of them, chosen in the pane's header. Picking
a view that another pane shows swaps the two, so a view is never in two places. Views that
no pane shows wait, hidden, in a parking widget (the hub draws only visible views). With the
layout unlocked, a pane's view can be popped out into a window of its own (a second screen)
and the grid's shape changed."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMenu, QSplitter, QStackedLayout, QToolButton,
                               QVBoxLayout, QWidget)

from ..screen_fit import resize_to_fit

SHAPES = {"1 × 1": (1, 1), "1 × 2": (1, 2), "2 × 1": (2, 1), "2 × 2": (2, 2), "2 × 3": (2, 3), "3 × 3": (3, 3)}
NO_RUN = "No run for this graph yet: press Train (Ctrl+Enter) to record one, or open a recorded session."


class ViewPane(QWidget):
    """A header (which view, export, pop out) over one view."""
    view_chosen = Signal(object, str)    # pane, title
    pop_out = Signal(object)             # pane
    export = Signal(str, str)            # view title, "png" or "csv"

    def __init__(self, titles: list[str], parent=None):
        super().__init__(parent)
        self.setObjectName("viewPane")
        self.title: str | None = None
        self.chooser = QComboBox()
        self.chooser.addItems(titles)
        self.chooser.setToolTip("Which view this pane shows (a view shown in another pane swaps places)")
        self.chooser.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.chooser.activated.connect(lambda i: self.view_chosen.emit(self, self.chooser.itemText(i)))
        self.export_btn = QToolButton()
        self.export_btn.setText("Export")
        self.export_btn.setToolTip("Save this view as a PNG picture or an SVG drawing, or its data as CSV")
        self.export_btn.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.export_btn)
        menu.addAction("Picture (PNG)…", lambda: self.export.emit(self.title, "png"))
        menu.addAction("Drawing (SVG)…", lambda: self.export.emit(self.title, "svg"))
        self.csv_action = menu.addAction("Data (CSV)…", lambda: self.export.emit(self.title, "csv"))
        self.export_btn.setMenu(menu)
        self.pop_btn = QToolButton()
        self.pop_btn.setText("⧉")
        self.pop_btn.setToolTip("Show this view in a window of its own (the layout is unlocked)")
        self.pop_btn.clicked.connect(lambda: self.pop_out.emit(self))
        head = QHBoxLayout()
        head.setContentsMargins(4, 2, 4, 0)
        head.addWidget(self.chooser)
        head.addStretch(1)
        head.addWidget(self.export_btn)
        head.addWidget(self.pop_btn)
        self.body = QStackedLayout()
        self.hint = QLabel(NO_RUN)
        self.hint.setObjectName("muted")
        self.hint.setAlignment(Qt.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setMargin(16)
        self.body.addWidget(self.hint)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addLayout(self.body, 1)

    def put(self, title: str, view: QWidget) -> None:
        self.title = title
        self.chooser.setCurrentText(title)
        self.body.addWidget(view)
        self.body.setCurrentWidget(view)
        view.show()

    def take(self) -> None:
        if self.body.count() > 1:
            w = self.body.widget(1)
            self.body.removeWidget(w)
        self.title = None

    def set_bound(self, bound: bool) -> None:
        """With no run or session bound, the pane says what to do instead of an empty plot."""
        self.body.setCurrentIndex(1 if bound and self.body.count() > 1 else 0)

    def set_locked(self, locked: bool) -> None:
        self.pop_btn.setVisible(not locked)


class ViewWindow(QWidget):
    """A view popped out of the grid. Closing it puts the view back among the parked ones."""
    closed = Signal(str)

    def __init__(self, title: str, view: QWidget, parent=None):
        super().__init__(parent, Qt.Window)
        self.title = title
        self.setWindowTitle(f"{title} — Neurostudio")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(view)
        view.show()
        resize_to_fit(self, 720, 480)

    def closeEvent(self, event):
        self.closed.emit(self.title)
        super().closeEvent(event)


class ViewGrid(QWidget):
    changed = Signal()          # the user changed what the panes show or the grid's shape
    export = Signal(str, str)   # view title, "png" or "csv"

    def __init__(self, views: dict[str, QWidget], parent=None):
        super().__init__(parent)
        self.views = views
        self.titles_all = list(views)
        self.parking = QWidget(self)
        self.parking.hide()
        for v in views.values():
            v.setParent(self.parking)
        self.rows = QSplitter(Qt.Vertical)
        self.rows.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.rows)
        self.panes: list[ViewPane] = []
        self.shape = (0, 0)
        self.popped: dict[str, ViewWindow] = {}
        self.locked = True
        self.bound = False
        self.set_shape(2, 2)

    # -- shape and content -----------------------------------------------------------------
    def set_shape(self, rows: int, cols: int) -> None:
        if (rows, cols) == self.shape:
            return
        titles = self.titles()
        for pane in self.panes:
            self._park(pane)
        for i in reversed(range(self.rows.count())):
            w = self.rows.widget(i)
            w.setParent(None)
            w.deleteLater()
        self.panes = []
        for _ in range(rows):
            row = QSplitter(Qt.Horizontal)
            row.setChildrenCollapsible(False)
            for _ in range(cols):
                pane = ViewPane(self.titles_all)
                pane.view_chosen.connect(self._chosen)
                pane.pop_out.connect(self._pop_out)
                pane.export.connect(self.export)
                pane.set_locked(self.locked)
                row.addWidget(pane)
                self.panes.append(pane)
            self.rows.addWidget(row)
        self.shape = (rows, cols)
        self.even_out()
        self.set_views(titles)

    def even_out(self) -> None:
        rows, cols = self.shape
        self.rows.setSizes([1000] * rows)
        for i in range(self.rows.count()):
            self.rows.widget(i).setSizes([1000] * cols)

    def set_views(self, titles: list[str]) -> None:
        """Show ``titles`` in the panes in reading order; panes left over get views no pane
        shows yet (popped-out views stay in their windows)."""
        wanted = [t for t in dict.fromkeys(titles) if t in self.views and t not in self.popped]
        spare = [t for t in self.titles_all if t not in wanted and t not in self.popped]
        for pane in self.panes:
            self._park(pane)
        for pane in self.panes:
            title = wanted.pop(0) if wanted else (spare.pop(0) if spare else None)
            if title is not None:
                pane.put(title, self.views[title])
                pane.set_bound(self.bound)

    def titles(self) -> list[str]:
        return [p.title for p in self.panes if p.title]

    def shown(self, title: str) -> bool:
        return title in self.titles() or title in self.popped

    def show_view(self, title: str) -> None:
        """Bring ``title`` on screen, in place of the last pane's view, unless shown already."""
        if self.shown(title) or not self.panes:
            return
        self._chosen(self.panes[-1], title)

    def _park(self, pane: ViewPane) -> None:
        if pane.title is not None:
            view = self.views[pane.title]
            pane.take()
            view.setParent(self.parking)

    def _chosen(self, pane: ViewPane, title: str) -> None:
        if title == pane.title:
            return
        if title in self.popped:  # it lives in its own window: bring that forward
            self.popped[title].raise_()
            pane.chooser.setCurrentText(pane.title or "")
            return
        other = next((p for p in self.panes if p.title == title), None)
        old = pane.title
        self._park(pane)
        if other is not None:
            self._park(other)
            if old is not None:
                other.put(old, self.views[old])
                other.set_bound(self.bound)
        pane.put(title, self.views[title])
        pane.set_bound(self.bound)
        self.changed.emit()

    def set_bound(self, bound: bool) -> None:
        self.bound = bound
        for pane in self.panes:
            pane.set_bound(bound)

    # -- locking and popping out -----------------------------------------------------------
    def set_locked(self, locked: bool) -> None:
        self.locked = locked
        for pane in self.panes:
            pane.set_locked(locked)

    def _pop_out(self, pane: ViewPane) -> None:
        title = pane.title
        if title is None:
            return
        self._park(pane)
        win = ViewWindow(title, self.views[title], self.window())
        win.closed.connect(self._popped_closed)
        self.popped[title] = win
        spare = [t for t in self.titles_all if not self.shown(t)]
        if spare:
            pane.put(spare[0], self.views[spare[0]])
            pane.set_bound(self.bound)
        win.show()
        self.changed.emit()

    def _popped_closed(self, title: str) -> None:
        win = self.popped.pop(title, None)
        if win is not None:
            self.views[title].setParent(self.parking)
            win.deleteLater()

    # -- state ---------------------------------------------------------------------------------
    def sizes(self) -> dict:
        return {"rows": self.rows.sizes(),
                "cols": [self.rows.widget(i).sizes() for i in range(self.rows.count())]}

    def set_sizes(self, sizes: dict) -> None:
        rows = sizes.get("rows")
        if isinstance(rows, list) and len(rows) == self.rows.count():
            self.rows.setSizes([int(s) for s in rows])
        cols = sizes.get("cols")
        if isinstance(cols, list) and len(cols) == self.rows.count():
            for i, c in enumerate(cols):
                if isinstance(c, list) and len(c) == self.rows.widget(i).count():
                    self.rows.widget(i).setSizes([int(s) for s in c])
