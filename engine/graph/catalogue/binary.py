"""Binary layers (XNOR-Net and binary-weight networks, Rastegari et al. 2016)."""
from __future__ import annotations

from ...nn.binary import MODES, BinaryConv2d, BinaryLinear
from .common import INIT_PARAMS, apply_init, weight_flops
from .conv import _check_kernel, _padding
from .spec import LayerType, Param

MODE = Param("mode", "choice", "xnor", '"bwn" binarises the weights to sign(W)·α (α = mean |W| per '
             'output); "xnor" also binarises the inputs to sign(x)·β (β = mean |x| per sample).',
             choices=MODES)
BIAS = Param("bias", "bool", True, "Learn an additive real-valued bias per output.")
_STE = ("Trained with real-valued latent weights and the straight-through estimator; deployed, each "
        "weight is 1 bit (32x smaller than float32).")

LAYERS = [
    LayerType(
        "BinaryDense", "Binary", "Fully connected layer with ±1 weights (scaled per unit). " + _STE,
        params=(Param("units", "int", 64, "Number of output features.", min=1, max=1_000_000),
                MODE, BIAS, *INIT_PARAMS),
        build=lambda p, s: apply_init(BinaryLinear(s[0][-1], p["units"], bias=p["bias"], mode=p["mode"]), p),
        ranks=(1,), expects="(N, features)", flops=weight_flops, probes=("activation", "weights", "binary")),
    LayerType(
        "BinaryConv2d", "Binary", "2-D convolution with ±1 weights (scaled per channel); in xnor mode "
        "the inputs are ±1 too, so the products become XNOR + popcount. " + _STE,
        params=(Param("channels", "int", 16, "Number of output channels (filters).", min=1, max=65536),
                Param("kernel", "int", 3, "Kernel size (square).", min=1, max=64),
                Param("stride", "int", 1, "Step between kernel positions.", min=1, max=64),
                Param("padding", "padding", "same", '"same" keeps the size (stride 1), "valid" adds '
                      "none, or a number of zeros on each side."),
                MODE, BIAS, *INIT_PARAMS),
        build=lambda p, s: apply_init(BinaryConv2d(s[0][0], p["channels"], p["kernel"], stride=p["stride"],
                                                   padding=_padding(p, p["kernel"]), bias=p["bias"],
                                                   mode=p["mode"]), p),
        ranks=(3,), expects="(N, C, H, W)", check=_check_kernel, flops=weight_flops,
        probes=("activation", "weights", "binary")),
]
