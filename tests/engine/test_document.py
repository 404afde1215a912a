"""The graph document: round trips, and one typed, pinned GraphError per way a file can be wrong."""
from __future__ import annotations

import json

import pytest

from engine.graph.document import FORMAT_VERSION, GraphDocument, load_graph, save_graph
from engine.graph.errors import GraphError, ShapeError
from engine.graph.shapes import analyse
from engine.templates import list_templates, load_template


def base() -> dict:
    """Input -> Conv2d -> ReLU -> Flatten -> Dense -> CrossEntropy, as plain JSON data."""
    return {
        "format": "neurostudio.graph", "version": 1, "name": "tiny", "description": "A test graph.",
        "nodes": [
            {"id": "x", "type": "Input", "params": {"shape": [1, 8, 8]}, "pos": [0, 0]},
            {"id": "c1", "type": "Conv2d", "params": {"channels": 4}, "pos": [200, 0]},
            {"id": "r1", "type": "ReLU", "params": {}, "pos": [400, 0]},
            {"id": "f1", "type": "Flatten", "params": {}, "pos": [600, 0]},
            {"id": "d1", "type": "Dense", "params": {"units": 3}, "pos": [800, 0]},
            {"id": "loss", "type": "CrossEntropy", "params": {}, "pos": [1000, 0]},
        ],
        "edges": [{"from": "x.out", "to": "c1.in"}, {"from": "c1.out", "to": "r1.in"},
                  {"from": "r1.out", "to": "f1.in"}, {"from": "f1.out", "to": "d1.in"},
                  {"from": "d1.out", "to": "loss.in"}],
        "dataset": {"name": "shapes", "params": {}},
        "training": {"lr": 0.01, "batch_size": 16},
    }


def node(data: dict, node_id: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def load_error(data) -> GraphError:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(GraphError) as info:
        GraphDocument.from_json(text, source="Graph file test.json")
    err = info.value
    assert "\n" not in str(err) and str(err).endswith(".")
    return err


# -- round trips ---------------------------------------------------------------------

def test_base_document_is_valid_and_analyses_cleanly():
    doc = GraphDocument.from_dict(base())
    assert analyse(doc).problems == []
    assert analyse(doc).nodes["f1"].out_shape == (4 * 8 * 8,)


def test_json_round_trip_gives_an_equal_document():
    doc = GraphDocument.from_dict(base())
    again = GraphDocument.from_json(doc.to_json())
    assert again == doc
    # a version 1 file comes back in the current version, with no blocks
    assert again.to_dict() == base() | {"version": FORMAT_VERSION, "blocks": [], "nodes": again.to_dict()["nodes"]}
    assert [n.pos for n in again.nodes] == [(0.0, 0.0), (200.0, 0.0), (400.0, 0.0), (600.0, 0.0),
                                           (800.0, 0.0), (1000.0, 0.0)]


def test_file_round_trip_gives_an_equal_document(tmp_path):
    doc = GraphDocument.from_dict(base())
    doc.node("c1").params["kernel"] = 5
    doc.node("c1").pos = (210.5, -30.25)
    path = tmp_path / "g.json"
    save_graph(doc, path)
    loaded = load_graph(path)
    assert loaded == doc
    assert loaded.node("c1").params == {"channels": 4, "kernel": 5}
    assert loaded.node("c1").pos == (210.5, -30.25)
    assert not (tmp_path / "g.json.tmp").exists()
    assert loaded != GraphDocument.from_dict(base())


@pytest.mark.parametrize("slug", [t.slug for t in list_templates()])
def test_every_template_round_trips_through_a_file(tmp_path, slug):
    doc = load_template(slug)
    save_graph(doc, tmp_path / "t.json")
    assert load_graph(tmp_path / "t.json") == doc


# -- one error per way to be wrong ----------------------------------------------------

def test_malformed_json():
    err = load_error('{"format": "neurostudio.graph",\n "nodes": [}')
    assert "not valid JSON" in str(err) and "line 2" in str(err)


def test_top_level_not_an_object():
    assert "expected a JSON object" in str(load_error("[1, 2]"))


def test_wrong_format_name():
    data = base() | {"format": "keras.model"}
    assert "not a Neurostudio graph" in str(load_error(data))
    assert "'keras.model'" in str(load_error(data))


def test_newer_version_asks_to_update():
    err = load_error(base() | {"version": FORMAT_VERSION + 1})
    assert f"version {FORMAT_VERSION + 1}" in str(err) and "update" in str(err)


@pytest.mark.parametrize("version", [0, -3, "1", None, True])
def test_unknown_or_missing_version(version):
    assert "version" in str(load_error(base() | {"version": version}))


def test_unknown_layer_type():
    data = base()
    node(data, "r1")["type"] = "Relu"
    err = load_error(data)
    assert err.node == "r1" and "unknown layer type 'Relu'" in str(err)


def test_unknown_param():
    data = base()
    node(data, "c1")["params"]["filters"] = 8
    err = load_error(data)
    assert err.node == "c1" and "unknown param 'filters'" in str(err) and "channels" in str(err)


def test_param_of_the_wrong_type():
    data = base()
    node(data, "c1")["params"]["channels"] = "16"
    err = load_error(data)
    assert err.node == "c1" and "'channels' must be a whole number, got '16'" in str(err)


def test_param_out_of_range():
    data = base()
    node(data, "d1")["params"]["units"] = 0
    err = load_error(data)
    assert err.node == "d1" and "'units' must be at least 1, got 0" in str(err)


def test_missing_required_param():
    data = base()
    data["nodes"].insert(4, {"id": "rs", "type": "Reshape", "params": {}, "pos": [700, 0]})
    data["edges"][3] = {"from": "f1.out", "to": "rs.in"}
    data["edges"].append({"from": "rs.out", "to": "d1.in"})
    err = load_error(data)
    assert err.node == "rs" and "missing its required param 'shape'" in str(err)


def test_duplicate_ids():
    data = base()
    node(data, "r1")["id"] = "c1"
    err = load_error(data)
    assert err.node == "c1" and "share the id 'c1'" in str(err)


def test_invalid_id():
    data = base()
    node(data, "r1")["id"] = "r-1"
    assert "invalid id 'r-1'" in str(load_error(data))


def test_edge_to_a_missing_node():
    data = base()
    data["edges"][1] = {"from": "c1.out", "to": "relu9.in"}
    err = load_error(data)
    assert err.edge == "c1.out -> relu9.in" and "missing node 'relu9'" in str(err)


def test_edge_to_a_missing_port():
    data = base()
    data["edges"][1] = {"from": "c1.out", "to": "r1.input"}
    err = load_error(data)
    assert err.edge == "c1.out -> r1.input" and err.node == "r1"
    assert "missing port 'input' of node 'r1'" in str(err)


def test_edge_end_without_a_port():
    data = base()
    data["edges"][1] = {"from": "c1", "to": "r1.in"}
    assert 'expected "node.port"' in str(load_error(data))


def test_cycle():
    data = base()
    data["edges"].append({"from": "r1.out", "to": "c1.in"})  # c1.in is then fed twice: use an Add
    data["nodes"].append({"id": "sum", "type": "Add", "params": {}, "pos": [100, 100]})
    data["edges"][0] = {"from": "x.out", "to": "sum.in"}
    data["edges"][-1] = {"from": "r1.out", "to": "sum.in"}
    data["edges"].append({"from": "sum.out", "to": "c1.in"})
    err = load_error(data)
    assert "cycle" in str(err) and err.node in {"c1", "r1", "sum"}
    assert "c1 -> r1 -> sum -> c1" in str(err) or "sum -> c1 -> r1 -> sum" in str(err) \
        or "r1 -> sum -> c1 -> r1" in str(err)


def test_no_input():
    data = base()
    data["nodes"] = [n for n in data["nodes"] if n["id"] != "x"]
    data["edges"] = data["edges"][1:]
    err = load_error(data)
    assert "no Input node" in str(err) and err.node is None
    problems = analyse(GraphDocument.from_dict(data, validate=False)).problems
    assert any(p.node == "c1" and "nothing connected to its input 'in'" in str(p) for p in problems)


def test_no_output():
    data = base()
    data["nodes"] = [n for n in data["nodes"] if n["id"] != "loss"]
    data["edges"] = data["edges"][:-1]
    err = load_error(data)
    assert "no output" in str(err) and "loss node" in str(err) and err.node is None


def test_input_port_fed_twice():
    data = base()
    data["edges"].append({"from": "x.out", "to": "r1.in"})
    err = load_error(data)
    assert err.node == "r1" and "fed by both 'c1' and 'x'" in str(err) and err.edge == "x.out -> r1.in"


def test_unconnected_node():
    data = base()
    data["nodes"].append({"id": "lonely", "type": "Tanh", "params": {}, "pos": [400, 200]})
    err = load_error(data)
    assert err.node == "lonely" and "nothing connected" in str(err)


def test_dangling_branch_that_does_not_reach_the_loss():
    data = base()
    data["nodes"].append({"id": "side", "type": "Tanh", "params": {}, "pos": [400, 200]})
    data["edges"].append({"from": "c1.out", "to": "side.in"})
    err = load_error(data)
    assert err.node == "side" and "does not lead to the loss 'loss'" in str(err)


def test_unknown_training_setting():
    data = base()
    data["training"]["learning_rate"] = 0.1
    assert "Training setting 'learning_rate' is unknown" in str(load_error(data))


def test_load_graph_names_a_missing_or_binary_file(tmp_path):
    with pytest.raises(GraphError, match="nope.json does not exist"):
        load_graph(tmp_path / "nope.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(GraphError, match="not a text file"):
        load_graph(tmp_path / "bin.json")


# -- loading never executes code ----------------------------------------------------

def test_python_object_tags_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    data = base()
    node(data, "c1")["params"]["__class__"] = {"!!python/object/apply:os.system": [payload]}
    assert "unknown param '__class__'" in str(load_error(data))
    data = base()
    node(data, "r1")["type"] = "!!python/object/apply:eval"
    assert "unknown layer type '!!python/object/apply:eval'" in str(load_error(data))
    # where free text is allowed, such strings are just text
    data = base() | {"name": "!!python/object/apply:eval", "description": payload,
                     "__reduce__": ["os.system", payload]}
    doc = GraphDocument.from_json(json.dumps(data))
    assert doc.name == "!!python/object/apply:eval" and doc.description == payload
    assert not marker.exists()


# -- analyse: every problem at once, shapes pinned ------------------------------------

def test_analyse_collects_several_problems_each_pinned_to_its_node():
    data = base()
    node(data, "r1")["type"] = "Sigmund"
    node(data, "d1")["params"]["units"] = -2
    data["nodes"].append({"id": "lonely", "type": "Tanh", "params": {}, "pos": [0, 200]})
    problems = analyse(GraphDocument.from_dict(data, validate=False)).problems
    pinned = {p.node for p in problems}
    assert {"r1", "d1", "lonely"} <= pinned
    assert len(problems) >= 3


def test_shape_error_is_pinned_to_the_node_and_names_its_source():
    data = base()
    # Flatten before the convolution: the Conv2d now gets (N, 64)
    data["edges"] = [{"from": "x.out", "to": "f1.in"}, {"from": "f1.out", "to": "c1.in"},
                     {"from": "c1.out", "to": "r1.in"}, {"from": "r1.out", "to": "d1.in"},
                     {"from": "d1.out", "to": "loss.in"}]
    doc = GraphDocument.from_dict(data)  # structurally fine: shapes are analyse()'s business
    result = analyse(doc)
    assert len(result.problems) == 1
    (err,) = result.problems
    assert isinstance(err, ShapeError) and err.node == "c1"
    assert str(err) == "Conv2d 'c1' expects (N, C, H, W); got (N, 64) from Flatten 'f1'."
    assert result.nodes["f1"].out_shape == (64,)
    assert "c1" not in result.nodes and "d1" not in result.nodes  # nothing guessed downstream


def test_shape_errors_and_structural_errors_come_together():
    data = base()
    node(data, "x")["params"]["shape"] = [1, 2, 2]
    node(data, "c1")["params"]["padding"] = "valid"
    node(data, "c1")["params"]["kernel"] = 5
    data["training"]["optimizer"] = "adagrad"
    problems = analyse(GraphDocument.from_dict(data, validate=False)).problems
    messages = [str(p) for p in problems]
    assert any("optimizer" in m and "adagrad" in m for m in messages)
    shape = [p for p in problems if isinstance(p, ShapeError)]
    assert len(shape) == 1 and shape[0].node == "c1" and "kernel spans 5" in str(shape[0])


def test_analyse_survives_an_edge_to_a_missing_node():
    data = base()
    data["edges"].append({"from": "d1.out", "to": "ghost.in"})
    result = analyse(GraphDocument.from_dict(data, validate=False))
    assert [str(p) for p in result.problems] == ["Edge d1.out -> ghost.in refers to a missing node 'ghost'."]
    assert result.nodes["d1"].out_shape == (3,)


@pytest.mark.parametrize("type_name, params, in_shapes", [
    ("ReLU", {}, [(3, 5, 5)]), ("Softmax", {}, [(7,)]), ("Dropout", {"p": 0.3}, [(4, 9)]),
    ("BatchNorm1d", {}, [(6, 11)]), ("BatchNorm2d", {}, [(3, 4, 4)]), ("LocalResponseNorm", {}, [(8, 3, 3)]),
    ("Add", {}, [(2, 3), (2, 3), (2, 3)]), ("Multiply", {}, [(5,), (5,)]),
    ("Concat", {"dim": 1}, [(3, 4, 4), (5, 4, 4)]), ("Concat", {"dim": 2}, [(6, 2), (6, 7), (6, 1)]),
    ("Concat", {"dim": 3}, [(2, 3, 4), (2, 3, 1)]),
])
def test_shape_rules_agree_with_running_the_layer(type_name, params, in_shapes):
    """analyse() skips the meta forward for layers whose output shape follows by a rule;
    the rule must give what torch gives."""
    import torch

    from engine.graph.catalogue import CATALOGUE
    from engine.graph.shapes import _SHAPE_RULES, infer_node
    from engine.graph.validate import resolved_params

    full = resolved_params(type_name, params)
    module = CATALOGUE[type_name].build(full, in_shapes).eval()
    real = module(*[torch.randn(2, *s) for s in in_shapes])
    sources = [("Input", f"x{i}") for i in range(len(in_shapes))]
    info = infer_node("n", type_name, params, in_shapes, sources)
    assert type_name in _SHAPE_RULES
    assert info.out_shape == tuple(real.shape[1:])
    assert info.n_params == sum(p.numel() for p in module.parameters())
