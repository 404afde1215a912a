"""The Predictions view on well-formed sessions whose records have shapes no run of ours
writes (issue 22: a probe batch of unexpected rank raised ValueError, once a segfault): the
view shows a hint and keeps working, it never raises."""
from __future__ import annotations

import numpy as np
import pytest

from engine.session import SessionReader, SessionWriter
from visualizer.views.predictions import PredictionsView

F = np.float32
CASES = {
    # kind, classify, x, y, predictions, confusion
    "image x of rank 1": ("image", True, np.zeros(4, F), np.zeros(4, np.int64), np.zeros((4, 3), F), None),
    "image x of rank 5": ("image", True, np.zeros((2, 1, 1, 3, 3), F), np.zeros(2, np.int64), np.zeros((2, 3), F), None),
    "image of zero width": ("image", True, np.zeros((2, 1, 3, 0), F), np.zeros(2, np.int64), np.zeros((2, 3), F), None),
    "image labels of rank 2": ("image", True, np.zeros((2, 1, 3, 3), F), np.zeros((2, 2), np.int64), np.zeros((2, 3), F), None),
    "image predictions of rank 1": ("image", True, np.zeros((2, 1, 3, 3), F), np.zeros(2, np.int64), np.zeros(2, F), None),
    "fewer predictions than images": ("image", True, np.zeros((4, 1, 3, 3), F), np.zeros(4, np.int64), np.zeros((1, 3), F), None),
    "video x of rank 3": ("video", False, np.zeros((2, 3, 3), F), np.zeros((2, 1, 3, 3), F), np.zeros((2, 1, 3, 3), F), None),
    "video frames that differ": ("video", False, np.zeros((2, 2, 1, 3, 3), F), np.zeros((2, 1, 4, 4), F), np.zeros((2, 1, 3, 3), F), None),
    "forecast of another length": ("sequence", False, np.zeros((2, 5, 1), F), np.zeros((2, 3), F), np.zeros((2, 2), F), None),
    "forecast x of rank 1": ("sequence", False, np.zeros(2, F), np.zeros((2, 1), F), np.zeros((2, 1), F), None),
    "sequence predictions of rank 1": ("sequence", True, np.zeros((2, 4, 3), F), np.zeros((2, 4), np.int64), np.zeros(3, F), None),
    "sequence predictions of rank 2": ("sequence", True, np.zeros((2, 4, 3), F), np.zeros((2, 4), np.int64), np.zeros((2, 3), F), None),
    "table predictions of rank 0": ("table", True, np.zeros((2, 3), F), np.zeros(2, np.int64), np.zeros((), F), None),
    "confusion of rank 1": ("table", True, np.zeros((2, 3), F), np.zeros(2, np.int64), np.zeros((2, 3), F), np.zeros(3, np.int64)),
    "confusion not square": ("table", True, np.zeros((2, 3), F), np.zeros(2, np.int64), np.zeros((2, 3), F), np.zeros((3, 2), np.int64)),
    "empty confusion": ("table", True, np.zeros((2, 3), F), np.zeros(2, np.int64), np.zeros((2, 3), F), np.zeros((0, 0), np.int64)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_records_of_unexpected_shapes_give_a_hint_not_an_error(qtbot, tmp_path, case):
    kind, classify, x, y, pred, conf = CASES[case]
    path = tmp_path / "odd.session"
    info = {"kind": kind, "target_kind": "class" if classify else "value",
            "class_names": ["a", "b", "c"], "input_shape": list(x.shape[1:])}
    with SessionWriter(path, {}, {}, info) as w:
        w.probe_batch(x, y)
        w.tensor("predictions", 1, pred)
        if conf is not None:
            w.tensor("val/confusion", 1, conf)
    view = PredictionsView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    with SessionReader(path) as reader:
        view.set_reader(reader)
        view.show_step(1)   # must not raise
        view.grab()         # and must paint
        assert "records have shapes this view cannot show" in (view.stack.hint_text or "")
        view.set_reader(None)


def test_text_from_a_file_is_shown_as_written_never_as_html(qtbot, tmp_path):
    """Class names and dataset names come from files: markup in them is shown, not run
    (a label reading '<img src=...>' as HTML would load a local file)."""
    from PySide6.QtCore import Qt

    from visualizer.views.boundary import DecisionBoundaryView
    from visualizer.views.widgets import legend_title
    evil = "<img src='file:///etc/hostname'><b>x</b>"
    path = tmp_path / "names.session"
    info = {"name": evil, "kind": "table", "target_kind": "class", "class_names": [evil, "b"],
            "input_shape": [3]}
    with SessionWriter(path, {}, {}, info) as w:
        w.probe_batch(np.zeros((2, 3), F), np.zeros(2, np.int64))
        w.tensor("predictions", 1, np.zeros((2, 2), F))
    view = DecisionBoundaryView()
    qtbot.addWidget(view)
    with SessionReader(path) as reader:
        view.set_reader(reader)
        view.show_step(1)
        assert evil in view.stack.hint_text  # the dataset's name, as written
        assert view.stack.label.textFormat() == Qt.PlainText
        view.set_reader(None)
    title = legend_title("Classes", [(evil, (1, 2, 3))])
    assert "<img" not in title and "&lt;img" in title
