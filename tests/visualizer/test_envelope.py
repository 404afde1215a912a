"""The Curves view's series: smoothing against the textbook recurrence, and the bounded
envelope a long run is drawn from (exact while short; past that, every bucket's lowest and
highest point, so no spike and no part of the range is lost)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.reference.smoothing import debiased_ema
from visualizer.views.envelope import Envelope, ema


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.99])
@pytest.mark.parametrize("n", [1, 7, 256, 257, 5000])
def test_ema_equals_the_recurrence_in_one_pass_and_tail_by_tail(weight, n):
    values = np.random.default_rng(n).standard_normal(n) * 3 + 10
    want = np.array(debiased_ema(values, weight))
    whole, _ = ema(values, weight)
    np.testing.assert_allclose(whole, want, rtol=1e-11, atol=1e-12)
    parts, state = [], (0.0, 0.0)
    cuts = sorted({min(k, n) for k in (1, 3, n // 2, n // 2 + 300)})
    for piece in np.array_split(values, cuts):  # a live curve's tails
        out, state = ema(piece, weight, state)
        parts.append(out)
    np.testing.assert_allclose(np.concatenate(parts), want, rtol=1e-11, atol=1e-12)


def test_ema_past_a_nan_or_an_inf_is_what_the_recurrence_gives():
    for bad in (np.nan, np.inf, -np.inf):
        values = np.r_[np.linspace(1, 2, 300), bad, np.linspace(2, 3, 40)]
        got, _ = ema(values, 0.8)
        want = np.array(debiased_ema(values, 0.8))
        np.testing.assert_allclose(got[:300], want[:300], rtol=1e-12)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~np.isfinite(want)], want[~np.isfinite(want)])


def test_a_short_series_is_kept_exactly():
    env = Envelope(cap=64)
    x, y = np.arange(127.0), np.random.default_rng(1).standard_normal(127)
    for part in np.array_split(np.arange(127), 9):
        env.extend(x[part], y[part])
    px, py = env.points()
    np.testing.assert_array_equal(px, x)
    np.testing.assert_array_equal(py, y)


def test_a_long_series_keeps_every_spike_and_its_range_in_bounded_points():
    rng = np.random.default_rng(2)
    n = 1_000_003
    x, y = np.arange(n, dtype=np.float64), rng.standard_normal(n)
    # spikes farther apart than a bucket (two in one bucket keep only the larger)
    spikes = rng.choice(n // 20_000, 40, replace=False) * 20_000 + rng.integers(0, 10_000, 40)
    y[spikes[:20]] = 50 + np.arange(20)   # high spikes
    y[spikes[20:]] = -50 - np.arange(20)  # low ones
    y[123_457] = np.nan
    env = Envelope(cap=512)
    at = 0
    for size in rng.integers(1, 3000, 2000):  # commits of uneven size, as a live run makes them
        env.extend(x[at:at + size], y[at:at + size])
        at += size
    env.extend(x[at:], y[at:])
    px, py = env.points()
    assert env.count == n
    assert len(px) <= 4 * 512 + env.size  # bounded, whatever n is
    assert np.all(np.diff(px) > 0)  # in step order, each step once
    np.testing.assert_array_equal(py, y[px.astype(np.int64)])  # only points of the series
    assert set(spikes.tolist()) <= set(px.astype(np.int64).tolist())
    assert env.finite_range() == (float(np.nanmin(y)), float(np.nanmax(y)))
    # the range of every stretch a pixel column could show is drawn (to the bucket size)
    width = 4 * env.size
    for start in rng.integers(0, n - width, 50):
        inside = (px >= start) & (px < start + width)
        stretch = y[start:start + width]
        assert np.nanmax(py[inside]) >= np.nanmax(stretch[env.size:-env.size] if width > 2 * env.size else stretch)
