"""Binary-layer probes (engine.probes.binary) from a real training run, against the paper's
equations in tests/reference/binary.py applied to the weights and inputs the run used,
which a callback of the test copies independently of the probes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.probes import ProbeSet, ProbeSettings
from engine.session import SessionReader, SessionWriter
from engine.train import Trainer
from engine.train.callbacks import Callback
from tests.engine.test_probes_common import chain, random_data
from tests.reference import binary as ref
from tests.reference import stats as ref_stats

STEPS, HEAVY_EVERY, MAX_CHANNELS = 8, 3, 3
BINARY = ("bc", "bd")


def _doc():
    return chain((2, 6, 6), [("bn", "BatchNorm2d", {}),
                             ("bc", "BinaryConv2d", {"channels": 4, "kernel": 3, "padding": 1, "mode": "xnor"}),
                             ("pool", "MaxPool2d", {"kernel": 2}), ("flat", "Flatten", {}),
                             ("bd", "BinaryDense", {"units": 6, "mode": "bwn"}),
                             ("head", "Dense", {"units": 3})],
                 training={"optimizer": "adam", "lr": 0.05})


class Spy(Callback):
    """Copies, for every step, the binary layers' latent weights before and after the update
    and the XNOR layer's training input, and on capture steps that layer's input for the
    probe batch: everything the oracle needs, taken without the probes' code."""

    def __init__(self, probes: ProbeSet):
        self.probes = probes
        self.before, self.after, self.train_in, self.probe_in = {}, {}, {}, {}
        self._last_in = None

    def on_start(self, trainer):
        self.modules = {n: trainer.compiled.module_of(n) for n in BINARY}
        with torch.no_grad():  # some latent weights beyond ±1 from the start: their gradient is cancelled
            self.modules["bc"].weight[0].mul_(25.0)
        self.modules["bc"].register_forward_pre_hook(self._keep)
        self.after[0] = self._weights()

    def _keep(self, module, args):
        self._last_in = args[0].detach().double().numpy().copy()

    def _weights(self):
        return {n: m.weight.detach().double().numpy().copy() for n, m in self.modules.items()}

    def on_after_backward(self, trainer, step):
        self.before[step] = self._weights()
        self.train_in[step] = self._last_in

    def on_step_end(self, trainer, step, metrics):
        self.after[step] = self._weights()
        if step % HEAVY_EVERY == 0 or step == STEPS:
            model, was = trainer.model, trainer.model.training
            model.eval()
            with torch.no_grad():
                model(self.probes.capture.x)
            model.train(was)
            self.probe_in[step] = self._last_in


def record_binary_run(path) -> Spy:
    """Train the small binary net STEPS steps into ``path``, every probe on; the spy holds
    what the oracle needs. (The view tests use it too.)"""
    doc = _doc()
    writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, ProbeSettings(stats_every=1, stats_budget=1.0, dense=0, heavy_every=HEAVY_EVERY,
                                            heavy_budget=1.0, capture_mode="inline", max_channels=MAX_CHANNELS))
    spy = Spy(probes)
    # the spy first: its ×25 on the weights comes before the probes' first capture
    trainer = Trainer(doc, random_data((2, 6, 6), classes=3, n=96), overrides={"steps": STEPS, "device": "cpu"},
                      callbacks=[spy, probes])
    try:
        trainer.run()
        writer.commit()
    finally:
        writer.close()
    return spy


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("binary") / "run.session"
    spy = record_binary_run(path)
    reader = SessionReader(path)
    yield spy, reader
    reader.close()


def test_flips_and_cancelled_fractions_per_step_match_the_oracle(run):
    spy, reader = run
    flips = []
    for node in BINARY:
        for suffix in ("flip_frac", "ste_cancelled_w"):
            steps, _ = reader.scalar(f"binary/{node}/{suffix}")
            assert steps.tolist() == list(range(1, STEPS + 1))
        for step in range(1, STEPS + 1):
            got = reader.scalars_at(step)
            before, after = spy.before[step][node], spy.after[step][node]
            flip = ref.flip_fraction(before, after)
            flips.append(flip)
            assert got[f"binary/{node}/flip_frac"] == pytest.approx(flip, abs=1e-12)
            assert got[f"binary/{node}/ste_cancelled_w"] == pytest.approx(ref.cancelled_fraction(before), abs=1e-12)
            if node == "bc":  # XNOR: its inputs are binarised too
                want_x = ref.cancelled_fraction(spy.train_in[step])
                assert got["binary/bc/ste_cancelled_x"] == pytest.approx(want_x, abs=1e-12)
                assert 0 < want_x < 1
            else:             # BWN: real inputs, no input estimator
                assert "binary/bd/ste_cancelled_x" not in got
    assert max(flips) > 0 and reader.scalars_at(1)["binary/bc/ste_cancelled_w"] > 0


def test_the_estimator_freezes_weights_beyond_one(run):
    """Adam with a gradient that is exactly 0 from the start never moves a weight: the
    latent weights that began beyond ±1 end where they began, the others moved."""
    spy, _ = run
    start, end = spy.after[0]["bc"], spy.after[STEPS]["bc"]
    beyond = np.abs(start) > 1
    assert beyond.sum() >= 5
    np.testing.assert_array_equal(end[beyond], start[beyond])
    assert np.all(end[~beyond] != start[~beyond])


def test_captured_scales_signs_and_histograms_match_the_oracle(run):
    spy, reader = run
    capture_steps = reader.tensor_steps("binary/bc/alpha").tolist()
    assert capture_steps == [0, 3, 6, STEPS]
    for step in capture_steps:
        for node in BINARY:
            w = spy.after[step][node]
            alpha = reader.tensor(f"binary/{node}/alpha", step, exact=True)[1]
            assert alpha.dtype == np.float32
            np.testing.assert_allclose(alpha, ref.weight_scale(w), rtol=1e-6)
            shown = w[:MAX_CHANNELS]
            latent = reader.tensor(f"binary/{node}/latent", step, exact=True)[1]
            sign = reader.tensor(f"binary/{node}/sign", step, exact=True)[1]
            np.testing.assert_array_equal(latent, shown.astype(np.float32))
            assert sign.dtype == np.int8
            np.testing.assert_array_equal(sign, ref.sign(shown))
            latent_hist = reader.tensor(f"weight_hist/{node}", step, exact=True)[1]
            hist = reader.tensor(f"binary/{node}/hist", step, exact=True)[1]
            np.testing.assert_array_equal(hist[0], latent_hist[0])
            counts = ref_stats.histogram(ref.binarised_weight(w), hist[0])
            np.testing.assert_array_equal(hist[1][:-1], counts)
            assert hist[1][-1] == 0 and np.count_nonzero(counts) >= 2
        if step > 0:
            K = reader.tensor("binary/bc/K", step, exact=True)[1]
            np.testing.assert_allclose(K, ref.input_scale(spy.probe_in[step]), rtol=1e-6)
            assert len(K) == len(reader.probe_batch()[0])
        assert reader.tensor("binary/bd/K", step, exact=True) is None  # BWN: no input scale


def test_beside_training_the_binary_records_are_those_of_inline_captures(tmp_path):
    """The helper process (captures, and this small net's statistics) records bit for bit
    what inline records; the per-step binary numbers are taken in the training process."""
    from tests.engine.test_capture_offpath import rows
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # inline and helper must use the same number of threads
    try:
        got = {}
        for mode in ("inline", "process"):
            path = tmp_path / f"{mode}.session"
            doc = _doc()
            writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
            probes = ProbeSet(writer, ProbeSettings(stats_every=1, dense=0, heavy_every=HEAVY_EVERY, capture_mode=mode))
            trainer = Trainer(doc, random_data((2, 6, 6), classes=3, n=96), overrides={"steps": STEPS, "device": "cpu"},
                              callbacks=[probes])
            try:
                trainer.run()
            finally:
                writer.close()
            assert probes.errors == [] and probes.captured[mode] == 4
            got[mode] = rows(path)
    finally:
        torch.set_num_threads(threads)
    (ta, sa), (tb, sb) = got["inline"], got["process"]
    binary_t = {k for k in ta if k[0].startswith("binary/")}
    binary_s = {k for k in sa if k[0].startswith("binary/")}
    assert len(binary_t) == 4 * 9 and len(binary_s) == STEPS * 5   # bc: 5 records, bd: 4; 3 + 2 series
    assert binary_t <= tb.keys() and binary_s <= sb.keys()
    assert [k for k in binary_t if ta[k] != tb[k]] == [] and [k for k in binary_s if sa[k] != sb[k]] == []
