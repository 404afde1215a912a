"""Activation functions (no weights)."""
from __future__ import annotations

from torch import nn

from ...nn.conv import Maxout
from .common import elementwise_flops
from .spec import LayerType, Param


def _act(name, help_text, build, params=(), probes=("activation",), output_range=(None, None)):
    return LayerType(name, "Activation", help_text, params=params, build=build, flops=elementwise_flops,
                     probes=probes, output_range=output_range, pure=True)


def _maxout_check(p, s):
    if s[0][0] % p["pieces"]:
        return f"its input features/channels ({s[0][0]}) must be a multiple of pieces = {p['pieces']}"
    return None


LAYERS = [
    _act("ReLU", "max(0, x). Units stuck at 0 for every input are 'dead'.", lambda p, s: nn.ReLU(),
         probes=("activation", "dead_units"), output_range=(0.0, None)),
    _act("LeakyReLU", "x for x > 0, slope·x otherwise: no dead units.",
         lambda p, s: nn.LeakyReLU(p["slope"]),
         params=(Param("slope", "float", 0.01, "Slope for negative inputs.", min=0.0, max=1.0),)),
    _act("ELU", "x for x > 0, α(eˣ − 1) otherwise.", lambda p, s: nn.ELU(p["alpha"]),
         params=(Param("alpha", "float", 1.0, "Saturation value for negative inputs.", min=0.0),)),
    _act("SELU", "Scaled ELU; self-normalising with LeCun-normal init.", lambda p, s: nn.SELU()),
    _act("Sigmoid", "1 / (1 + e⁻ˣ); saturates (gradient ≈ 0) for large |x|.", lambda p, s: nn.Sigmoid(),
         probes=("activation", "saturation"), output_range=(0.0, 1.0)),
    _act("Tanh", "tanh(x); zero-centred, saturates for large |x|.", lambda p, s: nn.Tanh(),
         probes=("activation", "saturation"), output_range=(-1.0, 1.0)),
    _act("SiLU", "Swish: x · sigmoid(x).", lambda p, s: nn.SiLU()),
    _act("GELU", "x · Φ(x), the Gaussian error linear unit.", lambda p, s: nn.GELU()),
    LayerType("Maxout", "Activation", "Maximum over groups of `pieces` consecutive features or channels.",
              params=(Param("pieces", "int", 2, "Features per group.", min=1, max=64),),
              build=lambda p, s: Maxout(p["pieces"]), check=_maxout_check, flops=elementwise_flops, pure=True),
    _act("Softmax", "Normalises the last dimension into probabilities (do not put it before "
         "CrossEntropy, which applies its own).", lambda p, s: nn.Softmax(dim=-1), output_range=(0.0, 1.0)),
]
