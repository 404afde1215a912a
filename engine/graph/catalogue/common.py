"""Pieces shared by catalogue entries: weight-init params and small FLOP formulas."""
from __future__ import annotations

import math

import torch
from torch import nn

from .spec import Param

INIT_PARAMS = (
    Param("weight_init", "choice", "default", "How weights start: torch's default, Xavier/Glorot "
          "(tanh/sigmoid nets), He/Kaiming (ReLU nets) or orthogonal (recurrent weights).",
          choices=("default", "xavier", "kaiming", "orthogonal", "small")),
    Param("bias_init", "choice", "default", "How biases start.", choices=("default", "zeros", "ones")),
)


def apply_init(module: nn.Module, params: dict) -> nn.Module:
    """Initialise every weight matrix/kernel and bias of ``module`` as the params say."""
    scheme = params.get("weight_init", "default")
    bias = params.get("bias_init", "default")
    for name, p in module.named_parameters():
        if p.dim() >= 2:
            init_weight(p, scheme)
        elif p.dim() == 1 and "bias" in name and bias != "default":
            init_bias(p, bias)
    return module


def init_weight(p: torch.Tensor, scheme: str) -> None:
    """Initialise one weight matrix/kernel (or one gate block of it) in place."""
    if scheme == "default" or p.device.type == "meta":
        return  # shape inference on the meta device has no values to set
    with torch.no_grad():
        if scheme == "xavier":
            nn.init.xavier_uniform_(p)
        elif scheme == "kaiming":
            nn.init.kaiming_normal_(p, nonlinearity="relu")
        elif scheme == "orthogonal":
            # QR runs on the CPU: not every accelerator backend implements it.
            q = nn.init.orthogonal_(torch.empty(p.shape, dtype=torch.float32, device="cpu"))
            p.copy_(q.to(device=p.device, dtype=p.dtype))
        elif scheme == "small":  # the naive N(0, 0.01^2) init of the initialisation lesson
            nn.init.normal_(p, 0.0, 0.01)


def init_bias(p: torch.Tensor, value: str) -> None:
    if value != "default" and p.device.type != "meta":
        nn.init.zeros_(p) if value == "zeros" else nn.init.ones_(p)


def prod(shape) -> int:
    return math.prod(shape) if shape else 1


def elementwise_flops(params, in_shapes, out_shape, module) -> int:
    return prod(out_shape)


def weight_flops(params, in_shapes, out_shape, module) -> int:
    """Multiply-adds of a layer that applies each weight once per output position."""
    n_weights = sum(p.numel() for n, p in module.named_parameters() if n.endswith("weight"))
    return n_weights * _positions(module, out_shape)


def _positions(module, out_shape) -> int:
    # Conv-like: one weight use per spatial output position; dense: per leading position.
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
        if isinstance(module, nn.ConvTranspose2d):
            return prod(out_shape[1:]) // (module.stride[0] * module.stride[1]) or 1
        return prod(out_shape[1:])
    return prod(out_shape[:-1])
