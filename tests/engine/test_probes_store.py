"""A real run recorded to a session file: what the store keeps matches the probes'
full-precision values within its rounding (float16 / float32), and the final capture of
a float32 run still agrees with the oracle."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.probes import ProbeSettings, ProbeSettingsError
from tests.engine.test_probes_common import chain, random_data, record_run
from tests.reference import lstm as ref_lstm

FLOAT16_RTOL = 2 ** -10  # half a unit in the last place of float16's 10-bit mantissa, x2


def _lstm_doc():
    return chain((2, 6), [("c", "Conv1d", {"channels": 4, "kernel": 3}), ("p", "Permute", {"order": [2, 1]}),
                          ("lstm", "LSTM", {"units": 5, "return_sequences": False}),
                          ("fc", "Dense", {"units": 2})])


def test_stored_records_match_the_capture_within_rounding(tmp_path):
    trainer, probes, reader = record_run(tmp_path, _lstm_doc(), random_data((2, 6), n=48), steps=6)
    with reader:
        assert probes.errors == []
        final = trainer.step
        rec = probes.last_capture
        for name, full in rec.items():
            step, stored = reader.tensor(name, final, exact=True)
            full = full.numpy()
            assert stored.shape == full.shape, name
            if name.startswith(("act_hist/", "weight_hist/")):
                assert stored.dtype == np.float64
                np.testing.assert_array_equal(stored, full, err_msg=name)
            elif name.startswith(("bptt/", "predictions", "filters/")):
                assert stored.dtype == np.float32
                np.testing.assert_array_equal(stored, full.astype(np.float32), err_msg=name)
            else:
                assert stored.dtype == np.float16, name
                scale = np.abs(full).max()
                np.testing.assert_allclose(stored, full, rtol=FLOAT16_RTOL, atol=scale * 2 ** -14, err_msg=name)
        # Captures at step 0 (before training), every 2nd step (heavy_every=2) and the end.
        assert list(reader.tensor_steps("lstm/lstm/f")) == [0, 2, 4, 6]
        # Gates by name, shapes (P, T, H); the probe batch was stored once.
        px, py = reader.probe_batch()
        assert reader.tensor("lstm/lstm/f", final)[1].shape == (len(px), 6, 5)
        assert reader.tensor("bptt/lstm/grad_norm_t", final)[1].shape == (6,)
        assert reader.tensor("feature_maps/c", final)[1].shape == (len(px), 4, 6)
        np.testing.assert_array_equal(px, probes.capture.x.cpu().numpy())
        # Scalars: one per step for the per-step series.
        steps, loss = reader.scalar("train/loss")
        assert list(steps) == [1, 2, 3, 4, 5, 6] and np.all(np.isfinite(loss))
        for name in ("grad_norm", "layer/lstm/grad_norm", "layer/lstm/update_ratio", "layer/c/act_std",
                     "layer/fc/weight_norm"):
            assert len(reader.scalar(name)[0]) == 6, name
        for name in ("step_time", "samples_per_s"):  # step 1, then every 10 steps (docs/probes.md)
            steps, values = reader.scalar(name)
            assert list(steps) == [1] and values[0] > 0, name
        # The final capture of this float32 run agrees with the oracle on its own input.
        lstm = trainer.compiled.module_of("lstm").rnn
        w = [getattr(lstm, n).detach().double().numpy() for n in ("weight_ih_l0", "weight_hh_l0",
                                                                 "bias_ih_l0", "bias_hh_l0")]
        with torch.no_grad():
            seq_in = trainer.model.p(trainer.model.c(probes.capture.x)).double().numpy()
        oracle = ref_lstm.forward(seq_in, *w)
        for gate in "ifgoc":
            np.testing.assert_allclose(rec[f"lstm/lstm/{gate}"].numpy(), oracle[gate], rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(reader.tensor(f"lstm/lstm/{gate}", final)[1], oracle[gate],
                                       rtol=2e-3, atol=2e-3)


def test_rates_change_while_running_and_hooks_are_removed(tmp_path):
    doc = chain((8,), [("fc", "Dense", {"units": 4}), ("r", "ReLU", {}), ("out", "Dense", {"units": 2})])
    settings = ProbeSettings(stats_every=2, heavy_every=3, dense=0)
    trainer, probes, reader = record_run(tmp_path, doc, random_data((8,), n=40), steps=9, settings=settings)
    with reader:
        assert list(reader.scalar("layer/r/dead_frac")[0]) == [2, 4, 6, 8]
        assert list(reader.tensor_steps("predictions")) == [0, 3, 6, 9]
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in trainer.model.modules())
    assert probes.configure(stats_every=5)["stats_every"] == 5
    assert probes.schedule.stats_due(10) and not probes.schedule.stats_due(11)
    with pytest.raises(ProbeSettingsError, match="heavy_hz"):
        probes.configure(heavy_hz=-1)
    with pytest.raises(ProbeSettingsError, match="no probe setting 'speed'"):
        probes.configure(speed=3)


def test_time_based_captures_keep_within_their_budget():
    from engine.probes.settings import Schedule
    now = [0.0]
    sched = Schedule(ProbeSettings(heavy_every=None, heavy_hz=10, heavy_budget=0.05), clock=lambda: now[0])
    assert sched.heavy_due(1)
    sched.taken(sched.now(), count=False)            # the first capture: warm-up, not counted
    now[0] = 0.1
    assert sched.heavy_due(2)                         # 10 Hz: due after 0.1 s
    start = sched.now()
    now[0] = 0.12                                     # this capture took 20 ms
    sched.taken(start)
    now[0] = 0.12 + 0.3
    assert not sched.heavy_due(3)                     # 20 ms at 5 % -> wait 0.4 s, not 0.1 s
    now[0] = 0.12 + 0.41
    assert sched.heavy_due(4)
    every = Schedule(ProbeSettings(heavy_every=4, dense=0))
    assert [s for s in range(1, 13) if every.heavy_due(s)] == [4, 8, 12]
