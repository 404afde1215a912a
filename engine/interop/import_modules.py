"""Which catalogue layer an ``nn.Module`` becomes when a PyTorch model is imported.

A rule reads the module's attributes and returns the layers it is (usually one; a stacked
``nn.LSTM`` is one layer per stacked layer), with the params and the state-dict names of
its weights inside the new layer's module. A module the catalogue cannot express exactly
raises ``Unsupported`` with the end of a sentence saying why; a module type with no rule
is reported by the importer as having no catalogue layer.

Our own layers (the classes an exported .py defines, and engine/nn's) are recognised by
class name and read through the attributes those classes have.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn


class Unsupported(Exception):
    """The module or operation has no faithful catalogue form; ``str`` ends a sentence."""


@dataclass
class Layer:
    type: str
    params: dict
    #: the module's own state-dict name -> the name inside the layer's compiled module
    keys: dict[str, str] = field(default_factory=dict)
    suffix: str = ""  # added to the node id for the 2nd, 3rd... layer of one module


#: layer types whose output is a recurrent (output, state) tuple, as torch returns it
RECURRENT_TUPLE = ("RNN", "LSTM", "GRU")


def _square(value, what: str, name: str) -> int:
    values = value if isinstance(value, tuple) else (value,)
    if len(set(values)) != 1:
        raise Unsupported(f"has a non-square {what} {tuple(values)}; {name} takes one {what} for every dimension")
    return int(values[0])


def _same_keys(m: nn.Module, mapping=None) -> dict[str, str]:
    return {k: (mapping(k) if mapping else k) for k in m.state_dict()}


def _padding_param(padding, kernel: int):
    """The catalogue's padding param for a module's padding: a 1x1 kernel needs none, which
    its default "same" says; no padding otherwise is "valid"."""
    if padding in (0, "valid"):
        return "same" if kernel == 1 else "valid"
    return padding


def _conv(m: nn.Conv1d | nn.Conv2d, kind: str) -> list[Layer]:
    if m.padding_mode != "zeros":
        raise Unsupported(f"pads with '{m.padding_mode}'; {kind} pads with zeros")
    k = _square(m.kernel_size, "kernel", kind)
    padding = m.padding if isinstance(m.padding, str) else _square(m.padding, "padding", kind)
    params = {"channels": m.out_channels, "kernel": k, "stride": _square(m.stride, "stride", kind),
              "padding": _padding_param(padding, k),
              "dilation": _square(m.dilation, "dilation", kind), "groups": m.groups,
              "bias": m.bias is not None}
    return [Layer(kind, params, _same_keys(m))]


def _conv_transpose(m: nn.ConvTranspose2d) -> list[Layer]:
    if any(m.output_padding) or m.groups != 1 or _square(m.dilation, "dilation", "ConvTranspose2d") != 1:
        raise Unsupported("uses output_padding, groups or dilation, which ConvTranspose2d here does not")
    return [Layer("ConvTranspose2d", {"channels": m.out_channels,
                                      "kernel": _square(m.kernel_size, "kernel", "ConvTranspose2d"),
                                      "stride": _square(m.stride, "stride", "ConvTranspose2d"),
                                      "padding": _square(m.padding, "padding", "ConvTranspose2d"),
                                      "bias": m.bias is not None}, _same_keys(m))]


def pool_layer(kind: str, kernel, stride, padding, dilation=1, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Layer:
    """A pooling layer from the arguments of a pooling module or function."""
    if ceil_mode or not count_include_pad or divisor_override or _square(dilation, "dilation", kind) != 1:
        raise Unsupported("uses ceil_mode, dilation, count_include_pad=False or a divisor override, "
                          "which the pooling layers here do not")
    k = _square(kernel, "window", kind)
    s = _square(stride, "stride", kind) if stride not in (None, ()) else k
    return Layer(kind, {"kernel": k, "stride": None if s == k else s,
                        "padding": _square(padding, "padding", kind)})


def _pool(kind: str):
    def rule(m):
        extra = ({"count_include_pad": m.count_include_pad, "divisor_override": getattr(m, "divisor_override", None)}
                 if kind.startswith("Avg") else {"dilation": m.dilation})
        if getattr(m, "return_indices", False):
            raise Unsupported("returns indices")
        return [pool_layer(kind, m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode, **extra)]
    return rule


def global_pool(rank: int) -> list[Layer]:
    """Adaptive average pooling to size 1 keeps the spatial dims as 1s: the catalogue's
    GlobalAvgPool and a Reshape back (dropped again when a flatten follows)."""
    return [Layer("GlobalAvgPool", {}), Layer("Reshape", {"shape": [-1] + [1] * rank}, suffix="_reshape")]


def _adaptive(rank: int):
    def rule(m):
        size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size,) * rank
        if any(s != 1 for s in size):
            raise Unsupported(f"pools to {m.output_size}; only adaptive pooling to size 1 (global average "
                              f"pooling) has a layer here")
        return global_pool(rank)
    return rule


def _batch_norm(kind: str):
    def rule(m):
        if not (m.affine and m.track_running_stats) or abs(m.eps - 1e-5) > 1e-12 or m.momentum is None:
            raise Unsupported(f"has affine={m.affine}, track_running_stats={m.track_running_stats}, "
                              f"eps={m.eps}, momentum={m.momentum}; {kind} here has a learned scale and shift, "
                              f"running statistics, eps 1e-5 and a momentum")
        return [Layer(kind, {"momentum": float(m.momentum)}, _same_keys(m))]
    return rule


def _embedding(m: nn.Embedding) -> list[Layer]:
    if m.padding_idx is not None or m.max_norm is not None or m.scale_grad_by_freq or m.sparse:
        raise Unsupported("uses padding_idx, max_norm, scale_grad_by_freq or sparse gradients")
    return [Layer("Embedding", {"vocab": m.num_embeddings, "dim": m.embedding_dim}, _same_keys(m))]


def _recurrent(m: nn.RNNBase) -> list[Layer]:
    kind = type(m).__name__
    if not m.batch_first:
        raise Unsupported("reads (T, N, features) (batch_first=False); set batch_first=True: the "
                          "recurrent layers here read (N, T, features)")
    if not m.bias or getattr(m, "proj_size", 0) or getattr(m, "nonlinearity", "tanh") != "tanh":
        raise Unsupported("has bias=False, a projection or a ReLU nonlinearity, which the recurrent layers "
                          "here do not")
    layers = []
    for k in range(m.num_layers):
        keys = {}
        for name in m.state_dict():
            stem, _, rest = name.partition(f"_l{k}")
            if rest in ("", "_reverse") and name.endswith(f"_l{k}{rest}"):
                keys[name] = f"rnn.{stem}_l0{rest}"
        params = {"units": m.hidden_size, "return_sequences": True, "bidirectional": m.bidirectional}
        layers.append(Layer(kind, params, keys, suffix="" if k == 0 else f"_l{k}"))
        if k < m.num_layers - 1 and m.dropout > 0:
            layers.append(Layer("Dropout", {"p": float(m.dropout)}, suffix=f"_drop{k}"))
    return layers


def _attrs(m, *names):
    missing = [n for n in names if not hasattr(m, n)]
    if missing:
        raise Unsupported(f"is named like a Neurostudio layer but has no {', '.join(missing)}")
    return [getattr(m, n) for n in names]


def _ours_binary(m) -> list[Layer]:
    (mode,) = _attrs(m, "mode")
    if isinstance(m, nn.Conv2d):
        padding = m.padding if isinstance(m.padding, str) else _square(m.padding, "padding", "BinaryConv2d")
        padding = _padding_param(padding, _square(m.kernel_size, "kernel", "BinaryConv2d"))
        return [Layer("BinaryConv2d", {"channels": m.out_channels, "kernel": _square(m.kernel_size, "kernel", "BinaryConv2d"),
                                       "stride": _square(m.stride, "stride", "BinaryConv2d"), "padding": padding,
                                       "mode": mode, "bias": m.bias is not None}, _same_keys(m))]
    return [Layer("BinaryDense", {"units": m.out_features, "mode": mode, "bias": m.bias is not None}, _same_keys(m))]


def _ours_loop_lstm(m) -> list[Layer]:
    hidden, seq = _attrs(m, "hidden_size", "return_sequences")
    variant = "peephole" if type(m).__name__ == "PeepholeLSTM" else "coupled"
    return [Layer("LSTM", {"units": hidden, "return_sequences": seq, "variant": variant}, _same_keys(m))]


def _ours_fused(m) -> list[Layer]:
    """engine/nn's FusedRecurrent wrappers (a compiled graph imported back)."""
    rnn, seq = _attrs(m, "rnn", "return_sequences")
    kind = {"RNNLayer": "RNN", "LSTMLayer": "LSTM", "GRULayer": "GRU"}[type(m).__name__]
    params = {"units": rnn.hidden_size, "return_sequences": seq, "bidirectional": rnn.bidirectional}
    if kind == "RNN":
        params["learned_h0"] = getattr(m, "h0", None) is not None
    return [Layer(kind, params, _same_keys(m))]


#: our own classes, by class name
OURS = {
    "BinaryLinear": _ours_binary,
    "BinaryConv2d": _ours_binary,
    "CausalConv1d": lambda m: [Layer("CausalConv1d", {"channels": m.out_channels, "kernel": m.kernel_size[0],
                                                      "dilation": m.dilation[0], "bias": m.bias is not None},
                                     _same_keys(m))],
    "GlobalAvgPool": lambda m: [Layer("GlobalAvgPool", {})],
    "Maxout": lambda m: [Layer("Maxout", {"pieces": _attrs(m, "pieces")[0]})],
    "Reshape": lambda m: [Layer("Reshape", {"shape": list(_attrs(m, "shape")[0])})],
    "Permute": lambda m: [Layer("Permute", {"order": list(_attrs(m, "order")[0][1:])})],
    "PeepholeLSTM": _ours_loop_lstm,
    "CoupledLSTM": _ours_loop_lstm,
    "ConvLSTM": lambda m: [Layer("ConvLSTM", {"channels": _attrs(m, "hidden_channels")[0],
                                              "kernel": m.conv.kernel_size[0],
                                              "return_sequences": _attrs(m, "return_sequences")[0]},
                                 _same_keys(m))],
    "RNNLayer": _ours_fused, "LSTMLayer": _ours_fused, "GRULayer": _ours_fused,
    "Add": lambda m: [Layer("Add", {})],
    "Multiply": lambda m: [Layer("Multiply", {})],
    "Concat": lambda m: [Layer("Concat", {"dim": _attrs(m, "dim")[0]})],
}


def _act(kind, **params):
    return lambda m: [Layer(kind, {k: f(m) for k, f in params.items()})]


def _gelu(m):
    if m.approximate != "none":
        raise Unsupported("uses the tanh approximation; GELU here is exact")
    return [Layer("GELU", {})]


def _softmax(m):
    if m.dim not in (-1, None):
        raise Unsupported(f"normalises dim {m.dim}; Softmax here normalises the last dim")
    return [Layer("Softmax", {})]


def _flatten(m):
    if m.start_dim != 1 or m.end_dim != -1:
        raise Unsupported(f"flattens dims {m.start_dim} to {m.end_dim}")  # the importer reshapes instead
    return [Layer("Flatten", {})]


def _upsample(m):
    if m.size is not None or m.mode not in ("nearest", "bilinear") or (m.mode == "bilinear" and m.align_corners):
        raise Unsupported("resizes to a size, with align_corners or a mode other than nearest and bilinear")
    return [upsample_layer(m.scale_factor, m.mode)]


def upsample_layer(scale, mode) -> Layer:
    scales = set(scale) if isinstance(scale, tuple) else {scale}
    if len(scales) != 1 or float(next(iter(scales))) != int(next(iter(scales))):
        raise Unsupported(f"scales by {scale}; Upsample here scales every dim by one whole factor")
    return Layer("Upsample", {"scale": int(next(iter(scales))), "mode": mode})


#: torch.nn classes (exact type) -> rule
TORCH = {
    nn.Linear: lambda m: [Layer("Dense", {"units": m.out_features, "bias": m.bias is not None}, _same_keys(m))],
    nn.Conv1d: lambda m: _conv(m, "Conv1d"),
    nn.Conv2d: lambda m: _conv(m, "Conv2d"),
    nn.ConvTranspose2d: _conv_transpose,
    nn.MaxPool1d: _pool("MaxPool1d"), nn.MaxPool2d: _pool("MaxPool2d"),
    nn.AvgPool1d: _pool("AvgPool1d"), nn.AvgPool2d: _pool("AvgPool2d"),
    nn.AdaptiveAvgPool1d: _adaptive(1), nn.AdaptiveAvgPool2d: _adaptive(2),
    nn.BatchNorm1d: _batch_norm("BatchNorm1d"), nn.BatchNorm2d: _batch_norm("BatchNorm2d"),
    nn.LocalResponseNorm: lambda m: [Layer("LocalResponseNorm", {"size": m.size, "alpha": float(m.alpha),
                                                                 "beta": float(m.beta), "k": float(m.k)})],
    nn.Dropout: lambda m: [Layer("Dropout", {"p": float(m.p)})],
    nn.Embedding: _embedding,
    nn.Flatten: _flatten,
    nn.Upsample: _upsample,
    nn.PixelShuffle: lambda m: [Layer("PixelShuffle", {"scale": m.upscale_factor})],
    nn.ReLU: _act("ReLU"),
    nn.LeakyReLU: _act("LeakyReLU", slope=lambda m: float(m.negative_slope)),
    nn.ELU: _act("ELU", alpha=lambda m: float(m.alpha)),
    nn.SELU: _act("SELU"), nn.Sigmoid: _act("Sigmoid"), nn.Tanh: _act("Tanh"), nn.SiLU: _act("SiLU"),
    nn.GELU: _gelu,
    nn.Softmax: _softmax,
    nn.RNN: _recurrent, nn.LSTM: _recurrent, nn.GRU: _recurrent,
}

#: modules that pass their input through unchanged
IDENTITY = (nn.Identity,)


def module_rule(m: nn.Module):
    """The rule for ``m``, or None when it has no catalogue layer."""
    rule = OURS.get(type(m).__name__) or TORCH.get(type(m))
    return rule


def is_leaf(m: nn.Module) -> bool:
    """Traced as one call (not stepped into): modules with a rule, and torch.nn's own."""
    return (module_rule(m) is not None or isinstance(m, IDENTITY)
            or (type(m).__module__.startswith("torch.nn") and not isinstance(m, (nn.Sequential, nn.ModuleList,
                                                                                 nn.ModuleDict))))
