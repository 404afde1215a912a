"""Compiled graphs against the same networks written by hand in plain torch.

Each case builds a graph document, compiles it, writes the network again with plain torch
modules and functions (a ModuleDict keyed by node id holds its weights), copies the
compiled weights over, and checks that outputs, losses and every parameter gradient agree.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.graph.compile import compile_graph
from engine.graph.document import Edge, GraphDocument, Node

BATCH = 4
CLASSES = 3


def _doc(input_shape, nodes, edges, name) -> GraphDocument:
    """``nodes`` are (id, type, params); ``edges`` (src, dst) pairs, merge inputs in edge order.
    The node "head" feeds a CrossEntropy loss."""
    doc_nodes = [Node("x", "Input", {"shape": list(input_shape)})]
    doc_nodes += [Node(i, t, dict(p)) for i, t, p in nodes] + [Node("loss", "CrossEntropy", {})]
    doc_edges = [Edge(a, "out", b, "in") for a, b in [*edges, ("head", "loss")]]
    return GraphDocument(nodes=doc_nodes, edges=doc_edges, name=name)


def _chain(*ids):
    return list(zip(ids, ids[1:]))


# -- residual block ------------------------------------------------------------------
def residual():
    nodes = [("conv1", "Conv2d", {"channels": 4, "bias": False}), ("bn1", "BatchNorm2d", {}),
             ("relu1", "ReLU", {}), ("conv2", "Conv2d", {"channels": 4, "bias": False}),
             ("bn2", "BatchNorm2d", {}), ("add", "Add", {}), ("relu2", "ReLU", {}),
             ("gap", "GlobalAvgPool", {}), ("head", "Dense", {"units": CLASSES})]
    edges = _chain("x", "conv1", "bn1", "relu1", "conv2", "bn2", "add") + [("x", "add")] + _chain(
        "add", "relu2", "gap", "head")
    ref = nn.ModuleDict({"conv1": nn.Conv2d(4, 4, 3, padding=1, bias=False), "bn1": nn.BatchNorm2d(4),
                         "conv2": nn.Conv2d(4, 4, 3, padding=1, bias=False), "bn2": nn.BatchNorm2d(4),
                         "head": nn.Linear(4, CLASSES)})

    def forward(m, x):
        y = m["bn2"](m["conv2"](F.relu(m["bn1"](m["conv1"](x)))))
        return m["head"](F.relu(y + x).mean(dim=(2, 3)))
    return _doc((4, 6, 6), nodes, edges, "residual"), ref, forward, (4, 6, 6)


# -- DenseNet block: each layer sees the concatenation of all earlier feature maps ----
def dense_block():
    nodes = [("bn1", "BatchNorm2d", {}), ("r1", "ReLU", {}), ("c1", "Conv2d", {"channels": 2}),
             ("cat1", "Concat", {}), ("bn2", "BatchNorm2d", {}), ("r2", "ReLU", {}),
             ("c2", "Conv2d", {"channels": 2}), ("cat2", "Concat", {}), ("flat", "Flatten", {}),
             ("head", "Dense", {"units": CLASSES})]
    edges = (_chain("x", "bn1", "r1", "c1") + [("x", "cat1"), ("c1", "cat1")]
             + _chain("cat1", "bn2", "r2", "c2") + [("cat1", "cat2"), ("c2", "cat2")]
             + _chain("cat2", "flat", "head"))
    ref = nn.ModuleDict({"bn1": nn.BatchNorm2d(3), "c1": nn.Conv2d(3, 2, 3, padding=1),
                         "bn2": nn.BatchNorm2d(5), "c2": nn.Conv2d(5, 2, 3, padding=1),
                         "head": nn.Linear(7 * 4 * 4, CLASSES)})

    def forward(m, x):
        cat1 = torch.cat([x, m["c1"](F.relu(m["bn1"](x)))], dim=1)
        cat2 = torch.cat([cat1, m["c2"](F.relu(m["bn2"](cat1)))], dim=1)
        return m["head"](cat2.reshape(len(x), -1))
    return _doc((3, 4, 4), nodes, edges, "dense block"), ref, forward, (3, 4, 4)


# -- ResNeXt block: 1x1 reduce, grouped 3x3, 1x1 expand, plus the identity -----------
def resnext():
    nodes = [("a", "Conv2d", {"channels": 8, "kernel": 1}), ("ra", "ReLU", {}),
             ("g", "Conv2d", {"channels": 8, "kernel": 3, "groups": 4}), ("rg", "ReLU", {}),
             ("b", "Conv2d", {"channels": 8, "kernel": 1}), ("add", "Add", {}), ("relu", "ReLU", {}),
             ("gap", "GlobalAvgPool", {}), ("head", "Dense", {"units": CLASSES})]
    edges = _chain("x", "a", "ra", "g", "rg", "b", "add") + [("x", "add")] + _chain("add", "relu", "gap", "head")
    ref = nn.ModuleDict({"a": nn.Conv2d(8, 8, 1), "g": nn.Conv2d(8, 8, 3, padding=1, groups=4),
                         "b": nn.Conv2d(8, 8, 1), "head": nn.Linear(8, CLASSES)})

    def forward(m, x):
        y = m["b"](F.relu(m["g"](F.relu(m["a"](x)))))
        return m["head"](F.relu(x + y).mean(dim=(2, 3)))
    return _doc((8, 5, 5), nodes, edges, "resnext"), ref, forward, (8, 5, 5)


# -- Inception module: four branches concatenated along channels ----------------------
def inception():
    nodes = [("b1", "Conv2d", {"channels": 3, "kernel": 1}),
             ("b2r", "Conv2d", {"channels": 2, "kernel": 1}), ("b2", "Conv2d", {"channels": 3, "kernel": 3}),
             ("b3r", "Conv2d", {"channels": 2, "kernel": 1}), ("b3", "Conv2d", {"channels": 2, "kernel": 5}),
             ("b4p", "MaxPool2d", {"kernel": 3, "stride": 1, "padding": 1}),
             ("b4", "Conv2d", {"channels": 2, "kernel": 1}),
             ("cat", "Concat", {}), ("relu", "ReLU", {}), ("gap", "GlobalAvgPool", {}),
             ("head", "Dense", {"units": CLASSES})]
    edges = ([("x", "b1"), ("x", "b2r"), ("b2r", "b2"), ("x", "b3r"), ("b3r", "b3"), ("x", "b4p"), ("b4p", "b4"),
              ("b1", "cat"), ("b2", "cat"), ("b3", "cat"), ("b4", "cat")] + _chain("cat", "relu", "gap", "head"))
    ref = nn.ModuleDict({"b1": nn.Conv2d(4, 3, 1), "b2r": nn.Conv2d(4, 2, 1), "b2": nn.Conv2d(2, 3, 3, padding=1),
                         "b3r": nn.Conv2d(4, 2, 1), "b3": nn.Conv2d(2, 2, 5, padding=2),
                         "b4": nn.Conv2d(4, 2, 1), "head": nn.Linear(10, CLASSES)})

    def forward(m, x):
        branches = [m["b1"](x), m["b2"](m["b2r"](x)), m["b3"](m["b3r"](x)),
                    m["b4"](F.max_pool2d(x, 3, stride=1, padding=1))]
        return m["head"](F.relu(torch.cat(branches, dim=1)).mean(dim=(2, 3)))
    return _doc((4, 6, 6), nodes, edges, "inception"), ref, forward, (4, 6, 6)


# -- stacked LSTM: sequences into a second LSTM that keeps only its last step ---------
def stacked_lstm():
    nodes = [("l1", "LSTM", {"units": 5}), ("l2", "LSTM", {"units": 4, "return_sequences": False}),
             ("head", "Dense", {"units": CLASSES})]
    ref = nn.ModuleDict({"l1": nn.LSTM(3, 5, batch_first=True), "l2": nn.LSTM(5, 4, batch_first=True),
                         "head": nn.Linear(4, CLASSES)})

    def forward(m, x):
        h1, _ = m["l1"](x)
        h2, _ = m["l2"](h1)
        return m["head"](h2[:, -1])
    return _doc((6, 3), nodes, _chain("x", "l1", "l2", "head"), "stacked lstm"), ref, forward, (6, 3)


# -- TCN block: two causal dilated convs plus a 1x1 skip, predicting every step -------
def tcn():
    nodes = [("c1", "CausalConv1d", {"channels": 4, "kernel": 3, "dilation": 1}), ("r1", "ReLU", {}),
             ("c2", "CausalConv1d", {"channels": 4, "kernel": 3, "dilation": 2}), ("r2", "ReLU", {}),
             ("skip", "Conv1d", {"channels": 4, "kernel": 1}), ("add", "Add", {}), ("relu", "ReLU", {}),
             ("perm", "Permute", {"order": [2, 1]}), ("head", "Dense", {"units": CLASSES})]
    edges = (_chain("x", "c1", "r1", "c2", "r2", "add") + [("x", "skip"), ("skip", "add")]
             + _chain("add", "relu", "perm", "head"))
    ref = nn.ModuleDict({"c1": nn.Conv1d(3, 4, 3), "c2": nn.Conv1d(4, 4, 3, dilation=2),
                         "skip": nn.Conv1d(3, 4, 1), "head": nn.Linear(4, CLASSES)})

    def forward(m, x):
        y = F.relu(m["c1"](F.pad(x, (2, 0))))        # left padding (k − 1)·d keeps it causal
        y = F.relu(m["c2"](F.pad(y, (4, 0))))
        return m["head"](F.relu(y + m["skip"](x)).transpose(1, 2))  # (N, T, classes)
    return _doc((3, 10), nodes, edges, "tcn"), ref, forward, (3, 10)


# -- XNOR block: BN, binary conv (xnor), binary dense (bwn) -----------------------------
def _sign_ste(x):
    """sign(x) (0 -> +1) whose gradient is that of hardtanh: 1 where |x| < 1."""
    clipped = F.hardtanh(x)
    return clipped + (torch.where(x >= 0, 1.0, -1.0) - clipped).detach()


def _alpha(w):
    return w.detach().abs().flatten(1).mean(dim=1)


def _sign_weight(w):
    """sign(W) whose gradient reaches W as that of α·sign(W), α = mean |W| per output, where
    |W| < 1 (hardtanh's gradient)."""
    alpha = _alpha(w).reshape(-1, *[1] * (w.dim() - 1))
    clipped = F.hardtanh(w)
    scaled = clipped + (alpha * torch.where(w >= 0, 1.0, -1.0) - clipped).detach()
    return scaled / alpha


def _binary(op, x, w, bias, xnor):
    """XNOR-Net (Rastegari et al. 2016, eq. 11): (sign(I) * sign(W)) ⊙ Kα, with K = β the
    mean |I| per sample; in bwn mode I * sign(W) ⊙ α."""
    y = op(_sign_ste(x) if xnor else x, _sign_weight(w))
    y = y * _alpha(w).reshape(-1, *[1] * (y.dim() - 2))
    if xnor:
        y = y * x.detach().abs().flatten(1).mean(dim=1).reshape(-1, *[1] * (y.dim() - 1))
    return y if bias is None else y + bias.reshape(-1, *[1] * (y.dim() - 2))


def xnor():
    nodes = [("bn", "BatchNorm2d", {}), ("bc", "BinaryConv2d", {"channels": 4, "mode": "xnor"}),
             ("pool", "MaxPool2d", {"kernel": 2}), ("flat", "Flatten", {}),
             ("bd", "BinaryDense", {"units": 6, "mode": "bwn"}),
             ("bd2", "BinaryDense", {"units": 5, "bias": False}),
             ("head", "Dense", {"units": CLASSES})]
    ref = nn.ModuleDict({"bn": nn.BatchNorm2d(2), "bc": nn.Conv2d(2, 4, 3, padding=1),
                         "bd": nn.Linear(4 * 3 * 3, 6), "bd2": nn.Linear(6, 5, bias=False),
                         "head": nn.Linear(5, CLASSES)})

    def forward(m, x):
        y = _binary(lambda a, w: F.conv2d(a, w, padding=1), m["bn"](x), m["bc"].weight, m["bc"].bias, True)
        y = F.max_pool2d(y, 2).reshape(len(x), -1)
        y = _binary(F.linear, y, m["bd"].weight, m["bd"].bias, False)
        y = _binary(F.linear, y, m["bd2"].weight, None, True)
        return m["head"](y)
    return (_doc((2, 6, 6), nodes, _chain("x", "bn", "bc", "pool", "flat", "bd", "bd2", "head"), "xnor"),
            ref, forward, (2, 6, 6))


def _copy_weights(compiled, ref: nn.ModuleDict) -> list[tuple[nn.Parameter, nn.Parameter]]:
    """Copy every compiled parameter into ``ref``; returns (compiled, ref) parameter pairs."""
    pairs = []
    with torch.no_grad():
        for node_id, target in ref.items():
            source = dict(compiled.module_of(node_id).named_parameters())
            # The fused wrappers keep torch's module as ``.rnn``; plain torch has no prefix.
            source = {k.removeprefix("rnn."): v for k, v in source.items()}
            dest = dict(target.named_parameters())
            assert source.keys() == dest.keys(), node_id
            for name, p in dest.items():
                assert p.shape == source[name].shape, (node_id, name)
                p.copy_(source[name])
                pairs.append((source[name], p))
    assert len(pairs) == len(list(compiled.model.parameters())), "the reference misses parameters"
    return pairs


@pytest.mark.parametrize("case", [residual, dense_block, resnext, inception, stacked_lstm, tcn, xnor])
def test_compiled_graph_matches_hand_written_torch(case):
    torch.manual_seed(0)
    doc, ref, forward, shape = case()
    compiled = compile_graph(doc)
    pairs = _copy_weights(compiled, ref)
    x = torch.randn(BATCH, *shape)
    got = compiled.model(x)
    want = forward(ref, x)
    torch.testing.assert_close(got, want)
    target = torch.randint(0, CLASSES, got.shape[:-1])
    loss = compiled.loss(got, target)
    want_loss = F.cross_entropy(want.reshape(-1, CLASSES), target.reshape(-1))
    torch.testing.assert_close(loss, want_loss)
    loss.backward()
    want_loss.backward()
    for ours, theirs in pairs:
        assert ours.grad is not None and ours.grad.abs().sum() > 0
        torch.testing.assert_close(ours.grad, theirs.grad)
