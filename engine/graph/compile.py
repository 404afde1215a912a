"""Compile a valid graph document into a torch.fx GraphModule (input -> prediction) and
its loss module. The GraphModule's ``code`` is readable Python, which is what export and
the "view code" action show."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn

from .catalogue import CATALOGUE
from .document import GraphDocument
from .shapes import NodeInfo, infer_shapes
from .validate import resolved_params, topological_order


@dataclass
class CompiledGraph:
    model: fx.GraphModule        # forward(x) -> prediction (what feeds the loss)
    loss: nn.Module              # forward(prediction, target) -> scalar
    input_node: str
    loss_node: str
    modules: dict[str, str]      # node id -> attribute name of its module in ``model``
    info: dict[str, NodeInfo]    # shape inference results per node

    def module_of(self, node_id: str) -> nn.Module:
        return self.model.get_submodule(self.modules[node_id])

    @property
    def target_kind(self) -> str:
        return CATALOGUE[self._loss_type].target

    @property
    def input_dtype(self) -> torch.dtype:
        return torch.long if self.info[self.input_node].dtype == "long" else torch.float32

    _loss_type: str = ""


def _attr_name(node_id: str) -> str:
    # A node id that clashes with an nn.Module attribute ("training", "eval") gets a suffix.
    return node_id + "_" if hasattr(nn.Module, node_id) else node_id


def compile_graph(doc: GraphDocument, device: str | torch.device = "cpu") -> CompiledGraph:
    """Build every node's module (with fresh weights from torch's current RNG state) and
    wire them into one GraphModule. Raises GraphError if the document is invalid."""
    info = infer_shapes(doc)
    by_id = {n.id: n for n in doc.nodes}
    root = nn.Module()
    graph = fx.Graph()
    values: dict[str, fx.Node] = {}
    modules: dict[str, str] = {}
    input_id = loss_id = ""
    loss_module: nn.Module | None = None
    for node_id in topological_order(doc):
        node = by_id[node_id]
        spec = CATALOGUE[node.type]
        params = resolved_params(node.type, node.params)
        if spec.role == "input":
            input_id = node_id
            values[node_id] = graph.placeholder("x")
            continue
        module = spec.build(params, info[node_id].in_shapes)
        if spec.role == "loss":
            loss_id, loss_module = node_id, module
            (pred_edge,) = doc.incoming(node_id)
            graph.output(values[pred_edge.src])
            continue
        name = _attr_name(node_id)
        root.add_module(name, module)
        modules[node_id] = name
        fx_node = graph.call_module(name, tuple(values[e.src] for e in doc.incoming(node_id)))
        fx_node.name = name
        values[node_id] = fx_node
    graph.lint()
    model = fx.GraphModule(root, graph, class_name=_class_name(doc.name)).to(device)
    compiled = CompiledGraph(model, loss_module.to(device), input_id, loss_id, modules, info)
    compiled._loss_type = by_id[loss_id].type
    return compiled


def _class_name(name: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in name).split()
    out = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
    return out if out[0].isalpha() else "Net" + out
