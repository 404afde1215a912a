"""A graph document as one standalone, readable PyTorch file.

The file defines an ``nn.Module`` subclass named after the graph: one attribute per node,
named by the node id, built with torch's own modules where torch has them (and small classes
written out in the same file where it does not: binary layers, ConvLSTM, LSTM variants,
causal convolution, ...), and a ``forward`` with one line per node, commented with the shape
it produces. Only torch is imported. Its state-dict names follow the attributes, so weights
from the compiled graph are renamed once (``CodeExport.exported_key``) and then load with a
plain ``model.load_state_dict``.
"""
from __future__ import annotations

import keyword
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..graph.catalogue import CATALOGUE, fmt_shape
from ..graph.compile import _attr_name, _class_name
from ..graph.document import GraphDocument
from ..graph.shapes import infer_shapes
from ..graph.validate import resolved_params, topological_order
from .code_helpers import helper_source
from .code_layers import EMITTERS, TORCH_LOSSES, LayerCode, init_lines, lit
from .errors import InteropError

_TAKEN = {"self", "torch", "nn", "F", "math"}


@dataclass
class CodeExport:
    source: str                   # the .py file's text
    class_name: str
    #: compiled-graph weight name prefix -> exported name prefix, longest first
    renames: list[tuple[str, str]] = field(default_factory=list)

    def exported_key(self, compiled_key: str) -> str:
        """The name a compiled graph's weight (``conv1.weight``, ``lstm.rnn.weight_ih_l0``)
        has in the exported module."""
        for old, new in self.renames:
            if compiled_key.startswith(old):
                return new + compiled_key[len(old):]
        return compiled_key

    def rename_weights(self, weights: dict) -> dict:
        return {self.exported_key(k): v for k, v in weights.items()}


def write_pytorch(doc: GraphDocument, py_path, weights=None, weights_path=None) -> CodeExport:
    """Write ``doc`` as a .py file and, with ``weights_path``, its weights (a GraphWeights;
    default: a fresh initialisation) as safetensors named for the file's class. Raises
    GraphError or InteropError, one sentence each."""
    from .weights import fresh_weights
    code = export_code(doc)
    if weights_path is not None:
        weights = weights or fresh_weights(doc)
    py_path = Path(py_path)
    tmp = py_path.with_name(py_path.name + ".tmp")
    try:
        tmp.write_text(code.source, encoding="utf-8")
        tmp.replace(py_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InteropError(f"Could not write {py_path}: {exc.strerror or exc}.") from None
    if weights_path is not None:
        _save_weights(doc, code, weights, weights_path)
    return code


def export_weights(doc: GraphDocument, weights, path) -> CodeExport:
    """Write ``weights`` (a GraphWeights of ``doc``) as safetensors, each tensor named as the
    exported code's ``state_dict`` names it. InteropError when they do not fit the graph."""
    code = export_code(doc)
    _save_weights(doc, code, weights, path)
    return code


def _save_weights(doc, code: CodeExport, weights, path) -> None:
    from .weights import check_fit, save_safetensors
    check_fit(doc, weights)
    meta = {"format": "neurostudio.weights", "graph": doc.name, "class": code.class_name, "origin": weights.origin}
    if weights.step is not None:
        meta["step"] = str(weights.step)
    save_safetensors(code.rename_weights(weights.weights), path, meta)


def python_name(node_id: str) -> str:
    """The attribute / variable a node id becomes: the compiled graph's attribute name, with
    a trailing underscore where it would be a Python keyword or shadow an import."""
    name = _attr_name(node_id)
    return name + "_" if keyword.iskeyword(name) or name in _TAKEN else name


def _build_meta(type_name: str, params: dict, in_shapes) -> nn.Module:
    with torch.device("meta"):
        return CATALOGUE[type_name].build(params, in_shapes)


def export_code(doc: GraphDocument, class_name: str | None = None) -> CodeExport:
    """The PyTorch source of ``doc``. Raises GraphError if the graph is invalid, and
    InteropError naming the node if one of its layer types has no code form."""
    info = infer_shapes(doc)
    order = topological_order(doc)
    by_id = {n.id: n for n in doc.nodes}
    cls = class_name or _class_name(doc.name)
    input_id = next(i for i in order if CATALOGUE[by_id[i].type].role == "input")
    loss_id = next(i for i in order if CATALOGUE[by_id[i].type].role == "loss")
    (pred_edge,) = doc.incoming(loss_id)
    consumers = {i: [e.dst for e in doc.outgoing(i) if e.dst != loss_id] for i in order}
    consumers[pred_edge.src].append("<return>")

    init: list[str] = []
    body: list[str] = []
    helpers: set[str] = set()
    renames: list[tuple[str, str]] = []
    chain = python_name(input_id)
    var = {input_id: chain}
    remaining = {i: len(c) for i, c in consumers.items()}
    for node_id in order:
        node = by_id[node_id]
        spec = CATALOGUE[node.type]
        if spec.role in ("input", "loss"):
            continue
        emit = EMITTERS.get(node.type)
        if emit is None:
            raise InteropError(f"Node '{node_id}' ({node.type}) has no PyTorch code form yet, so the "
                               f"graph cannot be exported as code.", node=node_id)
        params = resolved_params(node.type, node.params)
        in_shapes = info[node_id].in_shapes
        module = _build_meta(node.type, params, in_shapes)
        code: LayerCode = emit(module, params, in_shapes, info[node_id].out_shape)
        attr = python_name(node_id)
        helpers.update(code.helpers)
        if code.init is not None:
            init.append(f"self.{attr} = {code.init}")
            for suffix, ctor in code.extra:
                init.append(f"self.{attr}{suffix} = {ctor}")
            compiled_attr = _attr_name(node_id)
            keys = [(old, new.format(attr=attr)) for old, new in code.keys] + [("", attr + ".")]
            keys.sort(key=lambda kv: -len(kv[0]))
            renames += [(f"{compiled_attr}.{old}", new) for old, new in keys
                        if f"{compiled_attr}.{old}" != new]

            def exported(sub, keys=keys):
                return next(new + sub[len(old):] for old, new in keys if sub.startswith(old))
            init += init_lines("self", params, module, exported, code.gates)
        sources = [e.src for e in doc.incoming(node_id)]
        args = [var[s] for s in sources]
        for s in sources:
            remaining[s] -= 1
        out = _out_var(node_id, consumers, remaining, var, chain)
        var[node_id] = out
        comment = f"  # {fmt_shape(info[node_id].out_shape)}" + (f": {code.note}" if code.note else "")
        if callable(code.call):
            body.append(f"{out} = {code.call(args)}{comment}")
        else:
            for k, expr in enumerate(code.call):
                x = args[0] if k == 0 else out
                last = k == len(code.call) - 1
                body.append(f"{out} = {expr.format(self='self.' + attr, x=x)}" + (comment if last else ""))
    body.append(f"return {var[pred_edge.src]}")
    renames.sort(key=lambda kv: -len(kv[0]))
    source = _file(doc, cls, python_name(input_id), info, input_id, pred_edge.src, by_id[loss_id],
                   init, body, helpers)
    return CodeExport(source, cls, renames)


def _out_var(node_id, consumers, remaining, var, chain) -> str:
    """Where a node's value is kept: in the running variable (named like the input) when it
    has one use and the running variable's value is used up, else in a variable of its own
    (a value used twice, e.g. a residual skip, reads best by name)."""
    chain_busy = any(v == chain and remaining[i] > 0 for i, v in var.items())
    if len(consumers[node_id]) == 1 and not chain_busy:
        return chain
    return python_name(node_id)


def _docstring(doc, info, input_id, pred_id, loss) -> str:
    parts = [doc.name.strip() or "Network", ""]
    if doc.description.strip():
        parts += textwrap.wrap(doc.description.strip(), 88) + [""]
    in_info = info[input_id]
    dtype = "token ids (torch.long)" if in_info.dtype == "long" else "float32"
    loss_params = resolved_params(loss.type, loss.params)
    torch_loss = TORCH_LOSSES.get(loss.type, loss.type).format(**loss_params)
    parts += [f"Input {fmt_shape(in_info.out_shape)}, {dtype}; output {fmt_shape(info[pred_id].out_shape)}.",
              f"Trained in Neurostudio with the {loss.type} loss ({torch_loss} on the output).",
              "Exported from Neurostudio: needs only PyTorch."]
    return "\n".join(parts)


def _file(doc, cls, arg, info, input_id, pred_id, loss, init, body, helpers) -> str:
    helper_text, extra_imports = helper_source(helpers)
    imports = ["import math"] if "math" in extra_imports else []
    imports += ["import torch"]
    if "F" in extra_imports:
        imports.append("import torch.nn.functional as F")
    imports.append("from torch import nn")
    doc_text = _docstring(doc, info, input_id, pred_id, loss).replace('"""', "'''")
    in_shape = (2, *info[input_id].out_shape)
    example = (f"torch.randint(0, {_vocab(doc, input_id)}, {lit(in_shape)})" if info[input_id].dtype == "long"
               else f"torch.randn{lit(in_shape)}")
    lines = ['"""' + doc_text + '\n"""', *imports, ""]
    if helper_text:
        lines += ["", helper_text, ""]
    lines += ["", f"class {cls}(nn.Module):",
              textwrap.indent(f'"""{doc.name.strip() or cls}: {fmt_shape(info[input_id].out_shape)} -> '
                              f'{fmt_shape(info[pred_id].out_shape)}."""', "    "),
              "", "    def __init__(self):", "        super().__init__()"]
    lines += ["        " + line for line in init] or ["        pass"]
    lines += ["", f"    def forward(self, {arg}):"] + ["        " + line for line in body]
    lines += ["", "", 'if __name__ == "__main__":',
              f"    model = {cls}().eval()",
              "    # weights exported beside this file load with safetensors:",
              "    #   from safetensors.torch import load_file",
              f'    #   model.load_state_dict(load_file("{cls.lower()}.safetensors"))',
              f"    print(model({example}).shape)", ""]
    return "\n".join(lines)


def _vocab(doc, input_id) -> int:
    vocab = [resolved_params(e_node.type, e_node.params)["vocab"] for e_node in doc.nodes
             if e_node.type == "Embedding"]
    return min(vocab) if vocab else 2
