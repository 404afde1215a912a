"""Binary layers (engine.nn.binary) against the paper's equations (tests/reference/binary.py):
the forward pass, and the straight-through gradients of the inputs and of the latent
weights, 1_{|r| <= 1}, with weights and inputs on both sides of ±1 and exact zeros."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.nn.binary import BinaryConv2d, BinaryLinear
from tests.reference import binary as ref


def _layer(conv: bool, mode: str, bias: bool):
    torch.manual_seed(0)
    layer = BinaryConv2d(2, 3, 3, padding=1, bias=bias, mode=mode) if conv else BinaryLinear(6, 4, bias=bias, mode=mode)
    layer.double()
    with torch.no_grad():
        w = layer.weight
        w.copy_(torch.randn_like(w) * 0.8)   # about a fifth beyond ±1: their gradient is cancelled
        w.view(-1)[:3] = 0.0                  # sign(0) = +1
    return layer


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
@pytest.mark.parametrize("mode", ["xnor", "bwn"])
def test_binary_layer_forward_and_straight_through_gradients_match_the_paper(conv, mode):
    layer = _layer(conv, mode, bias=True)
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((3, 2, 5, 5) if conv else (3, 6)) * 1.2
    x_np.flat[:2] = 0.0
    x = torch.tensor(x_np, requires_grad=True)
    y = layer(x)
    w_np = layer.weight.detach().numpy().copy()
    want = ref.forward(x_np, w_np, layer.bias.detach().numpy(), mode=mode, padding=1 if conv else 0)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(want.shape)
    y.backward(torch.tensor(dout))
    g = ref.backward(x_np, w_np, dout, mode=mode, padding=1 if conv else 0)
    np.testing.assert_allclose(x.grad.numpy(), g["dx"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.numpy(), g["dweight"], rtol=1e-10, atol=1e-12)
    beyond = np.abs(w_np) > 1
    assert beyond.any() and (~beyond).any()
    assert np.all(layer.weight.grad.numpy()[beyond] == 0)      # cancelled where |W| > 1
    assert np.any(layer.weight.grad.numpy()[~beyond] != 0)
    if mode == "xnor":
        assert np.all(x.grad.numpy()[np.abs(x_np) > 1] == 0)


def test_binary_layer_float32_output_is_exact_whole_sums_times_the_scales():
    """In float32 too the ±1 products sum to whole numbers before α·β scales them."""
    layer = _layer(True, "xnor", bias=False).float()
    x = torch.randn(2, 2, 5, 5)
    y = layer(x).detach().double().numpy()
    want = ref.forward(x.double().numpy(), layer.weight.detach().double().numpy(), mode="xnor", padding=1)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


def test_memory_and_compute_claims_of_the_xnor_template_follow_the_paper():
    """The inspector's numbers for the XNOR-Net template's layers, against the paper's
    arithmetic on shapes worked out here by hand (28x28 input, pooled to 14, 7, 3)."""
    from engine.graph.binary_costs import binary_costs
    from engine.graph.shapes import analyse
    from engine.templates import load_template
    doc = load_template("xnor_net")
    info = analyse(doc).nodes
    # bconv2: 32 -> 64 channels, 3x3, on 14x14; bconv3: 64 -> 64 on 7x7; bfc4: 64*3*3 -> 128
    for node, c_in, c_out, k, positions in (("bconv2", 32, 64, 3, 14 * 14), ("bconv3", 64, 64, 3, 7 * 7),
                                            ("bfc4", 576, 128, 1, 1)):
        n = doc.node(node)
        costs = binary_costs(n.type, n.params, info[node].in_shapes, info[node].out_shape)
        n_w = c_out * c_in * k * k
        mem = ref.memory_bits(n_w, c_out, bias=False)
        assert (costs.weights, costs.outputs, costs.positions) == (n_w, c_out, positions)
        assert (costs.float32_bits, costs.binary_bits) == (mem["float32"], mem["binary"])
        assert costs.saving == pytest.approx(mem["ratio"]) and costs.bits_per_weight == pytest.approx(mem["bits_per_weight"])
        assert costs.macs == n_w * positions == info[node].flops   # the twin's multiply-adds
        assert costs.speedup == pytest.approx(ref.speedup(c_in, k * k, positions))
        assert costs.words == -(-n_w * positions // 64) and costs.scale_mults == c_out * positions
    assert 28 < binary_costs("BinaryConv2d", {"channels": 64, "kernel": 3, "bias": False},
                             [(32, 14, 14)], (64, 14, 14)).saving < 32
    bwn = binary_costs("BinaryDense", {"units": 10, "mode": "bwn", "bias": True}, [(20,)], (10,))
    assert bwn.speedup is None and bwn.binary_bits == ref.memory_bits(200, 10, bias=True)["binary"]
    assert binary_costs("Conv2d", {}, [(1, 4, 4)], (2, 4, 4)) is None
