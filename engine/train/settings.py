"""Training settings: the document's "training" dict over the schema's defaults, plus
overrides from the command line or the worker's job."""
from __future__ import annotations

from ..graph.settings import TRAINING_DEFAULTS, TRAINING_PARAMS
from .errors import TrainError

_BY_NAME = {p.name: p for p in TRAINING_PARAMS}


def resolve_settings(training: dict | None, overrides: dict | None = None) -> dict:
    settings = dict(TRAINING_DEFAULTS)
    for source in (training or {}, overrides or {}):
        for key, value in source.items():
            p = _BY_NAME.get(key)
            if p is None:
                raise TrainError(f"Training setting '{key}' is unknown.")
            problem = p.problem(value)
            if problem:
                raise TrainError(f"Training setting '{key}' {problem}.")
            settings[key] = value
    return settings
