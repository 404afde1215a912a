"""Building blocks shared by the views: a hint page, heat maps with colour bars, image
mosaics, and look-ups in the session's graph document."""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSpinBox, QStackedWidget, QWidget

from .style import colormap

NO_DATA = "No data recorded yet."


ROW_PX = 6  # the thinnest heat-map row still read as a row


def legible_height(rows: int) -> int:
    """The height a heat map of ``rows`` rows needs, with its title and axis."""
    return ROW_PX * rows + 75


class Legible(QScrollArea):
    """Content that keeps the height it needs to be read (no heat-map row under ~6 px, no
    plot squashed flat): a pane smaller than that scrolls instead of shrinking it."""

    def __init__(self, content: QWidget, min_height: int = 0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setWidget(content)
        self.set_min_height(min_height)

    def set_min_height(self, height: int) -> None:
        content = self.widget()
        content.setMinimumHeight(int(height))
        layout = getattr(content, "ci", None)  # a plot grid cannot be narrower than its plots' titles and axes
        if layout is not None:
            content.setMinimumWidth(int(layout.minimumWidth()))


class HintStack(QStackedWidget):
    """Either a centred hint sentence or the view's content (kept legible: it scrolls in a
    pane too small for it, see ``set_min_height``)."""

    def __init__(self, content: QWidget, parent: QWidget | None = None, min_height: int = 0):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setAlignment(Qt.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setMargin(16)
        self.label.setObjectName("hint")
        self.label.setTextFormat(Qt.PlainText)  # hints name nodes and datasets from a file
        self.scroll = Legible(content, min_height)
        self.addWidget(self.label)
        self.addWidget(self.scroll)

    def set_min_height(self, height: int) -> None:
        self.scroll.set_min_height(height)

    def hint(self, text: str) -> None:
        self.label.setText(text)
        self.setCurrentIndex(0)

    def content(self) -> None:
        self.setCurrentIndex(1)

    @property
    def hint_text(self) -> str | None:
        """The hint shown, or None when the content is."""
        return self.label.text() if self.currentIndex() == 0 else None


def node_type(reader, node_id: str | None) -> str | None:
    """The layer type of ``node_id`` in the graph the session was recorded from."""
    if reader is None or node_id is None:
        return None
    for node in (reader.graph or {}).get("nodes", []):
        if isinstance(node, dict) and node.get("id") == node_id:
            return node.get("type")
    return None


def loss_type(reader) -> str | None:
    for node in (reader.graph or {}).get("nodes", []) if reader is not None else []:
        if isinstance(node, dict) and node.get("type") in LOSS_TYPES:
            return node["type"]
    return None


LOSS_TYPES = ("CrossEntropy", "BinaryCrossEntropy", "MSE", "L1", "Huber")


def class_names(reader) -> list[str]:
    info = (reader.dataset_info or {}) if reader is not None else {}
    return [str(c) for c in info.get("class_names") or []]


def symbol_label(name: str) -> str:
    """A class name as it reads on an axis: whitespace made visible."""
    return {"\n": "⏎", " ": "␣", "\t": "⇥", "": "∅"}.get(name, name)


def symmetric_levels(arr: np.ndarray) -> tuple[float, float]:
    finite = arr[np.isfinite(arr)]
    m = float(np.abs(finite).max()) if finite.size else 0.0
    m = m if m > 0 else 1.0
    return -m, m


def range_levels(arr: np.ndarray) -> tuple[float, float]:
    finite = arr[np.isfinite(arr)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def units_by_time(record: np.ndarray) -> np.ndarray:
    """One sequence's per-step values (T, H) -> units x time (H, T); a ConvLSTM's
    (T, C, H, W) is averaged over the pixels of each channel."""
    a = record.astype(np.float32)
    if a.ndim > 2:
        a = a.reshape(a.shape[0], a.shape[1], -1).mean(axis=2)
    return np.ascontiguousarray(a.T)


def probe_picker(label: str, tooltip: str, on_change) -> tuple[QSpinBox, QHBoxLayout]:
    """The bar above a per-sample view: which sample of the fixed probe batch to show."""
    spin = QSpinBox()
    spin.setToolTip(tooltip)
    spin.valueChanged.connect(lambda _v: on_change())
    bar = QHBoxLayout()
    bar.addWidget(QLabel(label))
    bar.addWidget(spin)
    return spin, bar


def outward(lo: float, hi: float, headroom: float = 0.1, zero_floor: bool = True) -> tuple[float, float]:
    """[lo, hi] widened by ``headroom`` of its span on each side and rounded outward to a
    tenth of the span's decade; with ``zero_floor`` (not for log10 values) a range from
    zero stays from zero."""
    span = hi - lo
    if not (math.isfinite(lo) and math.isfinite(hi)) or span < 0:
        return lo, hi
    if span == 0:
        span = abs(hi) or 1.0
    q = 10.0 ** math.floor(math.log10(span / 10))
    a = math.floor((lo - headroom * span) / q + 1e-9) * q
    b = math.ceil((hi + headroom * span) / q - 1e-9) * q
    if zero_floor and lo >= 0 > a and hi > 0:
        a = 0.0
    if zero_floor and hi <= 0 < b and lo < 0:
        b = 0.0
    # 12 significant digits: clean multiples of q (0.30000000000000004 -> 0.3) at any scale
    return float(f"{a:.12g}"), float(f"{b:.12g}")


def holds(shown: tuple[float, float] | None, lo: float, hi: float) -> bool:
    """True if a shown range (or colour levels) still suits data spanning [lo, hi]: the
    data lies within it and fills at least half of it."""
    return (shown is not None and shown[0] <= lo and hi <= shown[1]
            and hi - lo >= 0.5 * (shown[1] - shown[0]))


def _user_moved(plot: pg.PlotItem, axis: int) -> bool:
    """True if the user zoomed or panned ``axis`` (0: x, 1: y) away from the range last
    set by :func:`hold_range` / :func:`follow_x`; pressing the plot's auto button hands
    the axis back (auto range, also switched on by a change of log mode, is switched off
    again here and the held range dropped, so the caller sets a fresh one)."""
    vb = plot.getViewBox()
    key = f"_held_{'xy'[axis]}"
    if vb.autoRangeEnabled()[axis]:
        vb.enableAutoRange(**{"xy"[axis]: False})
        setattr(plot, key, None)
        return False
    shown = getattr(plot, key, None)
    if shown is None:
        return False
    tolerance = 1e-6 * (abs(shown[1] - shown[0]) or 1.0)
    return any(abs(a - b) > tolerance for a, b in zip(vb.viewRange()[axis], shown))


def _set_range(plot: pg.PlotItem, axis: int, lo: float, hi: float) -> None:
    vb = plot.getViewBox()
    if axis == 0:
        vb.setXRange(lo, hi, padding=0)
    else:
        vb.setYRange(lo, hi, padding=0)
    setattr(plot, f"_held_{'xy'[axis]}", tuple(vb.viewRange()[axis]))


def hold_range(plot: pg.PlotItem, axis: str, lo: float, hi: float) -> None:
    """Keep data spanning [lo, hi] (view coordinates: log10 on a log axis) in view on
    ``axis`` ('x' or 'y') with a range that changes only when the data leaves it or fills
    less than half of it. Live data moves a little with every capture; pyqtgraph's auto
    range would follow it at paint time, regenerate the axis and paint the plot a second
    time, on every frame. A range the user zoomed or panned to is left alone."""
    i = "xy".index(axis)
    if not (math.isfinite(lo) and math.isfinite(hi)) or _user_moved(plot, i):
        return
    if not holds(getattr(plot, f"_held_{axis}", None), lo, hi):
        log = plot.getViewBox().state["logMode"][i]
        _set_range(plot, i, *(outward(lo, hi, headroom=0.05, zero_floor=False) if log else outward(lo, hi)))


def forget_ranges(*plots: pg.PlotItem) -> None:
    """A new session or layer: drop the held ranges and any zoom the user made, back to
    ranges fitted to the new data."""
    for plot in plots:
        plot._held_x = plot._held_y = None
        plot.getViewBox().enableAutoRange()


def follow_x(plot: pg.PlotItem, lo: float, hi: float, headroom: float = 0.25) -> None:
    """Keep [lo, hi] in view as a live series grows to the right: the x range starts at
    ``lo`` and widens ``headroom`` of its span ahead of the data, so it changes only every
    few captures instead of with each (each change regenerates the axis). Curves grow into
    a quarter, heat maps over training into a sixteenth; with no headroom (the run is
    over) the range fits the data. A range the user zoomed or panned to is left alone."""
    if _user_moved(plot, 0):
        return
    shown = getattr(plot, "_held_x", None)
    if headroom <= 0:
        if shown != (lo, max(hi, lo + 1.0)):
            _set_range(plot, 0, lo, max(hi, lo + 1.0))
        return
    if (shown is not None and shown[0] == lo and hi <= shown[1]
            and hi - lo >= (1 - 2 * headroom) * (shown[1] - lo)):
        return
    span = max(hi - lo, 1.0)
    q = 10.0 ** math.floor(math.log10(span * headroom))
    _set_range(plot, 0, lo, lo + math.ceil((hi + span * headroom - lo) / q) * q)


class HeatMap:
    """A plot holding one row-major image and a colour bar, created once and updated in
    place. ``set(values)`` takes a 2-D array (rows along y, columns along x)."""

    def __init__(self, layout: pg.GraphicsLayout, row: int, col: int, title: str, x_label: str,
                 y_label: str, bar_label: str, cmap: pg.ColorMap | str = "viridis"):
        # No context menu: building pyqtgraph's costs ~10 ms a plot (the gates view has six)
        self.plot: pg.PlotItem = layout.addPlot(row=row, col=col, title=title, enableMenu=False)
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        cmap = colormap(cmap) if isinstance(cmap, str) else cmap
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, label=bar_label, interactive=False,
                                   width=14)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self.values: np.ndarray | None = None  # what is drawn, before colour mapping
        self._levels: tuple[float, float] | None = None

    def set(self, values: np.ndarray, rect: tuple[float, float, float, float] | None = None,
            levels: tuple[float, float] | None = None) -> None:
        """``rect`` = (x, y, width, height) in data units; default one unit per cell."""
        arr = np.ascontiguousarray(values, dtype=np.float32)
        self.values = arr
        lo, hi = levels if levels is not None else range_levels(arr)
        # Live levels move a little with every capture and each change redraws the bar's
        # axis: keep them while the data fits and uses half of them.
        if not holds(self._levels, lo, hi):
            self._levels = outward(lo, hi, headroom=0.0)
            self.bar.setLevels(values=self._levels)
        self.image.setImage(arr, levels=self._levels, autoLevels=False)
        h, w = arr.shape[:2]
        x, y, rw, rh = rect if rect is not None else (0.0, 0.0, float(w), float(h))
        self.image.setRect(QRectF(x, y, rw, rh))

    def clear(self) -> None:
        self.values = None
        self.image.clear()
        self._levels = None
        forget_ranges(self.plot)


class Mosaic:
    """Many same-sized 2-D tiles laid out in a grid in one image (one item, one draw),
    separated by NaN gaps that render transparent."""

    def __init__(self, n: int, h: int, w: int, cols: int | None = None, gap: int = 1):
        self.n, self.h, self.w, self.gap = n, h, w, gap
        self.cols = cols or max(1, math.ceil(math.sqrt(n)))
        self.rows = max(1, math.ceil(n / self.cols))
        self.shape = (self.rows * (h + gap) - gap, self.cols * (w + gap) - gap)

    def origin(self, k: int) -> tuple[int, int]:
        """(row, col) pixel of tile ``k``'s top-left corner."""
        r, c = divmod(k, self.cols)
        return r * (self.h + self.gap), c * (self.w + self.gap)

    def assemble(self, tiles: np.ndarray) -> np.ndarray:
        out = np.full(self.shape, np.nan, dtype=np.float32)
        for k in range(min(self.n, len(tiles))):
            r, c = self.origin(k)
            out[r:r + self.h, c:c + self.w] = tiles[k]
        return out

    def tile(self, image: np.ndarray, k: int) -> np.ndarray:
        r, c = self.origin(k)
        return image[r:r + self.h, c:c + self.w]


_UNSET = object()


def _changed(obj, key: str, value) -> bool:
    """Remember ``value`` under ``key`` on ``obj``; False if it was already shown. Setting
    a title, label, ticks or text re-lays out or regenerates the item even when nothing
    changed, on every frame otherwise."""
    if getattr(obj, key, _UNSET) == value:
        return False
    setattr(obj, key, value)
    return True


def set_text(item: pg.TextItem, text: str, color) -> None:
    """TextItem.setText, skipped when unchanged (HTML is laid out again on each call)."""
    if _changed(item, "_shown", (text, color)):
        item.setText(text, color=color)


def plain_label(text: str = " ") -> QLabel:
    """A label for text that may come from a file (node ids, dataset and class names):
    shown as written, never read as HTML."""
    label = QLabel(text)
    label.setTextFormat(Qt.PlainText)
    return label


def legend_title(title: str, entries) -> str:
    """A plot title that names its lines in their colours: a legend inside the plot sits
    on the data. ``entries``: (label, (r, g, b)) pairs; labels are escaped (class names come
    from files)."""
    keys = "&nbsp;&nbsp;".join(f"<span style='color: rgb{tuple(c)}'>━ {html.escape(str(label))}</span>"
                               for label, c in entries)
    return f"{title}&nbsp;&nbsp;&nbsp;{keys}" if title else keys


def set_title(plot: pg.PlotItem, text: str) -> None:
    if _changed(plot, "_shown_title", text):
        plot.setTitle(text)
        loosen_title(plot)


def loosen_title(plot: pg.PlotItem) -> None:
    """A title sets its plot's minimum width; in a narrow pane a long one pushed the plots
    out of sight (a 2 x 2 grid at 1280 x 720 laid the Predictions out 1170 pixels wide).
    Let it be cut at the pane's edge instead. pyqtgraph's LabelItem sets its minimum to its
    text again on every resize (updateMin), so that is where it is undone."""
    label = plot.titleLabel
    if getattr(label, "_loose", False):
        label.setMinimumWidth(0)
        return
    measure = label.updateMin

    def update_min():
        measure()
        label.setMinimumWidth(0)
        label._sizeHint[Qt.SizeHint.MinimumSize] = (0, label._sizeHint[Qt.SizeHint.MinimumSize][1])

    label.updateMin = update_min
    label._loose = True
    update_min()


def set_ticks(axis: pg.AxisItem, ticks) -> None:
    """AxisItem.setTicks, skipped when unchanged (new ticks regenerate the axis picture)."""
    if _changed(axis, "_shown_ticks", ticks):
        axis.setTicks(ticks)


def set_label(plot, side: str, text: str) -> None:
    if _changed(plot, f"_shown_label_{side}", text):
        plot.setLabel(side, text)


def image_plot(layout: pg.GraphicsLayout, row: int, col: int, title: str = "") -> pg.PlotItem:
    """A plot for pictures: y pointing down, square pixels, no axes."""
    plot = layout.addPlot(row=row, col=col, title=title)
    plot.invertY(True)
    plot.setAspectLocked(True)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.setMenuEnabled(False)
    return plot


def picture(x: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """A recorded input sample (C, H, W) -> (H, W) grey or (H, W, 3) colour image and
    levels spanning its values (inputs are normalised, so not [0, 1])."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[0] == 3:
        arr = np.moveaxis(arr, 0, -1)
    elif arr.ndim == 3:
        arr = arr[0]
    return np.ascontiguousarray(arr), range_levels(arr)
