"""Convolution, pooling, upsampling and normalisation layers."""
from __future__ import annotations

from torch import nn

from ...nn.conv import CausalConv1d, GlobalAvgPool
from .common import INIT_PARAMS, apply_init, prod, weight_flops
from .spec import LayerType, Param


def _padding(p, k):
    pad = p["padding"]
    if pad == "valid":
        return 0
    if pad == "same":
        return "same" if p.get("stride", 1) == 1 else p.get("dilation", 1) * (k - 1) // 2
    return pad


def _conv_params(kernel=3, extra=()):
    return (
        Param("channels", "int", 16, "Number of output channels (filters).", min=1, max=65536),
        Param("kernel", "int", kernel, "Kernel size (square for 2-D).", min=1, max=64),
        Param("stride", "int", 1, "Step between kernel positions.", min=1, max=64),
        Param("padding", "padding", "same", '"same" keeps the size (stride 1), "valid" adds none, '
              "or a number of zeros on each side."),
        Param("dilation", "int", 1, "Spacing between kernel taps (à trous).", min=1, max=64),
        *extra,
        Param("bias", "bool", True, "Learn an additive bias per channel."),
        *INIT_PARAMS,
    )


GROUPS = Param("groups", "int", 1, "Split channels into this many independent groups "
               "(ResNeXt cardinality; groups = channels is depthwise).", min=1, max=65536)


def _check_groups(p, s):
    c_in = s[0][0]
    if c_in % p["groups"] or p["channels"] % p["groups"]:
        return (f"groups={p['groups']} must divide both the input channels ({c_in}) and the output "
                f"channels ({p['channels']})")
    return _check_kernel(p, s)


def _check_kernel(p, s):
    spatial = s[0][1:]
    pad = p.get("padding", 0)
    padding = 0 if pad in ("same", "valid") else pad
    reach = p.get("dilation", 1) * (p["kernel"] - 1) + 1
    if pad != "same" and any(d + 2 * padding < reach for d in spatial):
        return (f"its kernel spans {reach} positions but the padded input is only "
                f"{'x'.join(str(d + 2 * padding) for d in spatial)}")
    return None


def _conv(cls):
    def build(p, s):
        return apply_init(cls(s[0][0], p["channels"], p["kernel"], stride=p["stride"],
                              padding=_padding(p, p["kernel"]), dilation=p["dilation"],
                              groups=p.get("groups", 1), bias=p["bias"]), p)
    return build


def _pool_check(p, s):
    pad = p.get("padding", 0)
    if 2 * pad > p["kernel"]:
        return f"its padding {pad} must be at most half its window {p['kernel']}"
    if any(d + 2 * pad < p["kernel"] for d in s[0][1:]):
        padded = "x".join(str(d + 2 * pad) for d in s[0][1:])
        return f"its window {p['kernel']} is larger than the {'padded ' if pad else ''}input {padded}"
    return None


def _pool(kind: str, dims: int):
    cls = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d,
           ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}[kind, dims]
    return LayerType(
        f"{kind.capitalize()}Pool{dims}d", "Pooling",
        f"{'Maximum' if kind == 'max' else 'Average'} over {'windows' if dims == 1 else 'square windows'} "
        f"of each channel.",
        params=(Param("kernel", "int", 2, "Window size.", min=1, max=64),
                Param("stride", "int", None, "Step between windows (empty: the window size).", min=1,
                      nullable=True),
                # Inception's pool branch: window 3, stride 1, padding 1 keeps the size.
                Param("padding", "int", 0, "Values added on each side (zeros for average, ignored "
                      "for max); at most half the window.", min=0, max=32)),
        build=lambda p, s: cls(p["kernel"], stride=p["stride"] or p["kernel"], padding=p["padding"]),
        ranks=(dims + 1,), expects="(N, C, L)" if dims == 1 else "(N, C, H, W)", check=_pool_check,
        flops=lambda p, s, o, m: prod(o) * p["kernel"] ** dims, probes=("activation",), pure=True)


def _upsample_build(p, s):
    mode = p["mode"]
    return nn.Upsample(scale_factor=p["scale"], mode=mode,
                       align_corners=False if mode == "bilinear" else None)


def _pixel_shuffle_check(p, s):
    r2 = p["scale"] ** 2
    if s[0][0] % r2:
        return f"its input channels ({s[0][0]}) must be a multiple of scale² = {r2}"
    return None


LAYERS = [
    LayerType("Conv1d", "Convolution", "1-D convolution over (N, C, L), e.g. sequences as channels x time.",
              params=_conv_params(3, (GROUPS,)), build=_conv(nn.Conv1d), ranks=(2,), expects="(N, C, L)",
              check=_check_groups, flops=weight_flops, probes=("activation", "weights", "feature_maps")),
    LayerType("Conv2d", "Convolution", "2-D convolution over images (N, C, H, W).",
              params=_conv_params(3, (GROUPS,)), build=_conv(nn.Conv2d), ranks=(3,), expects="(N, C, H, W)",
              check=_check_groups, flops=weight_flops,
              probes=("activation", "weights", "feature_maps", "filters")),
    LayerType("CausalConv1d", "Convolution", "Dilated causal 1-D convolution (TCN): output t sees only "
              "inputs up to t; the length is kept.",
              params=(Param("channels", "int", 32, "Number of output channels.", min=1, max=65536),
                      Param("kernel", "int", 3, "Kernel size.", min=1, max=64),
                      Param("dilation", "int", 1, "Spacing between taps; TCNs double it per layer.", min=1,
                            max=4096),
                      Param("bias", "bool", True, "Learn an additive bias per channel."), *INIT_PARAMS),
              build=lambda p, s: apply_init(CausalConv1d(s[0][0], p["channels"], p["kernel"], p["dilation"],
                                                         p["bias"]), p),
              ranks=(2,), expects="(N, C, L)", flops=weight_flops,
              probes=("activation", "weights", "feature_maps")),
    LayerType("ConvTranspose2d", "Convolution", "Transposed ('de-') convolution: learned upsampling. "
              "Kernel 4 with stride 2 doubles the size; uneven kernel/stride overlap makes checkerboards.",
              params=(Param("channels", "int", 16, "Number of output channels.", min=1, max=65536),
                      Param("kernel", "int", 4, "Kernel size.", min=1, max=64),
                      Param("stride", "int", 2, "Upsampling factor.", min=1, max=64),
                      Param("padding", "int", 1, "Zeros removed from each side of the output.", min=0),
                      Param("bias", "bool", True, "Learn an additive bias per channel."), *INIT_PARAMS),
              build=lambda p, s: apply_init(nn.ConvTranspose2d(s[0][0], p["channels"], p["kernel"],
                                                               stride=p["stride"], padding=p["padding"],
                                                               bias=p["bias"]), p),
              ranks=(3,), expects="(N, C, H, W)", flops=weight_flops,
              probes=("activation", "weights", "feature_maps")),
    LayerType("Upsample", "Convolution", "Resizes images by a whole factor (nearest or bilinear); "
              "follow it with a Conv2d for resize-then-convolve upsampling.",
              params=(Param("scale", "int", 2, "Upsampling factor.", min=1, max=16),
                      Param("mode", "choice", "nearest", "Interpolation.", choices=("nearest", "bilinear"))),
              build=_upsample_build, ranks=(3,), expects="(N, C, H, W)", probes=("activation",)),
    LayerType("PixelShuffle", "Convolution", "Sub-pixel convolution (Shi et al. 2016): rearranges "
              "(C·r², H, W) into (C, H·r, W·r).",
              params=(Param("scale", "int", 2, "Upscale factor r.", min=1, max=16),),
              build=lambda p, s: nn.PixelShuffle(p["scale"]), ranks=(3,), expects="(N, C, H, W)",
              check=_pixel_shuffle_check, probes=("activation",)),
    _pool("max", 1), _pool("max", 2), _pool("avg", 1), _pool("avg", 2),
    LayerType("GlobalAvgPool", "Pooling", "Averages each channel over all positions: (N, C, ...) -> (N, C).",
              build=lambda p, s: GlobalAvgPool(), ranks=(2, 3), expects="(N, C, L) or (N, C, H, W)",
              flops=lambda p, s, o, m: prod(s[0]), probes=("activation",)),
    LayerType("BatchNorm1d", "Normalisation", "Normalises each feature over the batch, then scales and shifts.",
              params=(Param("momentum", "float", 0.1, "Running-statistics momentum.", min=0.0, max=1.0),),
              build=lambda p, s: nn.BatchNorm1d(s[0][0], momentum=p["momentum"]), ranks=(1, 2),
              expects="(N, C) or (N, C, L)", flops=lambda p, s, o, m: 2 * prod(o),
              probes=("activation", "weights")),
    LayerType("BatchNorm2d", "Normalisation", "Normalises each channel over batch and positions, then "
              "scales and shifts.",
              params=(Param("momentum", "float", 0.1, "Running-statistics momentum.", min=0.0, max=1.0),),
              build=lambda p, s: nn.BatchNorm2d(s[0][0], momentum=p["momentum"]), ranks=(3,),
              expects="(N, C, H, W)", flops=lambda p, s, o, m: 2 * prod(o), probes=("activation", "weights")),
    LayerType("LocalResponseNorm", "Normalisation", "AlexNet's local response normalisation across "
              "neighbouring channels.",
              params=(Param("size", "int", 5, "Neighbouring channels used.", min=1, max=64),
                      Param("alpha", "float", 1e-4, "Scale.", min=0.0),
                      Param("beta", "float", 0.75, "Exponent.", min=0.0),
                      Param("k", "float", 2.0, "Additive constant.", min=0.0)),
              build=lambda p, s: nn.LocalResponseNorm(p["size"], p["alpha"], p["beta"], p["k"]),
              ranks=(2, 3), expects="(N, C, L) or (N, C, H, W)",
              flops=lambda p, s, o, m: prod(o) * p["size"], probes=("activation",)),
]
