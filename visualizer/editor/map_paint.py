"""The canvas zoomed far out over a big graph: no items, one pass of batched drawing.

Every drawn box, frame and edge is turned into a rect or a line once (when the graph or a
block changes), and each paint culls them with numpy and hands Qt one list per colour, so a
frame of 10,000 boxes costs a few C++ calls instead of 10,000 Python ``paint`` calls.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen

from engine.graph.catalogue import CATALOGUE

from .geometry import HEAD

MAX_LABELS = 80


def _cull(boxes: np.ndarray, rect: QRectF) -> np.ndarray:
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    m = ((boxes[:, 2] > rect.left()) & (boxes[:, 0] < rect.right())
         & (boxes[:, 3] > rect.top()) & (boxes[:, 1] < rect.bottom()))
    return np.flatnonzero(m)


class MapPainter:
    def __init__(self, scene):
        self.scene = scene
        self._data = None

    def dirty(self) -> None:
        self._data = None

    def _build(self):
        scene = self.scene
        shown, tree, theme = scene.shown, scene.tree, scene.theme
        doc = scene.model.doc
        problems = {p.node for p in scene.model.analysis.problems if p.node}
        groups: dict[str, list] = {}
        frames = []
        rects = {}
        for u, r in shown.visible((-1e12, -1e12, 1e12, 1e12)):
            rects[u] = r
            if scene.geo.expanded(u):
                frames.append((r, tree.blocks[u].name, tree.depth(u)))
                continue
            if u in tree.blocks:
                colour = theme.accent
            else:
                spec = CATALOGUE.get(doc.node(u).type)
                colour = theme.error if u in problems else theme.categories.get(spec.category if spec else "", theme.accent)
            groups.setdefault(colour, []).append(r)
        boxes = {}
        for colour, rs in groups.items():
            arr = np.array(rs, dtype=np.float64)
            boxes[colour] = (arr, [QRectF(a, b, c - a, d - b) for a, b, c, d in rs])
        lines, ends = [], []
        for k in shown.edges:
            if k.src in rects and k.dst in rects:
                x1, y1 = shown.port_point(k.src, k.src_port, False, rects[k.src])
                x2, y2 = shown.port_point(k.dst, k.dst_port, True, rects[k.dst])
                lines.append(QLineF(x1, y1, x2, y2))
                ends.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
        farr = np.array([f[0] for f in frames], dtype=np.float64).reshape(-1, 4)
        by_depth: dict[int, list] = {}
        for r, _, depth in frames:
            by_depth.setdefault(depth, []).append(r)
        levels = [(d, np.array(rs, dtype=np.float64), [QRectF(a, b, c - a, e - b) for a, b, c, e in rs])
                  for d, rs in sorted(by_depth.items())]  # outer frames first: inner ones paint over them
        self._data = (boxes, (farr, frames, levels), (np.array(ends, dtype=np.float64).reshape(-1, 4), lines))
        return self._data

    def paint(self, painter, rect: QRectF) -> None:
        boxes, (farr, frames, levels), (earr, lines) = self._data or self._build()
        t = self.scene.theme
        painter.setRenderHint(painter.RenderHint.Antialiasing, False)
        zoom = painter.worldTransform().m11()
        painter.setPen(QPen(t.color("node_border"), 0))
        for depth, arr, qrects in levels:
            idx = _cull(arr, rect)
            if len(idx):
                painter.setBrush(QBrush(_frame_fill(t, depth)))
                painter.drawRects(qrects if len(idx) == len(qrects) else [qrects[i] for i in idx])
        idx = _cull(earr, rect)
        if len(idx):
            painter.setPen(QPen(t.color("edge"), 0))
            painter.drawLines(lines if len(idx) == len(lines) else [lines[i] for i in idx])
        painter.setPen(QPen(t.color("node_border"), 0))
        for colour, (arr, qrects) in boxes.items():
            idx = _cull(arr, rect)
            if len(idx):
                fill = QColor(colour)
                fill.setAlpha(150)
                painter.setBrush(QBrush(fill))
                painter.drawRects(qrects if len(idx) == len(qrects) else [qrects[i] for i in idx])
        idx = _cull(farr, rect)
        if len(idx) and zoom > 0.02:
            font = QFont()
            font.setPointSizeF(8.0 / zoom)
            painter.setFont(font)
            painter.setPen(t.color("text"))
            big = idx[(farr[idx, 2] - farr[idx, 0]) * zoom > 150]
            for i in big[:MAX_LABELS]:  # the names of frames wide enough on screen to hold one
                r, name, _ = frames[i]
                painter.drawText(QRectF(r[0] + 8 / zoom, r[1] + 2 / zoom, r[2] - r[0], max(HEAD, 16 / zoom)),
                                 Qt.AlignLeft | Qt.AlignTop, name)


def _frame_fill(theme, depth: int) -> QColor:
    from .block_item import _tint
    return _tint(theme, depth)
