"""Cheap statistics and convolutional captures vs the oracles (tests/reference/stats.py,
conv2d.py), in float64; activations are recomputed in numpy from the weights."""
from __future__ import annotations

import numpy as np
import torch

from engine.graph.compile import compile_graph
from engine.probes.stats import StepStats, derive_outputs, without_derived
from engine.probes.targets import Targets
from engine.templates import load_template
from tests.engine.test_probes_common import capture64, chain
from tests.reference import conv2d as ref_conv
from tests.reference import stats as ref

RTOL = 1e-6


def _np(t):
    return t.detach().double().numpy().copy()


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_activation_gradient_and_update_statistics_match_the_oracle():
    doc = chain((1, 6, 6), [("c1", "Conv2d", {"channels": 3, "kernel": 3}), ("r1", "ReLU", {}),
                            ("flat", "Flatten", {}), ("fc", "Dense", {"units": 5}), ("s", "Sigmoid", {}),
                            ("out", "Dense", {"units": 2}), ("t", "Tanh", {})], loss="MSE")
    torch.manual_seed(0)
    compiled = compile_graph(doc)
    model = compiled.model.double().train()
    with torch.no_grad():  # some dead channels and saturated units, so those numbers are not 0
        compiled.module_of("c1").bias.copy_(torch.tensor([-50.0, 0.1, 0.0]))
        compiled.module_of("fc").weight.mul_(40.0)
        compiled.module_of("out").weight.mul_(30.0)
    targets = Targets(compiled, doc)
    stats = StepStats(targets)
    stats.attach()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 1, 6, 6)), rng.standard_normal((8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    try:
        stats.armed = True
        loss = compiled.loss(model(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        stats.after_backward(with_update_ratio=True)
        grads = {n: [_np(p.grad) for p in targets.params(n)] for n in targets.param_layers}
        before = {n: [_np(p) for p in targets.params(n)] for n in targets.param_layers}
        opt.step()
        v = stats.collect()
    finally:
        stats.detach()
    after = {n: [_np(p) for p in targets.params(n)] for n in targets.param_layers}
    # Activations from the textbook equations and the weights before the step.
    w = {n: before[n] for n in before}
    a_c1 = ref_conv.conv2d(x, w["c1"][0], w["c1"][1], padding=1)
    a_r1 = np.maximum(a_c1, 0)
    a_fc = a_r1.reshape(8, -1) @ w["fc"][0].T + w["fc"][1]
    a_s = _sigmoid(a_fc)
    a_out = a_s @ w["out"][0].T + w["out"][1]
    a_t = np.tanh(a_out)
    for node, a in (("c1", a_c1), ("r1", a_r1), ("fc", a_fc), ("s", a_s), ("out", a_out), ("t", a_t)):
        np.testing.assert_allclose(v[f"layer/{node}/act_mean"], ref.mean(a), rtol=RTOL, err_msg=node)
        np.testing.assert_allclose(v[f"layer/{node}/act_std"], ref.std(a), rtol=RTOL, err_msg=node)
    assert v["layer/r1/dead_frac"] == ref.dead_relu_fraction(a_r1) > 0
    assert v["layer/s/saturated_frac"] == ref.saturated_fraction(a_s) > 0
    assert v["layer/t/saturated_frac"] == ref.tanh_saturated_fraction(a_t) > 0
    all_grads = [g for n in grads for g in grads[n]]
    np.testing.assert_allclose(v["grad_norm"], ref.global_grad_norm(all_grads), rtol=RTOL)
    for n in targets.param_layers:
        np.testing.assert_allclose(v[f"layer/{n}/grad_norm"], ref.global_grad_norm(grads[n]), rtol=RTOL)
        np.testing.assert_allclose(v[f"layer/{n}/weight_norm"], ref.global_grad_norm(after[n]), rtol=RTOL)
        flat_b = np.concatenate([a.ravel() for a in before[n]])
        flat_a = np.concatenate([a.ravel() for a in after[n]])
        np.testing.assert_allclose(v[f"layer/{n}/update_ratio"], ref.update_ratio(flat_b, flat_a), rtol=RTOL)


def test_statistics_skip_eval_forwards_and_unarmed_steps():
    doc = chain((4,), [("fc", "Dense", {"units": 3}), ("r", "ReLU", {})], loss="MSE")
    compiled = compile_graph(doc)
    stats = StepStats(Targets(compiled, doc))
    stats.attach()
    try:
        compiled.model.train()
        compiled.model(torch.randn(2, 4))          # not armed
        stats.armed = True
        compiled.model.eval()
        compiled.model(torch.randn(2, 4))          # armed but eval (validation, probe batch)
        assert stats.collect().get("layer/fc/act_mean") is None
        compiled.model.train()
        compiled.model(torch.randn(2, 4))
        assert "layer/fc/act_mean" in stats.collect()
    finally:
        stats.detach()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in compiled.model.modules())


def test_feature_maps_filters_and_histograms_match_the_oracle():
    doc = chain((2, 7, 7), [("c1", "Conv2d", {"channels": 3, "kernel": 3, "stride": 2, "padding": 1}),
                            ("t1", "Tanh", {}), ("c2", "Conv2d", {"channels": 4, "kernel": 3}),
                            ("flat", "Flatten", {}), ("fc", "Dense", {"units": 2})])
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 2, 7, 7)), rng.integers(0, 2, 4)
    compiled, rec = capture64(doc, x, y)
    c1, c2 = compiled.module_of("c1"), compiled.module_of("c2")
    f1 = ref_conv.conv2d(x, _np(c1.weight), _np(c1.bias), stride=2, padding=1)
    f2 = ref_conv.conv2d(np.tanh(f1), _np(c2.weight), _np(c2.bias), padding=1)
    np.testing.assert_allclose(rec["feature_maps/c1"].numpy(), f1, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(rec["feature_maps/c2"].numpy(), f2, rtol=RTOL, atol=1e-12)
    assert "filters/c1" in rec and "filters/c2" not in rec  # the first conv layer only
    np.testing.assert_array_equal(rec["filters/c1"].numpy(), _np(c1.weight))
    # Histograms: tanh has the fixed range [-1, 1]; others [-R, R] with R a 1-2-5 number.
    h = rec["act_hist/t1"].numpy()
    edges, counts = h[0], h[1]
    assert edges[0] == -1 and edges[-1] == 1 and counts[-1] == 0  # no non-finite values
    np.testing.assert_array_equal(counts[:-1], ref.histogram(np.tanh(f1), edges))
    h = rec["act_hist/c2"].numpy()
    reach = h[0, -1]
    assert h[0, 0] == -reach and reach >= np.abs(f2).max() and reach in (1, 2, 5, 10, 20, 50)
    np.testing.assert_array_equal(h[1, :-1], ref.histogram(np.clip(f2, -reach, reach), h[0]))
    w = _np(compiled.module_of("fc").weight)
    hw = rec["weight_hist/fc"].numpy()
    np.testing.assert_array_equal(hw[1, :-1], ref.histogram(np.clip(w, hw[0, 0], hw[0, -1]), hw[0]))


def test_saturation_count_in_float32_at_the_threshold_and_with_nan():
    # float32 outputs right at and beside the threshold (as float32 holds it), NaN and
    # infinities: the count is that of |y| > threshold, NaN never counted.
    from engine.probes.stats import SATURATION, _act_values
    low, high = SATURATION["Tanh"]
    edge = np.float32(high)
    near = [np.nextafter(edge, np.float32(s * np.inf)) for s in (-1, 1)]
    values = np.array([edge, -edge, *near, *(-v for v in near), np.nan, np.inf, -np.inf, 0.5, -1.0, 1.0],
                      dtype=np.float32)
    y = np.tile(values, 37).reshape(37, -1)
    count = _act_values(torch.from_numpy(y), False, (low, high))[-1].item()
    assert count / y.size == ref.tanh_saturated_fraction(y, threshold=float(edge))
    assert count == 37 * 6  # the two above the threshold on each side, both infinities, -1 and 1


def test_pure_layers_right_after_a_measured_layer_are_recomputed_not_copied():
    # Targets.derived: an activation (or a pooling) whose one input is a measured layer's
    # output, recomputed or not; not one after the network's input or an unmeasured layer
    # (Dropout).
    doc = chain((6,), [("a0", "Tanh", {}), ("fc", "Dense", {"units": 5}), ("r", "ReLU", {}), ("t", "Tanh", {}),
                       ("d", "Dropout", {"p": 0.5}), ("s", "Sigmoid", {}), ("out", "Dense", {"units": 2}),
                       ("s2", "Sigmoid", {})])
    targets = Targets(compile_graph(doc), doc)
    assert targets.derived == {"r": "fc", "t": "r", "s2": "out"}
    torch.manual_seed(0)
    fc, out = torch.randn(4, 5), torch.randn(4, 2)
    full = {"a0": torch.randn(4, 6), "fc": fc, "r": torch.relu(fc), "t": torch.tanh(torch.relu(fc)),
            "s": torch.randn(4, 5), "out": out, "s2": torch.sigmoid(out)}
    copied = without_derived(targets, full)  # what the training loop copies for the helper
    assert list(copied) == ["a0", "fc", "s", "out"]
    derive_outputs(targets, copied)          # what the helper then measures
    assert copied.keys() == full.keys() and all(torch.equal(copied[n], full[n]) for n in full)
    lenet = load_template("lenet")
    assert Targets(compile_graph(lenet), lenet).derived == {"t1": "c1", "s2": "t1", "t3": "c3", "s4": "t3",
                                                            "t5": "f5", "t6": "f6"}
