"""Fuzzing profiles. CI runs a fixed, derandomised number of examples per target (a minute
or two in all); bench/fuzz_long.py runs the same targets with NEUROSTUDIO_FUZZ=long, more
examples and fresh random seeds."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much, HealthCheck.large_base_example])
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False,
                          max_examples=int(os.environ.get("NEUROSTUDIO_FUZZ_EXAMPLES", "2000")), **_COMMON)
settings.load_profile(os.environ.get("NEUROSTUDIO_FUZZ", "ci"))

LONG = os.environ.get("NEUROSTUDIO_FUZZ") == "long"


def examples(ci: int) -> int:
    """Examples for one target: ``ci`` in CI, the long run's count otherwise."""
    return settings().max_examples if LONG else ci


@pytest.fixture(autouse=True)
def small_data_limits(monkeypatch):
    """Dataset limits scaled down, so that 'refused before allocating' is visible in the
    traced peak (a file that made us allocate past them would fail the memory check)."""
    import engine.data.limits as limits
    monkeypatch.setattr(limits, "MAX_DATA_BYTES", 64 << 20)
