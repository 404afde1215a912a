"""Blocks in the graph document: the format round-trips them, a version 1 document opens as it
was, every malformed block is one sentence, the compiler never sees them, and an imported
module gets one block per submodule."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.graph.blocks import MAX_BLOCK_DEPTH, block_ports
from engine.graph.compile import compile_graph
from engine.graph.document import FORMAT_VERSION, GraphDocument, load_graph, save_graph
from engine.graph.errors import GraphError
from engine.graph.shapes import analyse
from engine.interop.fx_import import import_module
from engine.templates import load_template

V1_RESNET = Path(__file__).parent / "data" / "resnet_v1.json"


def nested() -> dict:
    """The v1 ResNet-20 file with a stage block holding two basic blocks (version 2)."""
    data = json.loads(V1_RESNET.read_text())
    data["version"] = FORMAT_VERSION
    data["blocks"] = [
        {"id": "stage1", "name": "Stage 1", "parent": None, "nodes": [], "collapsed": True, "pos": [10, 20]},
        {"id": "b1", "name": "Block 1", "parent": "stage1", "collapsed": False, "pos": [0, 0],
         "nodes": [n["id"] for n in data["nodes"] if n["id"].startswith("s1b1_")]},
        {"id": "b2", "name": "Block 2", "parent": "stage1", "collapsed": True, "pos": [300, 0],
         "nodes": [n["id"] for n in data["nodes"] if n["id"].startswith("s1b2_")]},
    ]
    return data


def test_blocks_round_trip_through_a_file(tmp_path):
    doc = GraphDocument.from_dict(nested())
    tree = doc.tree()
    assert tree.children["stage1"] == ["b1", "b2"] and tree.ancestors("s1b2_add") == ["b2", "stage1"]
    assert len(tree.members("stage1")) == 14 and doc.node("s1b1_conv1").block == "b1"
    assert tree.shown_as("s1b1_conv1") == "stage1"  # the stage is folded around its open block
    save_graph(doc, tmp_path / "g.json")
    again = load_graph(tmp_path / "g.json")
    assert again == doc and again.to_dict()["blocks"] == doc.to_dict()["blocks"]
    assert again.to_dict()["blocks"][1]["nodes"][:2] == ["s1b1_conv1", "s1b1_bn1"]


def test_a_version_1_document_opens_unchanged():
    raw = json.loads(V1_RESNET.read_text())
    assert raw["version"] == 1
    doc = GraphDocument.from_dict(raw)
    data = doc.to_dict()
    assert data["version"] == FORMAT_VERSION and data["blocks"] == []
    assert {k: v for k, v in data.items() if k not in ("version", "blocks")} == \
        {k: v for k, v in raw.items() if k != "version"}
    assert all(n.block is None for n in doc.nodes)
    # and computes what the current template (the same network, with blocks) computes
    assert analyse(doc).total_params == analyse(load_template("resnet")).total_params


def test_block_ports_are_the_edges_crossing_its_boundary():
    doc = GraphDocument.from_dict(nested())
    ins, outs = block_ports(doc, doc.tree(), "b1")
    # the stage's input feeds conv1 and the skip into add: one port
    assert ins == [("stem_relu", "out")] and outs == [("s1b1_relu2", "out")]


def _compiled_output(doc: GraphDocument) -> torch.Tensor:
    torch.manual_seed(0)
    compiled = compile_graph(doc)
    torch.manual_seed(1)
    x = torch.randn(2, 1, 28, 28)
    return compiled.model.eval()(x)


def test_compiled_outputs_are_identical_folded_open_or_without_blocks():
    folded = GraphDocument.from_dict(nested())
    opened = copy.deepcopy(folded)
    for b in opened.blocks:
        b.collapsed = False
    flat = GraphDocument.from_dict(json.loads(V1_RESNET.read_text()))
    a, b, c = _compiled_output(folded), _compiled_output(opened), _compiled_output(flat)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert compile_graph(folded).model.code == compile_graph(flat).model.code


def _error(mutate) -> str:
    data = nested()
    mutate(data)
    with pytest.raises(GraphError) as info:
        GraphDocument.from_json(json.dumps(data), source="Graph file g.json")
    text = str(info.value)
    assert "\n" not in text and text.endswith(".")
    return text


def _deep(data):
    data["blocks"] = [{"id": f"k{i}", "parent": f"k{i - 1}" if i else None, "nodes": []}
                      for i in range(MAX_BLOCK_DEPTH + 1)]


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.__setitem__("blocks", {"id": "a"}), "blocks entry that is not a list"),
    (lambda d: d["blocks"].append("stage"), "Block #4 is not an object"),
    (lambda d: d["blocks"][1].__setitem__("id", "1x"), "Block #2 has an invalid id '1x'"),
    (lambda d: d["blocks"][2].__setitem__("id", "b1"), "Two blocks share the id 'b1'"),
    (lambda d: d["blocks"][1].__setitem__("id", "stem"), "Block 'stem' has the same id as a node"),
    (lambda d: d["blocks"][1]["nodes"].append("ghost"), "Block 'b1' lists 'ghost', which is not a node"),
    (lambda d: d["blocks"][2]["nodes"].append("s1b1_add"), "Node 's1b1_add' is listed in both block 'b1' and"),
    (lambda d: d["blocks"][1].__setitem__("parent", "nowhere"), "names a parent 'nowhere' that is not a block"),
    (lambda d: d["blocks"][0].__setitem__("parent", "b2"), "is inside itself"),
    (lambda d: d["blocks"][0].__setitem__("collapsed", "yes"), "collapsed flag 'yes' that is not true or false"),
    (lambda d: d["blocks"][0].__setitem__("pos", [1]), "Block 'stage1' has an invalid position"),
    (lambda d: d["blocks"][0].__setitem__("name", 7), "a name that is not text"),
    (_deep, f"nested more than {MAX_BLOCK_DEPTH} levels deep"),
])
def test_a_malformed_block_is_one_sentence(mutate, words):
    assert words in _error(mutate)


# -- import: one block per submodule ---------------------------------------------------------

class Residual(nn.Module):
    def __init__(self, c, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c if stride == 1 else c // 2, c, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.down = None if stride == 1 else nn.Sequential(nn.Conv2d(c // 2, c, 1, stride=2), nn.BatchNorm2d(c))

    def forward(self, x):
        skip = x if self.down is None else self.down(x)
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + skip)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.stage1 = nn.Sequential(Residual(4), Residual(4))
        self.stage2 = nn.Sequential(Residual(8, stride=2), Residual(8))
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stage2(self.stage1(self.stem(x)))
        return self.head(x.mean((2, 3)))


def test_a_resnet_module_imports_with_one_block_per_submodule():
    torch.manual_seed(0)
    model = TinyResNet()
    result = import_module(model, (3, 8, 8))
    doc = result.doc
    stepped_into = {"stem", "stage1", "stage1.0", "stage1.1", "stage2", "stage2.0", "stage2.0.down", "stage2.1"}
    assert {b.name.split(" ")[0] for b in doc.blocks} == stepped_into
    by_path = {b.name.split(" ")[0]: b for b in doc.blocks}
    assert by_path["stage2.0"].name == "stage2.0 (Residual)" and by_path["stage1"].parent is None
    assert doc.block(by_path["stage2.0.down"].parent) is by_path["stage2.0"]
    assert doc.block(by_path["stage2.0"].parent) is by_path["stage2"]
    for n in doc.nodes:  # each layer sits in the block of the module whose forward made it
        origin = result.origins.get(n.id)
        scope = origin.scope if origin is not None else ""
        assert (n.block is None) == (scope == "") and (not scope or by_path[scope].id == n.block), n.id
    assert doc.node("stage2_0_conv1").block == by_path["stage2.0"].id
    assert all(b.collapsed for b in doc.blocks)
    again = GraphDocument.from_json(doc.to_json())  # a valid file
    assert again == doc and analyse(again).ok
    compiled = compile_graph(again)
    compiled.model.load_state_dict({k: torch.from_numpy(v) for k, v in result.weights.items()})
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(compiled.model.eval()(x), model.eval()(x), atol=1e-5)
