"""The canvas view: wheel zoom about the cursor, pan with the middle button or space-drag,
rubber-band selection, zoom to fit, and drops from the palette."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsView

MIME_LAYER = "application/x-neurostudio-layer"
MIN_SCALE, MAX_SCALE = 0.08, 3.0


class EditorView(QGraphicsView):
    layer_dropped = Signal(str, QPointF)  # layer type name, scene position

    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState)
        self.setCacheMode(QGraphicsView.CacheNone)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setAcceptDrops(True)
        self.setFrameShape(QGraphicsView.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # pan with the middle button or space
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self._pan_from = None
        self._space = False
        scene.block_toggled.connect(lambda _b: self.graph_grew())
        self._fitted = False  # the last view change was a fit: a resize fits again
        self._fitting = False

    def _tell_scene(self) -> None:
        scene = self.scene()
        if scene is not None:
            scene.view_changed(self)

    # -- zoom ------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        self._fitted = False
        factor = min(MAX_SCALE, max(MIN_SCALE, factor))
        self.scale(factor / self.zoom(), factor / self.zoom())
        self._tell_scene()

    def zoom_in_at(self, scene_pos: QPointF) -> None:
        """Zoomed out to the map: a double-click zooms in to a readable size there."""
        self.set_zoom(max(self.zoom() * 2.5, self.min_readable))
        self.centerOn(scene_pos)

    def wheelEvent(self, event):
        if event.modifiers() & Qt.ShiftModifier:  # shift+wheel pans sideways, as in most editors
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - event.angleDelta().y())
            return
        delta = event.angleDelta().y() or event.angleDelta().x()
        self.set_zoom(self.zoom() * (1.0015 ** delta))

    #: below this zoom even a node's overview title (node_item.DETAIL_LOD) is too small to
    #: read: a big graph is shown from its input at this zoom, to be panned, not as specks
    min_readable = 0.36

    def zoom_to_fit(self, max_scale: float = 1.0) -> None:
        rect = self.scene().nodes_rect()
        if rect.isNull():
            self.resetTransform()
            return
        self._fitting = True
        try:
            self._do_fit(rect, max_scale)
        finally:
            self._fitting = False
        self._fitted = True

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if not self._fitting:
            self._fitted = False  # the user panned: leave the view where they put it
        self._tell_scene()

    def resizeEvent(self, event):
        # A panel shown or a workspace switched: the graph the user had fitted stays fitted.
        super().resizeEvent(event)
        if self._fitted:
            self.zoom_to_fit()
        self._tell_scene()

    def showEvent(self, event):
        super().showEvent(event)
        self._tell_scene()

    def _do_fit(self, rect, max_scale: float) -> None:
        rect = rect.adjusted(-40, -40, 40, 40)
        self._grow_scene_rect(rect)
        self.fitInView(rect, Qt.KeepAspectRatio)
        if self.zoom() > max_scale:
            self.set_zoom(max_scale)
        if self.zoom() < self.min_readable:
            self.set_zoom(self.min_readable)
            view = self.mapToScene(self.viewport().rect()).boundingRect()
            # the top-left of the graph (its input, as the layout runs left to right) in view
            self.centerOn(rect.left() + view.width() / 2, rect.top() + min(view.height(), rect.height()) / 2)
            return
        self.centerOn(rect.center())
        self._tell_scene()

    def _grow_scene_rect(self, rect: QRectF) -> None:
        # a generous scene rect so the user can pan past the graph's edges
        r = rect.adjusted(-2000, -2000, 2000, 2000).united(self.scene().itemsBoundingRect())
        self.setSceneRect(r)

    def graph_grew(self) -> None:
        """A block opened or the graph changed size: it can be panned to all over."""
        rect = self.scene().nodes_rect()
        if not rect.isNull() and not self.sceneRect().contains(rect):
            self._grow_scene_rect(rect.united(self.sceneRect()))

    def centre_on(self, item) -> None:
        """Centre on an item, or on a rect of the scene (a unit that has no item yet)."""
        self._grow_scene_rect(self.scene().nodes_rect())
        self.centerOn(item.center() if isinstance(item, QRectF) else item)
        self._tell_scene()

    # -- pan: middle button, or space + left drag ------------------------------------
    def keyPressEvent(self, event):
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.ScrollHandDrag)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.RubberBandDrag)
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event):
        if event.button() == Qt.MiddleButton:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._pan_from is not None:
            d = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(d.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if event.button() == Qt.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # -- drops from the palette ------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasFormat(MIME_LAYER):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event):
        if event.mimeData().hasFormat(MIME_LAYER):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event):
        mime = event.mimeData()
        if not mime.hasFormat(MIME_LAYER):
            return super().dropEvent(event)
        name = bytes(mime.data(MIME_LAYER)).decode("utf-8")
        self.layer_dropped.emit(name, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()
