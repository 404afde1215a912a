"""Lessons: the catalogue loads, and every lesson's claim reproduces from a recorded run.

The checks train real networks (engine.lessons.checks); each claim is computed from the
session files the runs wrote. Marked slow: together they take a few minutes on 2 cores.
"""
from __future__ import annotations

import pytest

from engine.graph.shapes import analyse
from engine.lessons import VIEWS, LessonError, list_lessons, load_lesson, load_lesson_template
from engine.lessons.checks import CHECKS, receptive_field, run_check, weight_memory
from engine.lessons.measures import class_selectivity, counter_correlation, flips_near_zero, nyquist_fraction

import numpy as np

LESSON_IDS = [lesson.id for lesson in list_lessons()]


def test_thirteen_lessons_in_course_order():
    lessons = list_lessons()
    assert [x.number for x in lessons] == list(range(1, 14))
    assert len(set(LESSON_IDS)) == 13
    assert set(CHECKS) == set(LESSON_IDS)


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_lesson_loads_with_text_templates_views_and_node(lesson_id):
    loaded = load_lesson(lesson_id)
    assert loaded.text.startswith("# ") and len(loaded.text.split("\n\n")) >= 3
    assert loaded.views and set(loaded.views) <= set(VIEWS)
    assert list(loaded.documents) == list(loaded.lesson.templates)
    for slug, doc in loaded.documents.items():
        assert doc.has_node(loaded.select), f"{slug} has no node {loaded.select!r} to select"
        analysis = analyse(doc)
        assert not analysis.problems, f"{slug}: {analysis.problems[0]}"
        assert doc.dataset.get("name"), f"{slug} names no dataset"


def test_unknown_lesson_is_one_sentence():
    with pytest.raises(LessonError, match="no lesson named 'nope'.*activations"):
        load_lesson("nope")


def test_receptive_field_and_memory_of_the_templates():
    assert receptive_field(load_lesson_template("copy_tcn")) == 31
    xnor, real = weight_memory(load_lesson_template("xnor_net")), weight_memory(load_lesson_template("real_net"))
    assert xnor["params"] == real["params"]
    # 1 bit instead of 32 for every binary weight
    assert xnor["bytes_float32"] - xnor["bytes_packed"] == pytest.approx(xnor["binary_params"] * (4 - 1 / 8))
    assert real["bytes_packed"] == real["bytes_float32"]


def test_measures_on_hand_made_arrays():
    # a checkerboard is all Nyquist energy; a smooth ramp has almost none
    board = np.indices((8, 8)).sum(0) % 2 * 1.0
    ramp = np.add.outer(np.arange(8.0), np.arange(8.0))
    assert nyquist_fraction(board[None, None]) == pytest.approx(1.0)
    assert nyquist_fraction(ramp[None, None]) < 0.1
    # a unit that equals the counter correlates at 1, a constant one at 0
    x = np.eye(3)[[[0, 0, 1, 1, 2], [0, 1, 2, 2, 2]]]
    counter = np.array([[1, 2, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=float)
    states = np.stack([counter, np.ones_like(counter)], axis=-1)
    assert counter_correlation(x, states) == pytest.approx([1.0, 0.0])
    # channel 0 fires only for class 0: selectivity 1; channel 1 fires for both: 0
    maps = np.zeros((4, 2, 2, 2))
    maps[:2, 0] = 1.0
    maps[:, 1] = 1.0
    assert class_selectivity(maps[:, :1], np.array([0, 0, 1, 1])) == pytest.approx(1.0)
    assert class_selectivity(maps[:, 1:], np.array([0, 0, 1, 1])) == pytest.approx(0.0)
    # eight weights, the two nearest zero (|W| <= the 25th percentile) and one far one flip
    latent = np.array([0.01, -0.02, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8])
    after = np.sign(latent) * np.array([-1, -1, 1, 1, 1, 1, 1, -1])
    assert flips_near_zero(latent, np.sign(latent), after) == pytest.approx(2 / 3)
    assert np.isnan(flips_near_zero(latent, np.sign(latent), np.sign(latent)))


@pytest.mark.slow
@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_lesson_claim_reproduces_from_the_recording(lesson_id, tmp_path):
    outcome = run_check(lesson_id, tmp_path)
    assert outcome.claims
    numbers = ", ".join(f"{k}={v:.4g}" for k, v in outcome.metrics.items())
    assert not outcome.failed, f"{lesson_id}: claims failed: {outcome.failed}; measured {numbers}"
