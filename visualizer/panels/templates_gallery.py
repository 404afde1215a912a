"""The Templates gallery: each built-in template as a picture of its graph, its name and a
one-line description; open one as a new document (the current one is offered for saving
first). Pictures are drawn from the template's own graph, a few per event-loop pass after
the gallery is first shown, so the window opens without waiting for them."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from engine.graph.catalogue import CATALOGUE
from engine.graph.errors import GraphError
from engine.templates import first_sentence, list_templates, load_template

from ..editor.geometry import Geometry
from ..editor.layout import apply_positions, layout_all, needs_layout
from ..editor.shown import Shown

SLUG_ROLE = Qt.UserRole + 1
THUMB = QSize(112, 64)


def graph_picture(doc, theme, size: QSize = THUMB) -> QPixmap:
    """The graph as the canvas first shows it: coloured boxes (by layer category; folded
    blocks in the accent colour, open ones as outlines) joined by its edges."""
    pm = QPixmap(size)
    pm.fill(QColor(theme.canvas))
    if not doc.nodes:
        return pm
    if needs_layout(doc):
        doc = doc.copy()
        apply_positions(doc, layout_all(doc))
    geo = Geometry(doc, doc.tree())
    shown = Shown(geo)
    rects = dict(shown.visible((-1e12, -1e12, 1e12, 1e12)))
    x0 = min(r[0] for r in rects.values())
    y0 = min(r[1] for r in rects.values())
    w = max(r[2] for r in rects.values()) - x0
    h = max(r[3] for r in rects.values()) - y0
    margin = 5
    k = min((size.width() - 2 * margin) / w, (size.height() - 2 * margin) / h)
    ox = (size.width() - w * k) / 2
    oy = (size.height() - h * k) / 2

    def box(unit) -> QRectF:
        r = rects[unit]
        return QRectF(ox + (r[0] - x0) * k, oy + (r[1] - y0) * k, max((r[2] - r[0]) * k, 2.0),
                      max((r[3] - r[1]) * k, 2.0))

    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(QPen(QColor(theme.border), 0.8))
    p.setBrush(Qt.NoBrush)
    for u in rects:
        if geo.expanded(u):
            p.drawRoundedRect(box(u), 2, 2)
    p.setPen(QPen(QColor(theme.edge), 1.0))
    for e in shown.edges:
        if e.src in rects and e.dst in rects:
            a, b = box(e.src), box(e.dst)
            p.drawLine(QPointF(a.right(), a.center().y()), QPointF(b.left(), b.center().y()))
    p.setPen(Qt.NoPen)
    for u in rects:
        if geo.expanded(u):
            continue
        if u in geo.tree.blocks:
            p.setBrush(QColor(theme.accent))
        else:
            spec = CATALOGUE.get(doc.node(u).type)
            p.setBrush(theme.category(spec.category if spec else ""))
        p.drawRoundedRect(box(u), 1.5, 1.5)
    p.end()
    return pm


class TemplatesGallery(QWidget):
    open_requested = Signal(str)  # template slug

    def __init__(self, theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setIconSize(THUMB)
        self.list.setSpacing(2)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setObjectName("muted")
        self.detail.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.open_button = QPushButton("Open template")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.list, 3)
        lay.addWidget(self.detail, 1)
        lay.addWidget(self.open_button)
        for t in list_templates():
            item = QListWidgetItem(f"{t.name}\n{first_sentence(t.description)}")
            item.setData(SLUG_ROLE, t.slug)
            item.setToolTip(t.description)
            item.setData(Qt.UserRole + 2, t.description)
            item.setSizeHint(QSize(0, THUMB.height() + 10))
            self.list.addItem(item)
        self._pending: list[int] = []
        self._drawer = QTimer(self)
        self._drawer.setInterval(0)
        self._drawer.timeout.connect(self._draw_next)
        self.list.currentItemChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(self._open)
        self.open_button.clicked.connect(lambda: self._open(self.list.currentItem()))
        self.open_button.setEnabled(False)

    def slugs(self) -> list[str]:
        return [self.list.item(i).data(SLUG_ROLE) for i in range(self.list.count())]

    def set_theme(self, theme) -> None:
        self.theme = theme
        self._pending = list(range(self.list.count()))
        if self.isVisible():
            self._drawer.start()

    def showEvent(self, event):
        super().showEvent(event)
        if not self._pending and self.list.count() and self.list.item(0).icon().isNull():
            self._pending = list(range(self.list.count()))
        if self._pending:
            self._drawer.start()

    def draw_all(self) -> None:
        """Draw every picture now (screenshots, tests)."""
        self._pending = list(range(self.list.count()))
        while self._pending:
            self._draw_next()

    def _draw_next(self) -> None:
        if not self._pending:
            self._drawer.stop()
            return
        item = self.list.item(self._pending.pop(0))
        try:
            doc = load_template(item.data(SLUG_ROLE))
        except GraphError:
            return  # a broken template file: listed, without a picture
        item.setIcon(QIcon(graph_picture(doc, self.theme)))

    def _show(self, item, _prev=None) -> None:
        self.open_button.setEnabled(item is not None)
        self.detail.setText(item.data(Qt.UserRole + 2) if item else "")

    def _open(self, item) -> None:
        if item is not None:
            self.open_requested.emit(item.data(SLUG_ROLE))
