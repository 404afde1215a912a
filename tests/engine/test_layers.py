"""Every layer type of the catalogue: shape inference agrees with a real forward pass, the
compiled graph trains (finite gradients reach every parameter), FLOPs match the textbook
for Dense and Conv2d, and shape errors are sentences naming the right node."""
from __future__ import annotations

import pytest
import torch

from engine.graph.catalogue import CATALOGUE
from engine.graph.compile import compile_graph
from engine.graph.document import Edge, GraphDocument, Node
from engine.graph.errors import ShapeError
from engine.graph.shapes import analyse

CLASSES = 3
BATCH = 4

# Layer type -> cases of (input shape without batch, params). The node under test has id "n".
CASES: dict[str, list[tuple[tuple[int, ...], dict]]] = {
    "Input": [((5,), {})],
    "Dense": [((6,), {"units": 5}), ((3, 6), {"units": 5, "bias": False, "weight_init": "xavier"})],
    "Flatten": [((2, 3, 4), {})],
    "Reshape": [((12,), {"shape": [3, 4]}), ((12,), {"shape": [-1, 2]})],
    "Permute": [((3, 5), {"order": [2, 1]})],
    "Dropout": [((6,), {"p": 0.3})],
    "Embedding": [((5,), {"vocab": 10, "dim": 4})],
    "Conv1d": [((2, 9), {"channels": 4}),
               ((2, 9), {"channels": 4, "groups": 2, "stride": 2, "padding": "valid", "weight_init": "kaiming"})],
    "Conv2d": [((2, 6, 6), {"channels": 4}),
               ((2, 7, 7), {"channels": 4, "groups": 2, "dilation": 2, "padding": 1, "stride": 2})],
    "CausalConv1d": [((2, 9), {"channels": 3, "dilation": 2})],
    "ConvTranspose2d": [((2, 4, 4), {"channels": 3})],
    "Upsample": [((2, 3, 3), {}), ((2, 3, 3), {"mode": "bilinear", "scale": 3})],
    "PixelShuffle": [((8, 3, 3), {"scale": 2})],
    "MaxPool1d": [((2, 8), {})],
    "MaxPool2d": [((2, 6, 6), {"kernel": 3, "stride": 2}), ((2, 5, 5), {"kernel": 3, "stride": 1, "padding": 1})],
    "AvgPool1d": [((2, 8), {"kernel": 3}), ((2, 2), {"kernel": 3, "padding": 1})],
    "AvgPool2d": [((2, 6, 6), {})],
    "GlobalAvgPool": [((3, 5), {}), ((3, 4, 4), {})],
    "BatchNorm1d": [((5,), {}), ((3, 6), {})],
    "BatchNorm2d": [((3, 4, 4), {})],
    "LocalResponseNorm": [((6, 4, 4), {"size": 3})],
    "ReLU": [((6,), {})], "LeakyReLU": [((6,), {})], "ELU": [((6,), {})], "SELU": [((6,), {})],
    "Sigmoid": [((6,), {})], "Tanh": [((6,), {})], "SiLU": [((6,), {})], "GELU": [((6,), {})],
    "Maxout": [((6,), {"pieces": 3}), ((4, 3, 3), {"pieces": 2})],
    "Softmax": [((6,), {})],
    # Merge nodes get two Dense branches "a" and "b" of the params' "units" (see _merge_doc).
    "Add": [((3, 5), {})],
    "Multiply": [((5,), {})],
    "Concat": [((5,), {"dim": 1}), ((3, 5), {"dim": 2})],
    "RNN": [((5, 3), {"units": 4}),
            ((5, 3), {"units": 4, "bidirectional": True, "learned_h0": True, "return_sequences": False,
                      "weight_init": "orthogonal"})],
    "LSTM": [((5, 3), {"units": 4}),
             ((5, 3), {"units": 4, "bidirectional": True, "return_sequences": False,
                       "weight_init": "orthogonal", "bias_init": "ones"}),
             ((5, 3), {"units": 4, "variant": "peephole", "weight_init": "xavier"}),
             ((5, 3), {"units": 4, "variant": "coupled", "return_sequences": False})],
    "GRU": [((5, 3), {"units": 4}), ((5, 3), {"units": 4, "bidirectional": True, "return_sequences": False,
                                             "weight_init": "orthogonal", "bias_init": "zeros"})],
    "ConvLSTM": [((3, 2, 5, 5), {"channels": 3}),
                 ((3, 2, 4, 4), {"channels": 2, "kernel": 1, "return_sequences": True,
                                 "weight_init": "orthogonal"})],
    "BinaryDense": [((6,), {"units": 5}), ((6,), {"units": 5, "mode": "bwn", "bias": False})],
    "BinaryConv2d": [((2, 6, 6), {"channels": 3}),
                     ((2, 7, 7), {"channels": 3, "mode": "bwn", "stride": 2, "padding": 1})],
    # Loss nodes are fed by a Dense "head".
    "CrossEntropy": [((6,), {}), ((4, 6), {})],
    "BinaryCrossEntropy": [((6,), {})],
    "MSE": [((6,), {})],
    "L1": [((6,), {})],
    "Huber": [((6,), {"delta": 0.5})],
}


def _doc(nodes, edges, input_shape, dtype="float") -> GraphDocument:
    nodes = [Node("x", "Input", {"shape": list(input_shape), "dtype": dtype})] + [
        Node(i, t, dict(p)) for i, t, p in nodes]
    return GraphDocument(nodes=nodes, edges=[Edge(a, "out", b, "in") for a, b in edges], name="layer test")


def _chain(input_shape, layers, dtype="float", loss="CrossEntropy") -> GraphDocument:
    layers = [*layers, ("loss", loss, {})]
    ids = ["x"] + [i for i, _, _ in layers]
    return _doc(layers, list(zip(ids, ids[1:])), input_shape, dtype)


def case_doc(type_name: str, shape, params) -> GraphDocument:
    spec = CATALOGUE[type_name]
    head = ("head", "Dense", {"units": CLASSES})
    if spec.role == "input":
        return _doc([head, ("loss", "CrossEntropy", {})], [("x", "head"), ("head", "loss")], shape)
    if spec.role == "loss":
        return _chain(shape, [head], loss=type_name) if not params else _doc(
            [head, ("loss", type_name, params)], [("x", "head"), ("head", "loss")], shape)
    if spec.role == "merge":
        units_b = 3 if type_name == "Concat" else 4
        nodes = [("a", "Dense", {"units": 4}), ("b", "Dense", {"units": units_b}), ("n", type_name, params),
                 ("flat", "Flatten", {}), head, ("loss", "CrossEntropy", {})]
        edges = [("x", "a"), ("x", "b"), ("a", "n"), ("b", "n"), ("n", "flat"), ("flat", "head"),
                 ("head", "loss")]
        return _doc(nodes, edges, shape)
    dtype = "long" if type_name == "Embedding" else "float"
    return _chain(shape, [("n", type_name, params), ("flat", "Flatten", {}), head], dtype=dtype)


def _input(shape, dtype, params) -> torch.Tensor:
    if dtype == "long":
        return torch.randint(0, params["vocab"], (BATCH, *shape))
    return torch.randn(BATCH, *shape)


def _target(kind: str, loss_type: str, pred: torch.Tensor) -> torch.Tensor:
    if kind == "class":
        return torch.randint(0, pred.shape[-1], pred.shape[:-1])
    if loss_type == "BinaryCrossEntropy":
        return torch.randint(0, 2, pred.shape).float()
    return torch.randn(pred.shape)


@pytest.mark.parametrize("type_name", list(CATALOGUE))
def test_every_layer_infers_compiles_and_trains(type_name):
    if type_name not in CASES:
        pytest.fail(f"layer type {type_name} has no test case in CASES")
    for shape, params in CASES[type_name]:
        torch.manual_seed(0)
        doc = case_doc(type_name, shape, params)
        analysis = analyse(doc)
        assert analysis.ok, [str(p) for p in analysis.problems]
        compiled = compile_graph(doc)
        seen: dict[str, tuple] = {}
        probe = "n" if "n" in compiled.modules else "head"
        def record(module, inputs, output):
            seen["shape"] = tuple(output.shape[1:])  # returns None: keeps the output

        handle = compiled.module_of(probe).register_forward_hook(record)
        try:
            x = _input(shape, compiled.info["x"].dtype, params)
            assert x.dtype == compiled.input_dtype
            pred = compiled.model(x)
        finally:
            handle.remove()
        assert seen["shape"] == analysis.nodes[probe].out_shape, (type_name, params)
        assert tuple(pred.shape[1:]) == analysis.nodes["head"].out_shape
        loss = compiled.loss(pred, _target(compiled.target_kind, doc.node("loss").type, pred))
        assert loss.dim() == 0 and torch.isfinite(loss)
        loss.backward()
        params_seen = list(compiled.model.named_parameters())
        assert params_seen
        for name, p in params_seen:
            assert p.grad is not None, f"{type_name} {params}: no gradient reaches {name}"
            assert torch.isfinite(p.grad).all(), f"{type_name} {params}: non-finite gradient in {name}"
            assert p.grad.abs().sum() > 0, f"{type_name} {params}: zero gradient in {name}"
        if probe == "n":
            n_params = sum(p.numel() for p in compiled.module_of("n").parameters())
            assert analysis.nodes["n"].n_params == n_params


def test_no_case_for_an_unknown_layer_type():
    assert set(CASES) <= set(CATALOGUE), set(CASES) - set(CATALOGUE)


def _flops(type_name, shape, params):
    return analyse(case_doc(type_name, shape, params)).nodes["n"].flops


def test_dense_flops_are_inputs_times_outputs():
    assert _flops("Dense", (20,), {"units": 7}) == 20 * 7
    assert _flops("Dense", (5, 20), {"units": 7}) == 5 * 20 * 7  # per time step


def test_conv2d_flops_follow_the_textbook_formula():
    # out_channels · H_out · W_out · (in_channels / groups) · k²
    assert _flops("Conv2d", (3, 8, 8), {"channels": 5, "kernel": 3}) == 5 * 8 * 8 * 3 * 3 * 3
    assert _flops("Conv2d", (4, 9, 9), {"channels": 6, "kernel": 3, "stride": 2, "padding": "valid",
                                         "groups": 2}) == 6 * 4 * 4 * 2 * 3 * 3


def test_recurrent_flops_follow_the_gate_count():
    t, f, h = 5, 3, 4
    assert _flops("RNN", (t, f), {"units": h}) == t * h * (f + h)
    assert _flops("LSTM", (t, f), {"units": h, "bidirectional": True}) == 2 * t * 4 * h * (f + h)
    assert _flops("LSTM", (t, f), {"units": h, "variant": "coupled"}) == t * 3 * h * (f + h)
    assert _flops("GRU", (t, f), {"units": h}) == t * 3 * h * (f + h)
    assert _flops("ConvLSTM", (t, 2, 6, 6), {"channels": 3}) == t * 6 * 6 * 4 * 3 * (2 + 3) * 9


def _only_problem(doc):
    problems = analyse(doc).problems
    assert len(problems) == 1, [str(p) for p in problems]
    assert isinstance(problems[0], ShapeError)
    return problems[0]


def test_conv2d_after_flatten_names_both_nodes():
    doc = _chain((1, 28, 28), [("f1", "Flatten", {}), ("c1", "Conv2d", {}), ("flat", "Flatten", {}),
                               ("head", "Dense", {"units": 3})])
    err = _only_problem(doc)
    assert err.node == "c1"
    assert str(err) == "Conv2d 'c1' expects (N, C, H, W); got (N, 784) from Flatten 'f1'."
    with pytest.raises(ShapeError, match="Conv2d 'c1' expects"):
        compile_graph(doc)


def test_lstm_after_flatten_names_both_nodes():
    err = _only_problem(_chain((1, 28, 28), [("f1", "Flatten", {}), ("l1", "LSTM", {}),
                                             ("head", "Dense", {"units": 3})]))
    assert (err.node, str(err)) == ("l1", "LSTM 'l1' expects (N, T, features); got (N, 784) from Flatten 'f1'.")


@pytest.mark.parametrize("type_name, shape, params, sentence", [
    ("LSTM", (5, 3), {"variant": "peephole", "bidirectional": True},
     "LSTM 'n': the peephole variant runs in one direction only"),
    ("ConvLSTM", (3, 2, 5, 5), {"kernel": 4}, "ConvLSTM 'n': its kernel must be odd"),
    ("ConvLSTM", (2, 5, 5), {}, "ConvLSTM 'n' expects (N, T, C, H, W); got (N, 2, 5, 5) from Input 'x'."),
    ("BinaryDense", (2, 5, 5), {}, "BinaryDense 'n' expects (N, features); got (N, 2, 5, 5) from Input 'x'."),
    ("BinaryConv2d", (2, 3, 3), {"kernel": 5, "padding": "valid"},
     "BinaryConv2d 'n': its kernel spans 5 positions but the padded input is only 3x3."),
    ("MaxPool2d", (2, 5, 5), {"kernel": 2, "padding": 2},
     "MaxPool2d 'n': its padding 2 must be at most half its window 2."),
    ("AvgPool2d", (2, 2, 2), {"kernel": 3}, "AvgPool2d 'n': its window 3 is larger than the input 2x2."),
    ("GRU", (5, 3, 2), {}, "GRU 'n' expects (N, T, features); got (N, 5, 3, 2) from Input 'x'."),
])
def test_shape_errors_are_sentences_about_the_node(type_name, shape, params, sentence):
    err = _only_problem(case_doc(type_name, shape, params))
    assert err.node == "n"
    assert str(err).startswith(sentence), str(err)
    assert "\n" not in str(err)


def test_merge_of_different_shapes_names_the_merge_node():
    doc = _doc([("a", "Dense", {"units": 4}), ("b", "Dense", {"units": 5}), ("add", "Add", {}),
                ("loss", "MSE", {})], [("x", "a"), ("x", "b"), ("a", "add"), ("b", "add"), ("add", "loss")], (3,))
    err = _only_problem(doc)
    assert err.node == "add"
    assert str(err) == "Add 'add': all its inputs must have the same shape; got (N, 4), (N, 5)."
