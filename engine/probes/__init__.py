"""Probes: what the user watches while a network trains, measured cheaply and exactly.

:class:`ProbeSet` is a Trainer callback that writes records to a SessionWriter (record
names: docs/probes.md). Cheap statistics and heavy captures (feature maps, recurrent
gates, gradients through time, on a fixed probe batch) follow a schedule by step
(:mod:`.settings`), and run beside training where there is room (:mod:`.offpath`,
:mod:`.process`). :mod:`.diagnostics` turns the numbers into advice.
"""
from .diagnostics import Diagnostic, Diagnostician, Thresholds
from .recorder import ProbeSet
from .settings import ProbeSettings, ProbeSettingsError

__all__ = ["Diagnostic", "Diagnostician", "ProbeSet", "ProbeSettings", "ProbeSettingsError", "Thresholds"]
