"""Live plot ranges hold still while the data fits them (each change regenerates an axis
and repaints the plot), follow the data when it leaves, and leave a user's zoom alone."""
from __future__ import annotations

import pyqtgraph as pg
import pytest

from visualizer.views.widgets import follow_x, forget_ranges, hold_range, holds, outward


@pytest.fixture
def plot(qtbot):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    yield widget.addPlot()
    widget.close()  # the widget must outlive the test: the plot is its child


def y_range(plot):
    return tuple(plot.getViewBox().viewRange()[1])


def test_outward_rounds_to_a_tenth_of_the_span_and_keeps_zero_floors():
    assert outward(0.0, 1.0, headroom=0.0) == (0.0, 1.0)
    assert outward(0.0013, 0.0042) == (0.001, 0.0045)
    assert outward(-3.2, -0.4) == (-3.5, -0.1)
    assert outward(5.0, 5.0) == (4.5, 5.5)           # a constant: a band around it
    lo, hi = outward(0.0, 0.0)
    assert lo < 0 < hi
    assert holds((0.0, 1.0), 0.2, 0.9) and not holds((0.0, 1.0), 0.2, 0.4) and not holds((0.0, 1.0), -0.1, 0.9)


def test_a_held_range_moves_only_when_the_data_leaves_it_or_fills_under_half(plot):
    hold_range(plot, "y", 0.2, 0.8)
    first = y_range(plot)
    assert first[0] <= 0.2 and 0.8 <= first[1]
    hold_range(plot, "y", 0.25, 0.7)  # inside, more than half: unchanged
    assert y_range(plot) == first
    hold_range(plot, "y", 0.1, 1.4)   # leaves: a new range around it
    grown = y_range(plot)
    assert grown[0] <= 0.1 and 1.4 <= grown[1]
    hold_range(plot, "y", 0.5, 0.55)  # fills a tenth: tightened
    tight = y_range(plot)
    assert tight[0] <= 0.5 and 0.55 <= tight[1] and tight[1] - tight[0] < 0.2


def test_a_range_the_user_zoomed_to_is_kept_until_they_press_auto(plot):
    hold_range(plot, "y", 0.0, 1.0)
    plot.getViewBox().setYRange(0.3, 0.4, padding=0)  # the user's zoom
    hold_range(plot, "y", 0.0, 5.0)
    assert y_range(plot) == pytest.approx((0.3, 0.4))
    plot.getViewBox().enableAutoRange(y=True)         # the plot's auto button
    hold_range(plot, "y", 0.0, 5.0)
    assert y_range(plot)[1] >= 5.0 and not plot.getViewBox().autoRangeEnabled()[1]
    plot.getViewBox().setYRange(0.3, 0.4, padding=0)
    forget_ranges(plot)                               # a new session or layer
    hold_range(plot, "y", 10.0, 20.0)
    assert y_range(plot)[0] <= 10.0 and 20.0 <= y_range(plot)[1] <= 25.0


def test_follow_x_widens_ahead_of_a_growing_series(plot):
    follow_x(plot, 0.0, 100.0, headroom=0.25)
    first = tuple(plot.getViewBox().viewRange()[0])
    assert first[0] == 0.0 and first[1] >= 125.0
    follow_x(plot, 0.0, first[1] - 1, headroom=0.25)  # still inside: unchanged
    assert tuple(plot.getViewBox().viewRange()[0]) == first
    follow_x(plot, 0.0, first[1] + 1, headroom=0.25)
    assert plot.getViewBox().viewRange()[0][1] > first[1] + 1
    follow_x(plot, 0.0, 1000.0, headroom=1 / 16)     # heat maps: a sixteenth ahead
    assert 1000.0 <= plot.getViewBox().viewRange()[0][1] <= 1000.0 * (1 + 1 / 8)


def test_after_the_auto_button_the_range_follows_the_data_again(plot):
    vb = plot.getViewBox()
    plot.plot([0.0, 100.0], [0.0, 1.0])
    follow_x(plot, 0.0, 100.0)
    hold_range(plot, "y", 0.0, 1.0)
    vb.enableAutoRange()   # the auto button (a change of log mode does the same)
    vb.updateAutoRange()   # pyqtgraph fits the data with padding
    follow_x(plot, 0.0, 100.0)
    hold_range(plot, "y", 0.0, 1.0)
    follow_x(plot, 0.0, 400.0)   # the data grows: the range must follow, not stay put
    hold_range(plot, "y", 0.0, 3.0)
    assert vb.viewRange()[0][1] >= 400.0 and vb.viewRange()[1][1] >= 3.0


def test_tiny_and_log_ranges_keep_their_shape():
    lo, hi = outward(1e-14, 3e-14)
    assert 0 < lo <= 1e-14 and 3e-14 <= hi < 4e-14   # not collapsed to (0, 0)
    assert outward(0.0, 3.0, headroom=0.05, zero_floor=False)[0] < 0  # log10 values: 1 is no floor
