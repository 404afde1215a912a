"""On a CUDA device (skipped without one): the same run recorded on CUDA and on the CPU
agrees (loss within 1e-4 relative over 20 float32 steps, gates and feature maps within
float16 rounding); captures on the second CUDA stream are bitwise those taken inline;
the probes make the host wait for the device on no step without a capture; a real
CUDA out-of-memory error ends the run with one sentence and gives the memory back."""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import pytest
import torch

# cuBLAS needs this before CUDA starts to make its matrix products reproducible.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

from engine.probes import ProbeSettings  # noqa: E402
from tests.engine.test_probes_common import chain, random_data, record_run  # noqa: E402

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
FLOAT16_RTOL = 2 ** -10
STEPS = 20


@pytest.fixture
def deterministic():
    """Deterministic kernels, no TF32 (float32 means float32), one CPU thread."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark, torch.get_num_threads())
    torch.use_deterministic_algorithms(True, warn_only=True)  # histc has no deterministic CUDA kernel
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    torch.use_deterministic_algorithms(saved[0])
    (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic,
     torch.backends.cudnn.benchmark) = saved[1:5]
    torch.set_num_threads(saved[5])


def conv_lstm_doc():
    return chain((2, 6), [("c", "Conv1d", {"channels": 4, "kernel": 3}), ("p", "Permute", {"order": [2, 1]}),
                          ("lstm", "LSTM", {"units": 5, "return_sequences": False}),
                          ("fc", "Dense", {"units": 2})])


def record(tmp_path, device: str, mode: str = "auto"):
    settings = ProbeSettings(stats_every=1, heavy_every=5, dense=0, capture_mode=mode)
    folder = tmp_path / f"{device}-{mode}"
    folder.mkdir()
    return record_run(folder, conv_lstm_doc(), random_data((2, 6), n=96), steps=STEPS, settings=settings,
                      device=device)


def test_cuda_and_cpu_record_the_same_run(tmp_path, deterministic):
    _, gpu, rg = record(tmp_path, "cuda")
    _, cpu, rc = record(tmp_path, "cpu")
    assert gpu.errors == [] and cpu.errors == []
    with rg, rc:
        steps, loss_gpu = rg.scalar("train/loss")
        steps_cpu, loss_cpu = rc.scalar("train/loss")
        assert list(steps) == list(steps_cpu) == list(range(1, STEPS + 1))
        np.testing.assert_allclose(loss_gpu, loss_cpu, rtol=1e-4)
        names = [n for n in rc.tensor_names() if n.startswith(("lstm/", "feature_maps/", "rnn/"))]
        assert {"lstm/lstm/i", "lstm/lstm/f", "lstm/lstm/g", "lstm/lstm/o", "lstm/lstm/c", "feature_maps/c"} <= set(names)
        for name in names:
            assert list(rg.tensor_steps(name)) == list(rc.tensor_steps(name)) == [0, 5, 10, 15, 20]
            for step in (0, 10, 20):
                a, b = rg.tensor(name, step, exact=True)[1], rc.tensor(name, step, exact=True)[1]
                assert a.dtype == b.dtype == np.float16, name
                scale = float(np.abs(b.astype(np.float32)).max())
                np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=FLOAT16_RTOL,
                                           atol=scale * 2 ** -13, err_msg=f"{name} at step {step}")


@pytest.mark.parametrize("mode", ["process", "stream"])
def test_captures_beside_training_equal_inline_ones_bitwise(tmp_path, deterministic, mode):
    _, beside, rs = record(tmp_path, "cuda", mode)
    _, inline, ri = record(tmp_path, "cuda", "inline")
    assert beside.errors == [] and beside.captured[mode] == 5 and inline.captured["inline"] == 5
    with rs, ri:
        assert rs.tensor_names() == ri.tensor_names()
        for name in ri.tensor_names():
            assert list(rs.tensor_steps(name)) == list(ri.tensor_steps(name))
            for step in ri.tensor_steps(name):
                a, b = rs.tensor(name, int(step), exact=True)[1], ri.tensor(name, int(step), exact=True)[1]
                assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), f"{name} at step {step}"
        modes = [e.data["mode"] for e in rs.events() if e.kind == "capture_mode"]
        assert modes == [mode]


class _Syncs:
    """Host-device synchronisations made by this thread (torch's sync debug mode)."""

    def __init__(self):
        self.count, self.me = 0, threading.get_ident()

    def __enter__(self):
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("always")
        warnings.showwarning = self._seen
        torch.cuda.set_sync_debug_mode("warn")
        return self

    def _seen(self, message, *args, **kwargs):
        if threading.get_ident() == self.me and "synchroniz" in str(message):
            self.count += 1

    def __exit__(self, *exc):
        torch.cuda.set_sync_debug_mode("default")
        self._w.__exit__(*exc)


def test_probes_make_no_host_wait_on_steps_without_a_capture(tmp_path):
    from engine.probes import ProbeSet
    from engine.session import SessionWriter
    from engine.train import Trainer
    doc, data = conv_lstm_doc(), random_data((2, 6), n=256)
    per_step = {}
    for label, settings in (("bare", None), ("defaults", ProbeSettings()),
                            ("equal", ProbeSettings(stats_every=1, heavy_every=10, dense=0))):
        callbacks, probes = [], None
        if settings is not None:
            writer = SessionWriter(tmp_path / f"{label}.session", doc.to_dict(), {})
            probes = ProbeSet(writer, settings)
            callbacks.append(probes)
        trainer = Trainer(doc, data, overrides={"steps": 10 ** 6, "device": "cuda"}, callbacks=callbacks)
        trainer._t_last = 0.0
        for cb in callbacks:
            cb.on_start(trainer)
        if probes is not None:
            probes.wait_ready()
        for _ in range(30):  # warm-up: the dense start, first allocations
            trainer.train_step()
        counts = []
        with _Syncs() as syncs:
            for _ in range(60):
                before = syncs.count
                trainer.train_step()
                if probes is None or probes._last_heavy_step != trainer.step:
                    counts.append(syncs.count - before)
        per_step[label] = counts
        if probes is not None:
            assert probes.capture_mode == "process" and probes.errors == []
            probes.flush()
            probes.close()
            writer.close()
    bare = set(per_step["bare"])
    assert len(bare) == 1  # the trainer's own: the loss value, read to stop a NaN before the update
    for label in ("defaults", "equal"):
        assert set(per_step[label]) == bare, (label, per_step[label])


def test_real_cuda_out_of_memory_is_one_sentence_and_frees_the_memory():
    from engine.train import Trainer
    free, total = torch.cuda.mem_get_info()
    batch = min(65536, int(2 * total / (4 * 10 ** 6)) + 1)  # a layer's output: twice the device
    assert batch * 4 * 10 ** 6 > total, "this device is too big for the test's largest layer"
    doc = chain((4,), [("big", "Dense", {"units": 10 ** 6}), ("fc", "Dense", {"units": 2})],
                training={"batch_size": batch, "steps": 5})
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    trainer = Trainer(doc, random_data((4,), n=batch * 4 // 3 + 8), overrides={"device": "cuda"})
    summary = trainer.run()
    assert summary["status"] == "failed" and summary["reason"] == "oom" and summary["steps"] == 0
    assert summary["message"].startswith(f"Out of memory on cuda with batch size {batch}: try a smaller batch size")
    assert "mixed precision" in summary["message"]
    del trainer
    import gc
    gc.collect()  # the compiled graph module holds reference cycles
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() - before < 64 * 2 ** 20
