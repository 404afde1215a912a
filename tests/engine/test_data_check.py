"""The check before Train: a dataset that does not fit the graph is one sentence pinned to
the node that must change, with a fix where the right value is plain. Each case is a real
template with one thing changed, checked against the dataset's own facts."""
import numpy as np
import pytest

from engine.data.registry import describe
from engine.graph.data_check import check_data, dataset_info
from engine.graph.shapes import analyse
from engine.templates import load_template


def problems(doc, base_dir=None):
    analysis = analyse(doc)
    assert analysis.ok, analysis.problems  # the graph itself is sound in every case
    info, error = dataset_info(doc.dataset, base_dir)
    return check_data(doc, analysis, info, error)


def test_every_template_fits_its_own_dataset():
    from engine.templates import list_templates
    for t in list_templates():
        assert problems(load_template(t.slug)) == [], t.slug


def test_no_dataset_is_pinned_to_the_input():
    doc = load_template("playground_mlp")
    doc.dataset = None
    [p] = problems(doc)
    assert (p.node, str(p), p.fix) == ("x", "The graph has no dataset: choose one under Data & training.", None)


def test_more_logits_than_classes_is_pinned_to_the_layer_that_sets_them():
    doc = load_template("playground_mlp")
    doc.node("logits").params["units"] = 64
    [p] = problems(doc)
    classes = describe("spiral").num_classes
    assert p.node == "logits"
    assert str(p) == f"Dense 'logits' gives 64 class scores, but Dataset 'spiral' has {classes} classes (ids 0..{classes - 1})."
    assert (p.fix.node, p.fix.param, p.fix.value) == ("logits", "units", classes)


def test_a_vocabulary_smaller_than_the_texts_symbols():
    doc = load_template("char_lstm")
    symbols = len(describe("grammar_text", doc.dataset["params"]).class_names)
    doc.node("embed").params["vocab"] = symbols - 5
    found = problems(doc)
    [p] = [p for p in found if p.node == "embed"]
    assert str(p) == (f"Embedding 'embed' holds {symbols - 5} token ids, but Dataset 'grammar_text' uses "
                      f"{symbols} symbols (ids 0..{symbols - 1}).")
    assert (p.fix.param, p.fix.value) == ("vocab", symbols)


def test_input_shape_and_sequence_length_against_the_data():
    doc = load_template("anbn_lstm")
    shape = list(describe("anbn", doc.dataset.get("params")).input_shape)
    doc.node("x").params["shape"] = [shape[0] + 4, shape[1]]
    [p] = problems(doc)
    assert p.node == "x" and f"(N, {shape[0]}, {shape[1]})" in str(p) and f"(N, {shape[0] + 4}, {shape[1]})" in str(p)
    assert (p.fix.param, p.fix.value) == ("shape", shape)


def test_a_users_file_that_cannot_be_read_names_it(tmp_path):
    doc = load_template("playground_mlp")
    doc.dataset = {"path": "points.npz", "format": "npz"}
    [p] = problems(doc, tmp_path)
    assert p.node == "x" and "points.npz" in str(p)
    # the same relative path beside the graph file: read from the graph's folder
    x = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    np.savez(tmp_path / "points.npz", x=x, y=(x[:, 1] > 0).astype(np.int64))
    assert problems(doc, tmp_path) == []


@pytest.mark.parametrize("units", [1, 3])
def test_regression_targets_against_the_output(units):
    doc = load_template("playground_mlp")
    doc.dataset = {"name": "sine", "params": {}}
    doc.node("x").params["shape"] = [1]
    doc.nodes = [n for n in doc.nodes if n.id != "loss"]
    from engine.graph.document import Edge, Node
    doc.nodes.append(Node("loss", "MSE", {}, (0, 0)))
    doc.edges = [e for e in doc.edges if e.dst != "loss"] + [Edge("logits", "out", "loss", "in")]
    doc.node("logits").params["units"] = units
    found = problems(doc)
    if units == 1:
        assert found == []
    else:
        [p] = found
        assert p.node == "logits" and (p.fix.param, p.fix.value) == ("units", 1)
