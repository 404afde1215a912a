"""The walk over a traced module: each fx call becomes catalogue layers (or passes its
tensor through), recurrent (output, state) tuples are followed until they are used, and
every node remembers where it came from (``Origin``).
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import fx, nn

from ..graph.document import Edge, GraphDocument, Node
from .errors import InteropError
from .import_functions import ALIAS, DATA, describe, function_rule
from .import_modules import IDENTITY, Layer, Unsupported, module_rule
from .import_blocks import add_blocks
from .layout import layered_positions

_TORCH_DIR = str(Path(torch.__file__).parent)
_ENGINE_DIR = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Origin:
    path: str     # the submodule a layer came from ("layer1.0.conv1"); for a function, the module running it
    scope: str    # the module whose forward made the call ("layer1.0"; "" for the top level)
    line: int | None = None
    file: str = ""
    code: str = ""

    def where(self) -> str:
        """``line 12 (`x = self.conv(x)`)`` or ``in layer1.0``, for messages."""
        if self.line is not None:
            return f"line {self.line} of {Path(self.file).name} (`{self.code}`)"
        return f"in {self.path or 'forward'}"


@dataclass
class _Val:
    node: str
    shape: tuple


@dataclass
class _Rec:
    """A recurrent layer's (output, state) tuple or a part of it, until it is used."""
    node: str
    kind: str          # tuple, seq, hc, hn, cn, last, hn_fwd, hn_bwd
    module: str        # "LSTM", "GRU", "RNN"
    bi: bool
    layers: int
    shape: tuple       # of the sequence output


def user_frame(frames):
    """The innermost frame of user code (not torch, not the engine), or None."""
    for frame in reversed(frames):
        if not frame.filename.startswith((_TORCH_DIR, _ENGINE_DIR)) and not frame.filename.startswith("<"):
            return frame
    return None


def _sanitize(text: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", text) or "n"
    return "n" + base if base[0].isdigit() else base


class Builder:
    def __init__(self, gm: fx.GraphModule, shape, dtype, cls_name: str, module: nn.Module | None = None):
        self.gm, self.shape, self.dtype, self.cls_name = gm, shape, dtype, cls_name
        self.module = module if module is not None else gm  # for the classes of its submodules
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.keys: dict[str, str] = {}         # module state-dict name -> compiled name
        self.origins: dict[str, Origin] = {}
        self.vals: dict[fx.Node, object] = {}
        self.rec_use: dict[str, str] = {}       # recurrent node -> "seq" or "last"
        self.by_id: dict[str, Node] = {}
        self.input_id = ""
        self.output: _Val | None = None
        self.called: set[str] = set()           # modules with weights already used

    # -- ids and nodes ---------------------------------------------------------------
    def new_id(self, base: str) -> str:
        base = _sanitize(base)
        if keyword.iskeyword(base) or hasattr(nn.Module, base) or base == "loss":
            base += "_"
        candidate, k = base, 0
        while candidate in self.by_id:
            k += 1
            candidate = f"{base}_{k}"
        return candidate

    def add(self, node_id, type_name, params, inputs, origin) -> str:
        node = Node(node_id, type_name, params)
        self.nodes.append(node)
        self.by_id[node_id] = node
        self.edges += [Edge(src, "out", node_id, "in") for src in inputs]
        self.origins[node_id] = origin
        return node_id

    def origin(self, n: fx.Node) -> Origin:
        frame = n.meta.get("frame")
        path = n.target if n.op == "call_module" else n.meta.get("scope", "")
        if frame is None:
            return Origin(path, n.meta.get("scope", ""))
        return Origin(path, n.meta.get("scope", ""), frame.lineno, frame.filename, (frame.line or "").strip())

    def fail(self, n: fx.Node, what: str) -> InteropError:
        o = self.origin(n)
        where = f"line {o.line} of {Path(o.file).name} (`{o.code}`)" if o.line is not None else f"'{n.name}'"
        return InteropError(f"{self.cls_name} cannot be imported: {where}: {what}.", line=o.line)

    # -- the walk ----------------------------------------------------------------------
    def walk(self) -> None:
        for n in self.gm.graph.nodes:
            if n.op == "placeholder":
                if self.input_id:
                    raise self.fail(n, f"forward takes a second input '{n.name}'; a graph here has one input")
                self.input_id = self.new_id(n.name)
                self.add(self.input_id, "Input", {}, [], Origin("", ""))
                self.vals[n] = _Val(self.input_id, (2, *self.shape))
            elif n.op == "output":
                value = self.vals.get(n.args[0]) if isinstance(n.args[0], fx.Node) else None
                if not isinstance(value, (_Val, _Rec)):
                    raise InteropError(f"{self.cls_name}'s forward returns {_what(n.args[0])}; a graph "
                                       f"here has one output: return one tensor computed from the input.")
                self.output = self.tensor(n, n.args[0])
            elif n.op == "get_attr":
                self.vals[n] = None
            else:
                self.vals[n] = self.call(n)

    def tensor(self, n, arg) -> _Val:
        value = self.vals.get(arg) if isinstance(arg, fx.Node) else None
        if isinstance(value, _Rec):
            return self.materialize(n, value)
        if not isinstance(value, _Val):
            raise self.fail(n, "the network's output must be one tensor computed from the input")
        return value

    def call(self, n: fx.Node):
        data = [a for a in _flat(n.args, n.kwargs)
                if isinstance(a, fx.Node) and isinstance(self.vals.get(a), (_Val, _Rec))]
        if not data:
            return None  # parameters, shapes, sizes: arguments, not layers
        meta = n.meta.get("tensor_meta")
        if n.op == "call_module":
            return self.call_module(n, data)
        if n.target in _STATE_MAKERS:
            return None  # zeros shaped like a tensor: an initial state, not a layer
        recs = [self.vals[a] for a in data if isinstance(self.vals[a], _Rec)]
        if recs:
            return self.follow_recurrent(n, recs)
        if not hasattr(meta, "shape"):
            return None  # x.size(0), x.shape, x.dim(): numbers about a tensor
        rule = function_rule(n.op, n.target)
        if rule is None:
            raise self.fail(n, f"{describe(n.op, n.target)} has no layer in Neurostudio's catalogue")
        args = _replace(n.args, self.vals)
        kwargs = _replace(n.kwargs, self.vals)
        shapes = [self.vals[a].shape for a in data]
        try:
            result = rule(args, kwargs, shapes, tuple(meta.shape))
        except Unsupported as exc:
            raise self.fail(n, f"{describe(n.op, n.target)} {exc}") from None
        if result == ALIAS:
            return self.vals[data[0]]
        if len(data) > 1 and result[0].type not in ("Add", "Multiply", "Concat"):
            raise self.fail(n, f"{describe(n.op, n.target)} combines two tensors, which no layer here does")
        base = result[0].type.lower()
        return self.add_layers(n, result, [self.vals[a].node for a in data], base, n.meta.get("scope", ""))

    def call_module(self, n: fx.Node, data):
        m = self.gm.get_submodule(n.target)
        if isinstance(m, IDENTITY):
            return self.vals[data[0]]
        if any(True for _ in m.parameters()) and n.target in self.called:
            raise self.fail(n, f"'{n.target}' is called a second time: its weights are shared, which a graph "
                               f"here (one weight set per node) cannot express")
        self.called.add(n.target)
        rule = module_rule(m)
        if rule is None:
            raise self.fail(n, f"'{n.target}' is a {type(m).__name__}, which has no layer in Neurostudio's "
                               f"catalogue")
        try:
            layers = rule(m)
        except Unsupported as exc:
            raise self.fail(n, f"'{n.target}' ({type(m).__name__}) {exc}") from None
        merge = layers[0].type in ("Add", "Multiply", "Concat")
        if len(data) > 1 and not merge:
            raise self.fail(n, f"'{n.target}' is given a second tensor (an initial state?); layers here take "
                               f"one input and recurrent layers start from zeros")
        ins = [self.tensor(n, a) for a in (data if merge else data[:1])]
        h0 = None
        state = n.args[1] if len(n.args) > 1 else n.kwargs.get("hx")
        if type(m) in (nn.RNN, nn.LSTM, nn.GRU) and state is not None and not _all_zeros(state):
            h0 = self.learned_h0(m, state) if type(m) is nn.RNN else None
            if h0 is None:
                raise self.fail(n, f"'{n.target}' is given an initial state; recurrent layers here start "
                                   f"from zeros (an RNN may learn its h0)")
            layers[0].params["learned_h0"] = True
        out = self.add_layers(n, layers, [v.node for v in ins], n.target, n.target)
        if type(m) in (nn.RNN, nn.LSTM, nn.GRU):
            if h0 is not None:
                self.keys[h0] = f"{out.node}.h0"
            seq = n.meta["tensor_meta"][0]
            return _Rec(out.node, "tuple", type(m).__name__, m.bidirectional, m.num_layers, tuple(seq.shape))
        return out

    def add_layers(self, n, layers: list[Layer], inputs: list[str], base: str, path: str) -> _Val:
        origin = self.origin(n)
        prev = inputs
        node_id = ""
        for layer in layers:
            node_id = self.new_id(base + layer.suffix)
            self.add(node_id, layer.type, dict(layer.params), prev, Origin(path, origin.scope, origin.line,
                                                                           origin.file, origin.code))
            for key, sub in layer.keys.items():
                self.keys[f"{path}.{key}" if path else key] = f"{node_id}.{sub}"
            prev = [node_id]
        meta = n.meta.get("tensor_meta")
        shape = tuple(meta.shape) if hasattr(meta, "shape") else ()
        return _Val(node_id, shape)

    def learned_h0(self, m: nn.RNN, state) -> str | None:
        """The parameter an RNN starts from when it is one of shape (directions, 1, H), broadcast
        over the batch; else None."""
        attrs = _get_attrs(state) if isinstance(state, fx.Node) else []
        if m.num_layers != 1 or len(attrs) != 1:
            return None
        try:
            param = self.gm.get_parameter(attrs[0])
        except AttributeError:
            return None
        return attrs[0] if tuple(param.shape) == (2 if m.bidirectional else 1, 1, m.hidden_size) else None

    # -- recurrent outputs ---------------------------------------------------------------
    def follow_recurrent(self, n: fx.Node, recs):
        rec = recs[0]
        if n.op == "call_function" and n.target is _getitem and len(recs) == 1:
            index = n.args[1]
            step = _rec_index(rec, index)
            if step is not None:
                return step
        if n.op == "call_method" and n.target == "squeeze" and rec.kind == "hn" and rec.layers == 1 and not rec.bi:
            return _Rec(**{**rec.__dict__, "kind": "last"})
        if n.op == "call_function" and n.target in (torch.cat, torch.concat) and len(recs) == 2:
            dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
            kinds = [self.vals[a].kind for a in n.args[0] if isinstance(a, fx.Node)]
            if kinds == ["hn_fwd", "hn_bwd"] and dim in (1, -1) and recs[0].node == recs[1].node:
                return _Rec(**{**rec.__dict__, "kind": "last"})
        if rec.kind in ("seq", "last"):
            # used as an ordinary tensor: fix what the layer outputs, then treat the call normally
            for a in _flat(n.args, n.kwargs):
                if isinstance(a, fx.Node) and isinstance(self.vals.get(a), _Rec):
                    self.vals[a] = self.materialize(n, self.vals[a])
            return self.call(n)
        raise self.fail(n, f"this use of {rec.module} '{rec.node}''s state ({rec.kind}) has no equivalent here: "
                           f"use its output sequence, out[:, -1] or h_n[-1]")

    def materialize(self, n, rec: _Rec) -> _Val:
        if rec.kind not in ("seq", "last"):
            raise self.fail(n, f"{rec.module} '{rec.node}''s {'cell state' if rec.kind == 'cn' else rec.kind} is used "
                               f"as a tensor; only its output sequence or its final hidden state can be")
        if self.rec_use.setdefault(rec.node, rec.kind) != rec.kind:
            raise self.fail(n, f"both the output sequence and the final state of {rec.module} '{rec.node}' are "
                               f"used; a recurrent layer here outputs one of them")
        self.by_id[rec.node].params["return_sequences"] = rec.kind == "seq"
        shape = rec.shape if rec.kind == "seq" else (rec.shape[0], rec.shape[-1])
        return _Val(rec.node, shape)

    # -- results -----------------------------------------------------------------------
    def document(self, name: str, loss: str) -> GraphDocument:
        self.by_id[self.input_id].params = {"shape": list(self.shape), "dtype": self.dtype}
        if loss == "auto":
            out = self.output.shape
            loss = "CrossEntropy" if len(out) in (2, 3) and out[-1] > 1 else "MSE"
        loss_id = "loss"
        self.nodes.append(Node(loss_id, loss, {}))
        self.edges.append(Edge(self.output.node, "out", loss_id, "in"))
        self._bypass_reshapes()
        doc = GraphDocument(nodes=self.nodes, edges=self.edges, name=name,
                            description=f"Imported from the PyTorch module {name}.")
        add_blocks(doc, self.origins, self.module)
        blocks = {b.id: b for b in doc.blocks}
        for unit, pos in layered_positions(doc).items():
            (blocks.get(unit) or doc.node(unit)).pos = pos
        return doc

    def _bypass_reshapes(self) -> None:
        """A Reshape or Flatten feeding only Reshapes and Flattens changes nothing they keep."""
        shape_only = ("Reshape", "Flatten")
        for node in list(self.nodes):
            outs = [e for e in self.edges if e.src == node.id]
            if node.type in shape_only and outs and all(self.by_id[e.dst].type in shape_only for e in outs):
                (inp,) = [e for e in self.edges if e.dst == node.id]
                self.edges = [Edge(inp.src, inp.src_port, e.dst, e.dst_port) if e.src == node.id else e
                              for e in self.edges if e is not inp]
                self.nodes.remove(node)
                del self.by_id[node.id], self.origins[node.id]

    def weights(self, module: nn.Module) -> dict[str, np.ndarray]:
        state = module.state_dict()
        out = {}
        for key, compiled in self.keys.items():
            out[compiled] = state[key].detach().cpu().numpy().copy()
        return out


def _what(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"{len(value)} values"
    if isinstance(value, dict):
        return "a dict"
    return "a value that does not depend on the input"


_getitem = __import__("operator").getitem
_STATE_MAKERS = (torch.zeros, torch.zeros_like, "new_zeros", "zero_")


def _all_zeros(state) -> bool:
    """Whether a recurrent initial state is zeros made in forward (torch.zeros(...),
    x.new_zeros(...), possibly moved with .to()): the same as passing none."""
    nodes = [a for a in _flat(state, {}) if isinstance(a, fx.Node)]
    for node in nodes:
        while node.op == "call_method" and node.target in ("to", "cuda", "contiguous", "detach"):
            node = node.args[0]
        if node.target not in _STATE_MAKERS:
            return False
    return bool(nodes)


def _rec_index(rec: _Rec, index):
    """The part of a recurrent output ``rec[index]`` selects, or None."""
    full = slice(None, None, None)
    last_layer = rec.layers * (2 if rec.bi else 1)
    if rec.kind == "tuple" and index in (0, 1):
        return _Rec(**{**rec.__dict__, "kind": "seq" if index == 0 else ("hc" if rec.module == "LSTM" else "hn")})
    if rec.kind == "hc" and index in (0, 1):
        return _Rec(**{**rec.__dict__, "kind": "hn" if index == 0 else "cn"})
    if rec.kind == "seq" and not rec.bi and isinstance(index, tuple) and index[:2] == (full, -1) \
            and all(i == full for i in index[2:]):
        return _Rec(**{**rec.__dict__, "kind": "last"})
    if rec.kind == "hn":
        i = index[0] if isinstance(index, tuple) and all(j == full for j in index[1:]) else index
        if isinstance(i, int):
            i = i + last_layer if i < 0 else i
            if i == last_layer - 1:
                return _Rec(**{**rec.__dict__, "kind": "hn_bwd" if rec.bi else "last"})
            if rec.bi and i == last_layer - 2:
                return _Rec(**{**rec.__dict__, "kind": "hn_fwd"})
    return None


def _flat(args, kwargs):
    out = []
    fx.node.map_aggregate((args, kwargs), lambda a: out.append(a) or a)
    return out


def _replace(value, vals):
    return fx.node.map_aggregate(value, lambda a: DATA if isinstance(a, fx.Node) and isinstance(
        vals.get(a), (_Val, _Rec)) else a)


def _get_attrs(node: fx.Node) -> list[str]:
    """The get_attr targets ``node`` is computed from."""
    seen, out, stack = set(), [], [node]
    while stack:
        cur = stack.pop()
        if cur in seen:
            continue
        seen.add(cur)
        if cur.op == "get_attr":
            out.append(cur.target)
        stack += [a for a in _flat(cur.args, cur.kwargs) if isinstance(a, fx.Node)]
    return out
