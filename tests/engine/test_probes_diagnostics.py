"""Diagnostics: real runs that go wrong in known ways raise the right finding, with its
node; the rules that need long runs (overfitting, plateau, learning rate, dedup) are fed
the numbers a run would produce."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.probes import Diagnostician, ProbeSettings, Thresholds
from engine.session import SessionWriter
from engine.train import Trainer
from tests.engine.test_probes_common import chain, dataset, random_data
from engine.probes import ProbeSet


def _run(tmp_path, doc, data, steps, settings=None, prepare=None, **overrides):
    writer = SessionWriter(tmp_path / "run.session", doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, settings or ProbeSettings(stats_every=1, heavy_every=1, dense=0))
    trainer = Trainer(doc, data, overrides={"steps": steps, "device": "cpu", **overrides}, callbacks=[probes])
    if prepare is not None:
        with torch.no_grad():
            prepare(trainer.compiled)
    try:
        trainer.run()
        writer.commit()
    finally:
        writer.close()
    assert probes.errors == []
    return probes, {(d.kind, d.node) for d in probes.diagnostics}


def test_huge_learning_rate_explodes_or_gives_nan(tmp_path):
    doc = chain((8,), [("fc1", "Dense", {"units": 16}), ("r1", "ReLU", {}), ("fc2", "Dense", {"units": 16}),
                       ("r2", "ReLU", {}), ("fc3", "Dense", {"units": 2})],
                training={"optimizer": "sgd", "lr": 10.0, "momentum": 0.9})
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 8)) * 100).astype(np.float32)
    probes, found = _run(tmp_path, doc, dataset(x, rng.integers(0, 2, 64), 2), steps=30)
    kinds = {k for k, _ in found}
    assert kinds & {"nan", "exploding_gradients"}, kinds
    d = next(d for d in probes.diagnostics if d.kind in ("nan", "exploding_gradients"))
    assert d.advice and "learning rate" in d.advice


@pytest.mark.parametrize("capture_mode", ["inline", "process"])
def test_a_nan_loss_names_the_layer_where_it_started(tmp_path, capture_mode):
    # fc1's outputs overflow to inf, fc2 then makes inf - inf: the first step's loss is NaN.
    # With the helper process, the step's outputs were to be recomputed there: they are
    # recomputed in the loop for the diagnosis instead.
    doc = chain((4,), [("fc1", "Dense", {"units": 8}), ("r1", "ReLU", {}), ("fc2", "Dense", {"units": 2})])

    def prepare(compiled):
        compiled.module_of("fc1").weight.fill_(1e38)
        compiled.module_of("fc2").weight.copy_(torch.tensor([[1.0] * 8, [-1.0] * 8]))

    x = np.full((32, 4), 10.0, dtype=np.float32)
    probes, found = _run(tmp_path, doc, dataset(x, np.zeros(32, dtype=np.int64), 2), steps=3, prepare=prepare,
                         settings=ProbeSettings(stats_every=1, heavy_every=None, heavy_hz=0.0, dense=0,
                                                capture_mode=capture_mode))
    assert probes.capture_mode == capture_mode
    assert ("nan", "fc1") in found


def test_negative_bias_kills_relus(tmp_path):
    doc = chain((8,), [("fc1", "Dense", {"units": 16}), ("r1", "ReLU", {}), ("fc2", "Dense", {"units": 2})])
    _, found = _run(tmp_path, doc, random_data((8,)), steps=8,
                    prepare=lambda c: c.module_of("fc1").bias.fill_(-20.0))
    assert ("dead_relu", "r1") in found


def test_large_weights_saturate_sigmoids(tmp_path):
    doc = chain((8,), [("fc1", "Dense", {"units": 16}), ("s1", "Sigmoid", {}), ("fc2", "Dense", {"units": 2})])
    _, found = _run(tmp_path, doc, random_data((8,)), steps=8,
                    prepare=lambda c: c.module_of("fc1").weight.mul_(50.0))
    assert ("saturation", "s1") in found


def test_small_recurrent_weights_vanish_through_time(tmp_path):
    doc = chain((20, 2), [("rnn", "RNN", {"units": 8, "return_sequences": False}),
                          ("fc", "Dense", {"units": 2})])
    probes, found = _run(tmp_path, doc, random_data((20, 2)), steps=4,
                         prepare=lambda c: c.module_of("rnn").rnn.weight_hh_l0.mul_(0.05))
    assert ("vanishing_through_time", "rnn") in found
    norm_t = probes.last_capture["bptt/rnn/grad_norm_t"].numpy()
    assert norm_t[0] < 1e-3 * norm_t[-1]


def test_healthy_lstm_run_reports_no_vanishing(tmp_path):
    doc = chain((6, 2), [("lstm", "LSTM", {"units": 8, "return_sequences": False}),
                         ("fc", "Dense", {"units": 2})])
    _, found = _run(tmp_path, doc, random_data((6, 2)), steps=4)
    assert not {k for k, _ in found} & {"vanishing_through_time", "nan", "exploding_gradients"}


def _step_values(ratio: float) -> dict:
    return {"grad_norm": 1.0, "layer/a/grad_norm": 1.0, "layer/b/grad_norm": 1.0,
            "layer/a/update_ratio": ratio, "layer/b/update_ratio": ratio}


def test_learning_rate_rules_and_deduplication():
    th = Thresholds(lr_patience=3, repeat_every=100)
    diag = Diagnostician(["a", "b"], {"a": 10, "b": 10}, th)
    found = [d for s in range(1, 11) for d in diag.check_step(s, 1.0, _step_values(0.5))]
    assert [(d.kind, d.severity) for d in found] == [("lr_too_high", "warning")]  # once, not per step
    assert "1e-3" in found[0].message or "1e-03" in found[0].message
    again = [d for s in range(100, 104) for d in diag.check_step(s, 1.0, _step_values(0.5))]
    assert [d.kind for d in again] == ["lr_too_high"]  # repeated after repeat_every steps
    low = Diagnostician(["a", "b"], {"a": 10, "b": 10}, th)
    found = [d for s in range(1, 5) for d in low.check_step(s, 1.0, _step_values(1e-7))]
    assert [d.kind for d in found] == ["lr_too_low"]
    ok = Diagnostician(["a", "b"], {"a": 10, "b": 10}, th)
    assert not [d for s in range(1, 50) for d in ok.check_step(s, 1.0, _step_values(1e-3))]


def test_vanishing_gradients_across_layers():
    diag = Diagnostician(["first", "last"], {"first": 100, "last": 100}, Thresholds(patience=2))
    v = {"grad_norm": 1.0, "layer/first/grad_norm": 1e-6, "layer/last/grad_norm": 1.0}
    found = [d for s in (1, 2) for d in diag.check_step(s, 1.0, v)]
    assert [(d.kind, d.node) for d in found] == [("vanishing_gradients", "first")]


def test_nan_names_the_first_layer_in_graph_order():
    diag = Diagnostician(["a", "b", "c"], {})
    v = {"layer/a/act_mean": 0.1, "layer/a/act_std": 1.0, "layer/b/act_mean": float("nan"),
         "layer/c/act_mean": float("inf")}
    (d,) = diag.check_step(3, float("nan"), v)
    assert (d.kind, d.node, d.severity) == ("nan", "b", "error")


def test_overfitting_and_plateau():
    diag = Diagnostician([], {}, Thresholds(plateau_steps=100))
    found = []
    for step in range(1, 401):
        train_loss = 2.0 / (1 + step / 20)           # keeps falling
        found += diag.check_step(step, train_loss, {})
        if step % 50 == 0:
            val = [1.5, 1.0, 0.8, 0.85, 0.95, 1.1, 1.3, 1.5][step // 50 - 1]  # falls, then rises
            found += diag.check_validation(step, val)
    assert [d.kind for d in found] == ["overfitting"]
    flat = Diagnostician([], {}, Thresholds(plateau_steps=100))
    found = [d for s in range(1, 300) for d in flat.check_step(s, 0.7 + 1e-4 * np.sin(s), {})]
    assert [d.kind for d in found] == ["plateau"]
