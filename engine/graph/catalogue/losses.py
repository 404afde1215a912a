"""Loss nodes: the graph's output. The target comes from the dataset."""
from __future__ import annotations

from ...nn import losses
from .spec import LayerType, Param


def _loss(name, help_text, build, target, params=()):
    return LayerType(name, "Loss", help_text, params=params, build=build, role="loss", outputs=(),
                     probes=(), target=target)


LAYERS = [
    _loss("CrossEntropy", "Softmax cross-entropy on logits against class ids; per time step for "
          "(N, T, C) outputs.", lambda p, s: losses.CrossEntropy(), "class"),
    _loss("BinaryCrossEntropy", "Binary cross-entropy on logits against 0/1 targets.",
          lambda p, s: losses.BinaryCrossEntropy(), "value"),
    _loss("MSE", "Mean squared error (L2) against target values.", lambda p, s: losses.MSE(), "value"),
    _loss("L1", "Mean absolute error against target values.", lambda p, s: losses.L1(), "value"),
    _loss("Huber", "Smooth L1: squared near zero, absolute beyond delta.",
          lambda p, s: losses.Huber(p["delta"]), "value",
          params=(Param("delta", "float", 1.0, "Where the loss turns from squared to absolute.", min=1e-6),)),
]
