"""The layer catalogue: every layer type, defined once, as data.

To add a layer type, add one ``LayerType`` to the ``LAYERS`` list of its category module
(and, if torch lacks the module, a small ``nn.Module`` in ``engine/nn``). The palette,
inspector, shape inference, compiler, probes and docs all read ``CATALOGUE``.
"""
from __future__ import annotations

from . import activations, binary, conv, core, losses, merge, recurrent
from .spec import IN, OUT, LayerType, Param, Port, Shape, fmt_shape

CATEGORY_ORDER = ("Input", "Core", "Convolution", "Pooling", "Normalisation", "Activation", "Merge",
                  "Recurrent", "Binary", "Loss")

CATALOGUE: dict[str, LayerType] = {}
for _module in (core, conv, activations, merge, recurrent, binary, losses):
    for _layer in _module.LAYERS:
        assert _layer.name not in CATALOGUE, f"layer type {_layer.name} defined twice"
        assert _layer.category in CATEGORY_ORDER, f"{_layer.name}: unknown category {_layer.category}"
        CATALOGUE[_layer.name] = _layer


def by_category() -> dict[str, list[LayerType]]:
    """Layer types grouped by category, in palette order."""
    groups: dict[str, list[LayerType]] = {c: [] for c in CATEGORY_ORDER}
    for layer in CATALOGUE.values():
        groups[layer.category].append(layer)
    return {c: v for c, v in groups.items() if v}


__all__ = ["CATALOGUE", "CATEGORY_ORDER", "IN", "OUT", "LayerType", "Param", "Port", "Shape",
           "by_category", "fmt_shape"]
