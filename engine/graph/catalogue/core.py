"""Input, dense and shape-changing layers."""
from __future__ import annotations

import math

from torch import nn

from ...nn.shape_ops import Permute, Reshape
from .common import INIT_PARAMS, apply_init, weight_flops
from .spec import LayerType, Param


def _check_reshape(params, in_shapes):
    target = params["shape"]
    n_in = math.prod(in_shapes[0])
    if -1 in target:
        known = math.prod(v for v in target if v != -1)
        if target.count(-1) > 1 or known == 0 or n_in % known:
            return f"cannot reshape {n_in} values per sample into {tuple(target)}"
    elif math.prod(target) != n_in:
        return f"cannot reshape {n_in} values per sample into {tuple(target)} ({math.prod(target)} values)"
    return None


def _check_permute(params, in_shapes):
    order = params["order"]
    if sorted(order) != list(range(1, len(in_shapes[0]) + 1)):
        return (f"order {order} must list the dims 1..{len(in_shapes[0])} of the input "
                f"(batch dim 0 stays first)")
    return None


def _check_embedding(params, in_shapes):
    return None


LAYERS = [
    LayerType(
        "Input", "Input", "Where the dataset's samples enter the network. Its shape excludes the batch.",
        params=(Param("shape", "ints", [2], "Shape of one sample, without the batch dimension.", min=1),
                Param("dtype", "choice", "float", "float for features and images, long for token ids "
                      "(feed them to an Embedding).", choices=("float", "long"))),
        role="input", inputs=(), probes=()),
    LayerType(
        "Dense", "Core", "Fully connected layer y = x Wᵀ + b on the last dimension.",
        params=(Param("units", "int", 64, "Number of output features.", min=1, max=1_000_000),
                Param("bias", "bool", True, "Learn an additive bias."), *INIT_PARAMS),
        build=lambda p, s: apply_init(nn.Linear(s[0][-1], p["units"], bias=p["bias"]), p),
        ranks=(1, 2, 3), expects="(N, features) or (N, T, features)", flops=weight_flops,
        probes=("activation", "weights")),
    LayerType(
        "Flatten", "Core", "Flattens every dimension after the batch into one.",
        build=lambda p, s: nn.Flatten(), probes=()),
    LayerType(
        "Reshape", "Core", "Reshapes each sample (the batch dimension is kept). -1 infers one dimension.",
        params=(Param("shape", "ints", [-1], "Target shape without the batch dimension.", required=True,
                      min=-1),),
        build=lambda p, s: Reshape(p["shape"]), check=_check_reshape, probes=()),
    LayerType(
        "Permute", "Core", "Reorders the dimensions after the batch, e.g. [2, 1] turns (N, T, F) "
        "into (N, F, T) for a Conv1d over time.",
        params=(Param("order", "ints", [2, 1], "New order of dims 1..k (the batch dim 0 stays first).",
                      min=1),),
        build=lambda p, s: Permute(p["order"]), check=_check_permute, probes=()),
    LayerType(
        "Dropout", "Core", "Zeroes each value with probability p while training (and rescales the rest).",
        params=(Param("p", "float", 0.5, "Drop probability.", min=0.0, max=0.99),),
        build=lambda p, s: nn.Dropout(p["p"]), probes=(), random=True),
    LayerType(
        "Embedding", "Core", "Looks up a learned vector for each token id: (N, T) ids -> (N, T, dim).",
        params=(Param("vocab", "int", 32, "Number of distinct token ids.", min=1, max=10_000_000),
                Param("dim", "int", 16, "Size of each token's vector.", min=1, max=65536), *INIT_PARAMS),
        build=lambda p, s: apply_init(nn.Embedding(p["vocab"], p["dim"]), p),
        ranks=(1,), expects="(N, T) token ids", probes=("activation", "weights")),
]
