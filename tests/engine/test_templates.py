"""Every built-in template is a valid document that compiles and trains one step."""
from __future__ import annotations

import json

import pytest
import torch

from engine.graph.compile import compile_graph
from engine.graph.errors import GraphError
from engine.graph.shapes import analyse
from engine.templates import first_sentence, list_templates, load_template, templates_dir

TEMPLATES = list_templates()
SLUGS = [t.slug for t in TEMPLATES]
EXPECTED = {"playground_mlp", "lenet", "alexnet_mini", "vgg_mini", "inception", "resnet", "plainnet",
            "resnext", "densenet", "xnor_net", "real_net", "rnn_classifier", "lstm_classifier",
            "gru_classifier", "char_lstm", "anbn_lstm", "convlstm_frames", "tcn",
            "autoencoder_transpose", "autoencoder_pixelshuffle"}


def test_every_promised_template_exists():
    assert EXPECTED <= set(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_template_analyses_cleanly_and_runs_a_training_step(slug):
    doc = load_template(slug)
    assert doc.name and len(doc.description) > 200
    assert isinstance(doc.dataset.get("name"), str)
    analysis = analyse(doc)
    assert analysis.problems == []
    assert analysis.total_params > 0

    torch.manual_seed(0)
    compiled = compile_graph(doc)
    shape = (2, *analysis.nodes[compiled.input_node].out_shape)
    if compiled.input_dtype == torch.long:
        x = torch.randint(0, 2, shape)
    else:
        x = torch.randn(shape)
    pred = compiled.model(x)
    expected_pred = analysis.nodes[doc.incoming(compiled.loss_node)[0].src].out_shape
    assert tuple(pred.shape) == (2, *expected_pred)
    if compiled.target_kind == "class":
        y = torch.randint(0, pred.shape[-1], pred.shape[:-1])
    else:
        y = torch.rand(pred.shape)
    loss = compiled.loss(pred, y)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in compiled.model.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("slug", SLUGS)
def test_template_layout_has_no_overlapping_nodes(slug):
    """Positions nest in blocks: within each level no two units share a spot, and every
    edge between two units of a level runs right, or down to the next row."""
    doc = load_template(slug)
    tree = doc.tree()
    pos = {n.id: n.pos for n in doc.nodes} | {b.id: b.pos for b in doc.blocks}
    for level, units in tree.children.items():
        spots = [pos[u] for u in units]
        assert len(set(spots)) == len(spots), level

    def unit(node_id, level):
        u = node_id
        while u is not None and tree.parent.get(u) != level:
            u = tree.parent.get(u)
        return u
    for e in doc.edges:
        for level in tree.children:
            a, b = unit(e.src, level), unit(e.dst, level)
            if a is not None and b is not None and a != b:
                assert pos[a][0] < pos[b][0] or pos[a][1] < pos[b][1], e.label


def test_twins_have_the_same_depth():
    def weight_layers(slug):
        return sum(1 for n in load_template(slug).nodes
                   if n.type in ("Conv2d", "Dense", "BinaryConv2d", "BinaryDense") and "proj" not in n.id)
    assert weight_layers("resnet") == weight_layers("plainnet") == 20
    assert weight_layers("xnor_net") == weight_layers("real_net")


def test_list_gives_slug_name_description_and_path():
    slug, name, description, path = next(t for t in TEMPLATES if t.slug == "lenet")
    assert (slug, name) == ("lenet", "LeNet-5")
    assert path == templates_dir() / "lenet.json"
    assert description == json.loads(path.read_text())["description"]
    assert first_sentence(description).endswith("in the original.")


def test_first_sentence_does_not_split_abbreviations():
    assert first_sentence("A net (e.g. this one) is 2.5 x bigger. Second.") == \
        "A net (e.g. this one) is 2.5 x bigger."
    assert first_sentence("No full stop") == "No full stop"


def test_unknown_template_is_a_graph_error_naming_it():
    with pytest.raises(GraphError, match="no template named 'nonesuch'"):
        load_template("nonesuch")
    with pytest.raises(GraphError):
        load_template("../pyproject")


@pytest.mark.parametrize("slug", SLUGS)
def test_template_fits_its_dataset(slug):
    from engine.data import check_compatible, describe
    from engine.graph.catalogue import CATALOGUE

    doc = load_template(slug)
    analysis = analyse(doc)
    inp = next(n for n in doc.nodes if n.type == "Input")
    loss = next(n for n in doc.nodes if CATALOGUE[n.type].role == "loss")
    pred = doc.incoming(loss.id)[0].src
    info = describe(doc.dataset["name"], doc.dataset.get("params"))
    check_compatible(info, analysis.nodes[inp.id].out_shape, analysis.nodes[inp.id].dtype,
                     analysis.nodes[pred].out_shape, CATALOGUE[loss.type].target, inp.id)
    if slug.startswith("autoencoder"):
        assert info.target_shape == info.input_shape  # reconstructs its input
