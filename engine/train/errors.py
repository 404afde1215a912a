"""Errors a training run ends with: each ``str(err)`` is one sentence a user can act on."""
from __future__ import annotations


class TrainError(Exception):
    """A run cannot start or cannot go on. ``kind`` says why, for callers that react
    differently: "device", "data", "oom", "nan", "settings"."""

    def __init__(self, message: str, kind: str = "settings"):
        super().__init__(message)
        self.kind = kind
