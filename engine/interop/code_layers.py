"""How each layer type of the catalogue is written as PyTorch code.

One function per layer type turns a node (its module built by the catalogue on the meta
device, so the constructor arguments are read from the very module the compiler builds)
into a ``LayerCode``: the constructor of its attribute, the expression its forward line
computes, the helper classes it needs and how its weight names differ from the compiled
graph's. A layer type missing here cannot be exported as code; the tests check that every
catalogue type has an entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass
class LayerCode:
    #: constructor of ``self.<attr>``; None for operations written inline (merges)
    init: str | None
    #: forward expressions, applied in turn: "{self}" is ``self.<attr>``, "{x}" the input
    #: (the previous expression's result after the first); or a function of the inputs'
    #: names (merges)
    call: tuple[str, ...] | Callable[[list[str]], str] = ("{self}({x})",)
    helpers: tuple[str, ...] = ()
    #: extra attributes: (suffix added to attr, constructor)
    extra: tuple[tuple[str, str], ...] = ()
    #: weight names: (prefix inside the compiled node, prefix of the exported name) where
    #: they differ; "{attr}" stands for the exported attribute
    keys: tuple[tuple[str, str], ...] = ()
    #: gate blocks of a recurrent weight (its init is applied block by block), else 0
    gates: int = 0
    note: str = ""  # a short comment after the forward line


def lit(value) -> str:
    """A Python literal, strings in double quotes."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple) and len(value) == 1:
        return f"({lit(value[0])},)"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(lit(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def call(name: str, *args, **kwargs) -> str:
    """``name(a, b, k=v)``; keyword arguments whose value is None are left out."""
    parts = [lit(a) for a in args] + [f"{k}={lit(v)}" for k, v in kwargs.items() if v is not None]
    return f"{name}({', '.join(parts)})"


def _unless(value, default):
    return None if value == default else value


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def _padding(m):
    pad = m.padding
    if isinstance(pad, str):
        return None if pad == "valid" or (pad == "same" and max(m.kernel_size) == 1) else pad
    return _unless(_first(pad), 0)


def _conv(torch_name: str):
    def emit(m, p, s, o):
        return LayerCode(call(torch_name, m.in_channels, m.out_channels, m.kernel_size[0],
                              stride=_unless(m.stride[0], 1), padding=_padding(m),
                              dilation=_unless(m.dilation[0], 1), groups=_unless(m.groups, 1),
                              bias=_unless(m.bias is not None, True)))
    return emit


def _simple(torch_name: str, *args_of):
    """A module whose constructor takes the given params positionally."""
    def emit(m, p, s, o):
        return LayerCode(call(torch_name, *(f(m, p, s) for f in args_of)))
    return emit


def _pool(torch_name: str):
    def emit(m, p, s, o):
        return LayerCode(call(torch_name, p["kernel"], stride=p["stride"] if p["stride"] not in (None, p["kernel"])
                              else None, padding=_unless(p["padding"], 0)))
    return emit


def _fused(m, p, s, o):
    """RNN, LSTM and GRU on torch's fused module (batch first)."""
    cls = type(m.rnn).__name__
    bi = m.bidirectional
    code = LayerCode(call(f"nn.{cls}", m.rnn.input_size, m.hidden_size, batch_first=True,
                          bidirectional=True if bi else None),
                     keys=(("rnn.", "{attr}."), ("h0", "{attr}_h0")),
                     gates={"RNN": 1, "LSTM": 4, "GRU": 3}[cls])
    state = ""
    if m.h0 is not None:
        code.extra = (("_h0", f"nn.Parameter(torch.zeros({2 if bi else 1}, 1, {m.hidden_size}))"),)
        state = ", {self}_h0.expand(-1, {x}.shape[0], -1).contiguous()"
    if m.return_sequences:
        code.call, code.note = ("{self}({x}%s)[0]" % state,), "h_t at every step"
    elif not bi:
        code.call, code.note = ("{self}({x}%s)[0][:, -1]" % state,), "h_t at the last step"
    else:
        h_n = "[1][0]" if cls == "LSTM" else "[1]"
        code.call = ("{self}({x}%s)%s  # h_n: (directions, N, H)" % (state, h_n),
                     "torch.cat([{x}[-2], {x}[-1]], dim=1)")
        code.note = "the final state of each direction"
    return code


def _loop_lstm(m, p, s, o):
    cls = type(m).__name__
    return LayerCode(call(cls, m.input_size, m.hidden_size, return_sequences=m.return_sequences),
                     helpers=(cls,), gates=len(m.gates))


def _binary(cls):
    def emit(m, p, s, o):
        if cls == "BinaryLinear":
            init = call(cls, m.in_features, m.out_features, bias=_unless(m.bias is not None, True),
                        mode=m.mode)
        else:
            init = call(cls, m.in_channels, m.out_channels, m.kernel_size[0], stride=_unless(m.stride[0], 1),
                        padding=_padding(m), bias=_unless(m.bias is not None, True), mode=m.mode)
        return LayerCode(init, helpers=(cls,))
    return emit


def _merge(op: str):
    def emit(m, p, s, o):
        if op == "cat":
            return LayerCode(None, call=lambda xs: f"torch.cat([{', '.join(xs)}], dim={p['dim']})")
        return LayerCode(None, call=lambda xs: f" {op} ".join(xs))
    return emit


def _upsample(m, p, s, o):
    if p["mode"] == "bilinear":
        return LayerCode(call("nn.Upsample", scale_factor=p["scale"], mode="bilinear", align_corners=False))
    return LayerCode(call("nn.Upsample", scale_factor=p["scale"]))


_IN = lambda m, p, s: s[0][0]  # noqa: E731  (channels or features of the input)

EMITTERS: dict[str, Callable] = {
    "Dense": lambda m, p, s, o: LayerCode(call("nn.Linear", m.in_features, m.out_features,
                                               bias=_unless(m.bias is not None, True))),
    "Flatten": _simple("nn.Flatten"),
    "Reshape": lambda m, p, s, o: LayerCode(call("Reshape", tuple(p["shape"])), helpers=("Reshape",)),
    "Permute": lambda m, p, s, o: LayerCode(call("Permute", tuple(p["order"])), helpers=("Permute",)),
    "Dropout": _simple("nn.Dropout", lambda m, p, s: p["p"]),
    "Embedding": _simple("nn.Embedding", lambda m, p, s: p["vocab"], lambda m, p, s: p["dim"]),
    "Conv1d": _conv("nn.Conv1d"),
    "Conv2d": _conv("nn.Conv2d"),
    "CausalConv1d": lambda m, p, s, o: LayerCode(call("CausalConv1d", m.in_channels, m.out_channels,
                                                      m.kernel_size[0], dilation=_unless(m.dilation[0], 1),
                                                      bias=_unless(m.bias is not None, True)),
                                                 helpers=("CausalConv1d",)),
    "ConvTranspose2d": lambda m, p, s, o: LayerCode(call("nn.ConvTranspose2d", m.in_channels, m.out_channels,
                                                         m.kernel_size[0], stride=_unless(m.stride[0], 1),
                                                         padding=_padding(m),
                                                         bias=_unless(m.bias is not None, True))),
    "Upsample": _upsample,
    "PixelShuffle": _simple("nn.PixelShuffle", lambda m, p, s: p["scale"]),
    "MaxPool1d": _pool("nn.MaxPool1d"), "MaxPool2d": _pool("nn.MaxPool2d"),
    "AvgPool1d": _pool("nn.AvgPool1d"), "AvgPool2d": _pool("nn.AvgPool2d"),
    "GlobalAvgPool": lambda m, p, s, o: LayerCode("GlobalAvgPool()", helpers=("GlobalAvgPool",)),
    "BatchNorm1d": lambda m, p, s, o: LayerCode(call("nn.BatchNorm1d", _IN(m, p, s),
                                                     momentum=_unless(p["momentum"], 0.1))),
    "BatchNorm2d": lambda m, p, s, o: LayerCode(call("nn.BatchNorm2d", _IN(m, p, s),
                                                     momentum=_unless(p["momentum"], 0.1))),
    "LocalResponseNorm": lambda m, p, s, o: LayerCode(call("nn.LocalResponseNorm", p["size"], alpha=p["alpha"],
                                                           beta=p["beta"], k=p["k"])),
    "ReLU": _simple("nn.ReLU"),
    "LeakyReLU": _simple("nn.LeakyReLU", lambda m, p, s: p["slope"]),
    "ELU": _simple("nn.ELU", lambda m, p, s: p["alpha"]),
    "SELU": _simple("nn.SELU"),
    "Sigmoid": _simple("nn.Sigmoid"),
    "Tanh": _simple("nn.Tanh"),
    "SiLU": _simple("nn.SiLU"),
    "GELU": _simple("nn.GELU"),
    "Maxout": lambda m, p, s, o: LayerCode(call("Maxout", p["pieces"]), helpers=("Maxout",)),
    "Softmax": lambda m, p, s, o: LayerCode("nn.Softmax(dim=-1)"),
    "Add": _merge("+"),
    "Multiply": _merge("*"),
    "Concat": _merge("cat"),
    "RNN": _fused,
    "LSTM": lambda m, p, s, o: _fused(m, p, s, o) if hasattr(m, "rnn") else _loop_lstm(m, p, s, o),
    "GRU": _fused,
    "ConvLSTM": lambda m, p, s, o: LayerCode(call("ConvLSTM", m.in_channels, m.hidden_channels,
                                                  m.conv.kernel_size[0], return_sequences=m.return_sequences),
                                             helpers=("ConvLSTM",), gates=4),
    "BinaryDense": _binary("BinaryLinear"),
    "BinaryConv2d": _binary("BinaryConv2d"),
}

#: how the loss a graph trains with is written in plain torch (named in the file's docstring)
TORCH_LOSSES = {"CrossEntropy": "nn.CrossEntropyLoss()", "BinaryCrossEntropy": "nn.BCEWithLogitsLoss()",
                "MSE": "nn.MSELoss()", "L1": "nn.L1Loss()", "Huber": "nn.HuberLoss(delta={delta})"}


def init_lines(target: str, params: dict, module: nn.Module, exported_name, gates: int) -> list[str]:
    """Statements that start the weights as the node's weight_init / bias_init say (the
    catalogue's apply_init and init_recurrent), for ``module``'s parameters named
    ``exported_name(sub)`` in the exported class. Empty for torch's default init."""
    scheme = params.get("weight_init", "default")
    bias = params.get("bias_init", "default")
    lines = []
    for sub, p in module.named_parameters():
        leaf = sub.rsplit(".", 1)[-1]
        ref = f"{target}.{exported_name(sub)}"
        if p.dim() >= 2 and (leaf.startswith("weight") or not gates) and scheme != "default":
            stmt = {"xavier": "nn.init.xavier_uniform_({})",
                    "kaiming": 'nn.init.kaiming_normal_({}, nonlinearity="relu")',
                    "orthogonal": "nn.init.orthogonal_({})",
                    "small": "nn.init.normal_({}, 0.0, 0.01)"}[scheme]
            if gates > 1:
                lines.append(f"for block in {ref}.data.chunk({gates}):  # each gate's block on its own")
                lines.append("    " + stmt.format("block"))
            else:
                lines.append(stmt.format(ref))
        elif p.dim() == 1 and bias != "default" and (leaf.startswith("bias") if gates else "bias" in sub):
            # torch's fused recurrent modules add b_ih + b_hh: "ones" sets only b_ih to 1.
            value = "zeros" if bias == "ones" and gates and leaf.startswith("bias_hh") else bias
            lines.append(f"nn.init.{value}_({ref})")
    return lines
