"""Which catalogue layer a torch function or tensor method becomes on import.

``x + skip``, ``torch.cat``, ``torch.flatten``, ``x.view(x.size(0), -1)``, ``F.relu``,
``x.mean(dim=(2, 3))`` ... are what hand-written forwards are made of. A rule gets the call's
arguments, with every tensor that flows from the input replaced by ``DATA``, and the shapes
the example batch had (batch included), and returns the layers it is, or ``ALIAS`` for an
operation that changes nothing (``contiguous``). Reshapes are read from the shapes they
produce, so ``view(-1, 400)`` and ``flatten(1)`` need no argument parsing.
"""
from __future__ import annotations

import operator

import torch
import torch.nn.functional as F

from .import_modules import Layer, Unsupported, global_pool, pool_layer, upsample_layer

DATA = object()   # stands for a tensor flowing from the input
ALIAS = "alias"   # the operation passes its one tensor through


def _bind(args, kwargs, names, defaults=None) -> dict:
    out = dict(defaults or {})
    out.update(zip(names, args))
    out.update(kwargs)
    return out


def _norm_dim(d, rank):
    return d + rank if d < 0 else d


def reshape_rule(in_shape, out_shape):
    if out_shape[0] != in_shape[0]:
        raise Unsupported("reshapes across the batch dimension")
    if tuple(out_shape) == tuple(in_shape):
        return ALIAS
    if len(out_shape) == 2 and len(in_shape) > 2:
        return [Layer("Flatten", {})]
    return [Layer("Reshape", {"shape": list(out_shape[1:])})]


def _merge(kind):
    def rule(args, kwargs, shapes, out):
        if kwargs.get("alpha", 1) != 1 or sum(a is DATA for a in args) != 2 or len(args) != 2:
            raise Unsupported(f"{'adds' if kind == 'Add' else 'multiplies'} a constant or a parameter; "
                              f"{kind} here combines the outputs of layers")
        return [Layer(kind, {})]
    return rule


def _cat(args, kwargs, shapes, out):
    a = _bind(args, kwargs, ("tensors", "dim"), {"dim": 0})
    if not all(t is DATA for t in a["tensors"]):
        raise Unsupported("joins a constant or a parameter to a layer's output")
    dim = _norm_dim(a["dim"], len(out))
    if dim == 0:
        raise Unsupported("joins along the batch dimension")
    return [Layer("Concat", {"dim": dim})]


def _reshape(args, kwargs, shapes, out):
    return reshape_rule(shapes[0], out)


def _flatten(args, kwargs, shapes, out):
    return reshape_rule(shapes[0], out)


def _permute(args, kwargs, shapes, out):
    dims = args[1:]
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    dims = kwargs.get("dims", dims)
    order = [_norm_dim(d, len(shapes[0])) for d in dims]
    if not order or order[0] != 0:
        raise Unsupported("moves the batch dimension")
    return ALIAS if order == sorted(order) else [Layer("Permute", {"order": order[1:]})]


def _transpose(args, kwargs, shapes, out):
    a = _bind(args[1:], kwargs, ("dim0", "dim1"))
    rank = len(shapes[0])
    d0, d1 = _norm_dim(a["dim0"], rank), _norm_dim(a["dim1"], rank)
    if 0 in (d0, d1):
        raise Unsupported("moves the batch dimension")
    order = list(range(rank))
    order[d0], order[d1] = order[d1], order[d0]
    return ALIAS if d0 == d1 else [Layer("Permute", {"order": order[1:]})]


def _act(kind, **params):
    """An activation; ``params`` are (argument name, position after x, default) per param."""
    def rule(args, kwargs, shapes, out):
        values = {}
        for param, (name, pos, default) in params.items():
            values[param] = kwargs.get(name, args[pos] if len(args) > pos else default)
        if kwargs.get("approximate", "none") != "none":
            raise Unsupported("uses the tanh approximation; GELU here is exact")
        return [Layer(kind, {k: float(v) for k, v in values.items()})]
    return rule


def _softmax(args, kwargs, shapes, out):
    a = _bind(args[1:], kwargs, ("dim",), {"dim": None})
    if a["dim"] is None or _norm_dim(a["dim"], len(out)) != len(out) - 1:
        raise Unsupported(f"normalises dim {a['dim']}; Softmax here normalises the last dim")
    return [Layer("Softmax", {})]


def _dropout(args, kwargs, shapes, out):
    a = _bind(args[1:], kwargs, ("p", "training", "inplace"), {"p": 0.5})
    return ALIAS if a["p"] == 0 else [Layer("Dropout", {"p": float(a["p"])})]


def _pool(kind):
    names = ("kernel_size", "stride", "padding") + (("dilation", "ceil_mode", "return_indices")
                                                    if kind.startswith("Max") else
                                                    ("ceil_mode", "count_include_pad", "divisor_override"))

    def rule(args, kwargs, shapes, out):
        a = _bind(args[1:], kwargs, names, {"stride": None, "padding": 0})
        if a.pop("return_indices", False):
            raise Unsupported("returns indices")
        return [pool_layer(kind, a.pop("kernel_size"), a.pop("stride"), a.pop("padding"), **a)]
    return rule


def _adaptive(rank):
    def rule(args, kwargs, shapes, out):
        size = _bind(args[1:], kwargs, ("output_size",))["output_size"]
        sizes = size if isinstance(size, (tuple, list)) else (size,) * rank
        if any(s != 1 for s in sizes):
            raise Unsupported(f"pools to {size}; only adaptive pooling to size 1 has a layer here")
        return global_pool(rank)
    return rule


def _mean(args, kwargs, shapes, out):
    a = _bind(args[1:], kwargs, ("dim", "keepdim"), {"dim": None, "keepdim": False})
    rank = len(shapes[0])
    dims = a["dim"] if isinstance(a["dim"], (tuple, list)) else (a["dim"],)
    if a["dim"] is None or rank < 3 or sorted(_norm_dim(d, rank) for d in dims) != list(range(2, rank)):
        raise Unsupported(f"averages over dims {a['dim']}; only the mean over every dim after the channels "
                          f"(global average pooling) has a layer here")
    return global_pool(rank - 2) if a["keepdim"] else [Layer("GlobalAvgPool", {})]


def _interpolate(args, kwargs, shapes, out):
    a = _bind(args[1:], kwargs, ("size", "scale_factor", "mode", "align_corners"),
              {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None})
    if a["size"] is not None or a["scale_factor"] is None or a["mode"] not in ("nearest", "bilinear") \
            or a["align_corners"]:
        raise Unsupported("resizes to a size, with align_corners or a mode other than nearest and bilinear")
    return [upsample_layer(a["scale_factor"], a["mode"])]


def _alias(args, kwargs, shapes, out):
    return ALIAS


def _shape_only(args, kwargs, shapes, out):
    return reshape_rule(shapes[0], out)


_RELU, _SIGMOID, _TANH = _act("ReLU"), _act("Sigmoid"), _act("Tanh")

FUNCTIONS = {
    operator.add: _merge("Add"), operator.iadd: _merge("Add"), torch.add: _merge("Add"),
    operator.mul: _merge("Multiply"), operator.imul: _merge("Multiply"), torch.mul: _merge("Multiply"),
    torch.cat: _cat, torch.concat: _cat, torch.concatenate: _cat,
    torch.flatten: _flatten, torch.reshape: _reshape, torch.squeeze: _shape_only,
    torch.unsqueeze: _shape_only,
    torch.permute: _permute, torch.transpose: _transpose,
    torch.relu: _RELU, F.relu: _RELU, torch.sigmoid: _SIGMOID, F.sigmoid: _SIGMOID,
    torch.tanh: _TANH, F.tanh: _TANH,
    F.leaky_relu: _act("LeakyReLU", slope=("negative_slope", 1, 0.01)),
    F.elu: _act("ELU", alpha=("alpha", 1, 1.0)),
    F.selu: _act("SELU"), torch.selu: _act("SELU"), F.silu: _act("SiLU"), F.gelu: _act("GELU"),
    F.softmax: _softmax, torch.softmax: _softmax,
    F.dropout: _dropout,
    F.max_pool1d: _pool("MaxPool1d"), F.max_pool2d: _pool("MaxPool2d"),
    F.avg_pool1d: _pool("AvgPool1d"), F.avg_pool2d: _pool("AvgPool2d"),
    F.adaptive_avg_pool1d: _adaptive(1), F.adaptive_avg_pool2d: _adaptive(2),
    torch.mean: _mean,
    F.interpolate: _interpolate,
    F.pixel_shuffle: lambda a, k, s, o: [Layer("PixelShuffle", {"scale": _bind(a[1:], k, ("upscale_factor",))
                                                               ["upscale_factor"]})],
}

METHODS = {
    "add": _merge("Add"), "add_": _merge("Add"), "mul": _merge("Multiply"), "mul_": _merge("Multiply"),
    "flatten": _flatten, "view": _reshape, "reshape": _reshape, "squeeze": _shape_only,
    "unsqueeze": _shape_only, "permute": _permute, "transpose": _transpose,
    "contiguous": _alias, "clone": _alias,
    "relu": _RELU, "relu_": _RELU, "sigmoid": _SIGMOID, "tanh": _TANH, "softmax": _softmax,
    "mean": _mean,
}


def function_rule(op: str, target):
    """The rule for a call_function target or a call_method name, or None."""
    if op == "call_method":
        return METHODS.get(target)
    return FUNCTIONS.get(target)


def describe(op: str, target) -> str:
    """How a call is named in messages: ``torch.exp``, ``x.masked_fill(...)``."""
    if op == "call_method":
        return f"the tensor method .{target}()"
    if op == "get_attr":
        return f"the attribute self.{target}"
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if module == "_operator":
        return {"getitem": "indexing x[...]", "truediv": "division /", "sub": "subtraction -",
                "matmul": "the matrix product @", "pow": "a power **", "add": "addition +", "iadd": "addition +=",
                "mul": "multiplication *", "imul": "multiplication *=", "neg": "negation -"}.get(name, f"the operator {name}")
    return f"torch.{name}" if module.startswith("torch") else name

