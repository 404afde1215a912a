"""The right half of the data dialog: what a data file holds (engine/data/preview.py's
DataPreview), drawn. The summary line, the classes with their counts (the vocabulary for a
text), and a few samples: images as thumbnails, table rows, text or sequence lines."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHeaderView, QLabel, QPlainTextEdit, QScrollArea,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.data.preview import symbol

THUMB = 56          # px: a thumbnail's side
THUMB_COLUMNS = 6
CLASSES_SHOWN = 200


def pixmap(pixels: np.ndarray, side: int = THUMB) -> QPixmap:
    """uint8 H x W (gray) or H x W x 3 pixels as a pixmap ``side`` px wide, without smoothing
    (small images stay sharp squares)."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    fmt, stride = (QImage.Format_Grayscale8, w) if pixels.ndim == 2 else (QImage.Format_RGB888, 3 * w)
    image = QImage(pixels.tobytes(), w, h, stride, fmt).copy()  # copy: the bytes object goes away
    return QPixmap.fromImage(image).scaled(side, side, Qt.KeepAspectRatio, Qt.FastTransformation)


def _thumbnail(pixels: np.ndarray, name: str) -> QWidget:
    """An image with its class name under it."""
    cell = QWidget()
    lay = QVBoxLayout(cell)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(1)
    image = QLabel()
    image.setPixmap(pixmap(pixels))
    image.setFixedSize(THUMB + 4, THUMB + 4)
    image.setAlignment(Qt.AlignCenter)
    caption = QLabel(name if len(name) <= 10 else name[:9] + "…", objectName="muted")
    caption.setAlignment(Qt.AlignCenter)
    caption.setToolTip(name)
    lay.addWidget(image)
    lay.addWidget(caption)
    return cell


class DataFindings(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QLabel("Choose a file or a folder to see what it holds.")
        self.summary.setObjectName("heading")
        self.summary.setWordWrap(True)
        self.details = QLabel()
        self.details.setObjectName("muted")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.classes_title = QLabel()
        self.classes = QTableWidget(0, 3)
        self.classes.verticalHeader().setVisible(False)
        self.classes.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.classes.setSelectionMode(QAbstractItemView.NoSelection)
        self.classes.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.classes.setMaximumHeight(170)
        self.samples_title = QLabel()
        self.thumbs_host = QWidget()
        self.thumbs = QGridLayout(self.thumbs_host)
        self.thumbs.setContentsMargins(0, 0, 0, 0)
        self.thumbs.setSpacing(4)
        self.thumbs.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.thumbs_area = QScrollArea()
        self.thumbs_area.setWidgetResizable(True)
        self.thumbs_area.setWidget(self.thumbs_host)
        self.rows = QTableWidget(0, 0)
        self.rows.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.rows.verticalHeader().setVisible(False)
        self.lines = QPlainTextEdit()
        self.lines.setReadOnly(True)
        self.lines.setLineWrapMode(QPlainTextEdit.NoWrap)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.summary, self.details, self.classes_title, self.classes, self.samples_title,
                  self.thumbs_area, self.rows, self.lines):
            lay.addWidget(w)
        lay.addStretch(1)
        self.show_preview(None)

    # -- what the dialog calls -------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.show_preview(None)
        self.summary.setText(text)

    def show_preview(self, p) -> None:
        """Draw a DataPreview (None: nothing chosen yet)."""
        for w in (self.details, self.classes_title, self.classes, self.samples_title, self.thumbs_area,
                  self.rows, self.lines):
            w.setVisible(False)
        if p is None:
            return
        self.summary.setText(p.summary())
        self.details.setText(self._details(p))
        self.details.setVisible(True)
        self._show_classes(p)
        if p.images:
            self._show_images(p)
        elif p.rows:
            self._show_rows(p)
        elif p.lines:
            self.samples_title.setText("The first samples" if p.info.kind != "text" else
                                       "The first samples (⏎ is a line break, ␣ a space)")
            self.lines.setPlainText("\n".join(p.lines))
            self.lines.setFixedHeight(22 + 18 * min(len(p.lines), 6))
            self.samples_title.setVisible(True)
            self.lines.setVisible(True)

    def thumbnail_count(self) -> int:
        return self.thumbs.count()

    # -- parts ---------------------------------------------------------------------------------
    def _details(self, p) -> str:
        parts = [f"{p.format or 'data'}: {p.path}"]
        if p.normalised:
            parts.append("inputs standardised with the training split's mean and std")
        if p.value_range is not None:
            parts.append(f"targets from {p.value_range[0]:.4g} to {p.value_range[1]:.4g}")
        if p.token_ids and p.info.kind != "text":
            parts.append(f"token ids 0..{p.token_ids - 1}")
        return " · ".join(parts)

    def _show_classes(self, p) -> None:
        names, counts = p.info.class_names, p.class_counts
        if not counts:
            return
        text = p.info.kind == "text"
        total = max(1, sum(counts))
        if text:
            shown = " ".join(symbol(n) for n in names[:120]) + (" …" if len(names) > 120 else "")
            self.classes_title.setText(f"Vocabulary: {len(names)} characters  {shown}")
        else:
            self.classes_title.setText("Samples per class")  # (how many classes: the summary above says)
        self.classes_title.setWordWrap(True)
        self.classes.setHorizontalHeaderLabels(["Character" if text else "Class", "Samples" if not
                                                p.info.target_shape else "Targets", "Share"])
        order = sorted(range(len(names)), key=lambda k: -counts[k]) if text else range(len(names))
        order = list(order)[:CLASSES_SHOWN]
        self.classes.setRowCount(len(order))
        for row, k in enumerate(order):
            for col, value in enumerate((symbol(names[k]) if text else names[k], f"{counts[k]:,}",
                                         f"{100 * counts[k] / total:.1f} %")):
                item = QTableWidgetItem(value)
                if col:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.classes.setItem(row, col, item)
        self.classes.resizeColumnsToContents()
        self.classes.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        rows = min(len(order), 4)
        self.classes.setFixedHeight(self.classes.horizontalHeader().sizeHint().height() + 4 +
                                    rows * self.classes.verticalHeader().defaultSectionSize())
        self.classes_title.setVisible(True)
        self.classes.setVisible(True)

    def _show_images(self, p) -> None:
        while self.thumbs.count():
            self.thumbs.takeAt(0).widget().deleteLater()
        names = p.info.class_names
        for k, (cls, pixels) in enumerate(p.images):
            name = names[cls] if 0 <= cls < len(names) else ""
            self.thumbs.addWidget(_thumbnail(pixels, name), k // THUMB_COLUMNS, k % THUMB_COLUMNS)
        h, w = p.images[0][1].shape[:2]
        what = "of each class" if p.info.target_kind == "class" else "in the file"
        self.samples_title.setText(f"The first images {what} ({w}×{h} pixels)")
        rows = (len(p.images) + THUMB_COLUMNS - 1) // THUMB_COLUMNS
        cell = self.thumbs.itemAtPosition(0, 0).widget().sizeHint().height() + self.thumbs.spacing()
        self.thumbs_area.setMinimumHeight(min(2, rows) * cell + 4)  # squeezed: it scrolls
        self.thumbs_area.setMaximumHeight(rows * cell + 4)
        self.samples_title.setVisible(True)
        self.thumbs_area.setVisible(True)

    def _show_rows(self, p) -> None:
        features = len(p.rows[0][0])
        more = p.info.input_shape[0] > features
        self.rows.setColumnCount(features + 1)
        self.rows.setHorizontalHeaderLabels([*(f"x{i + 1}" for i in range(features)), "target"])
        self.rows.setRowCount(len(p.rows))
        for r, (values, target) in enumerate(p.rows):
            for c, v in enumerate((*(f"{v:.4g}" for v in values), target)):
                self.rows.setItem(r, c, QTableWidgetItem(v))
        self.rows.resizeColumnsToContents()
        self.rows.setFixedHeight(28 + 26 * len(p.rows))
        self.samples_title.setText("The first rows, as read (before standardising)" +
                                   (f"; the first {features} of {p.info.input_shape[0]} features" if more else ""))
        self.samples_title.setVisible(True)
        self.rows.setVisible(True)

    def set_column_names(self, features: list[str], target: str) -> None:
        """Name the rows' columns after the CSV's header: the features in file order, the target."""
        shown = self.rows.columnCount() - 1
        if shown > 0 and len(features) >= shown:
            self.rows.setHorizontalHeaderLabels([*features[:shown], target])
            self.rows.resizeColumnsToContents()
