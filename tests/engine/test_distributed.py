"""Data-parallel training: 2 CPU processes under torchrun on gloo record one session with
every step once, whose loss is the average of the two processes' losses (computed here
from each one's half of the global batch), and which trains as one process does on the
doubled batch; rank 0's checkpoint loads into a plain single-process trainer."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.session import SessionReader
from engine.templates import load_template
from engine.train import Callback, Trainer

ROOT = Path(__file__).resolve().parents[2]
STEPS, SHARE, SEED = 24, 16, 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HalfLosses(Callback):
    """The oracle: before each update, the loss of each half of the batch just trained on,
    with the weights that step used (what each of two processes computes)."""

    def __init__(self):
        self.batches, self.halves, self.losses = [], [], []

    def on_after_backward(self, trainer, step):
        xb, yb = self.batches[-1]
        with torch.no_grad():
            self.halves.append([float(trainer.loss_fn(trainer.model(xb[r * SHARE:(r + 1) * SHARE]),
                                                      yb[r * SHARE:(r + 1) * SHARE])) for r in (0, 1)])

    def on_step_end(self, trainer, step, metrics):
        self.losses.append(metrics["loss"])


def single_process_run():
    doc = load_template("playground_mlp")
    oracle = HalfLosses()
    trainer = Trainer(doc, overrides={"steps": STEPS, "seed": SEED, "batch_size": 2 * SHARE,
                                      "device": "cpu"}, callbacks=[oracle])
    draw = trainer._next_batch

    def keep():  # the oracle sees the batches this run draws
        xb, yb = draw()
        oracle.batches.append((xb, yb))
        return xb, yb
    trainer._next_batch = keep
    trainer.run()
    return trainer, oracle


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc; none elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def torchrun(cmd, timeout: float, env=None) -> subprocess.CompletedProcess:
    """Run torchrun. Past ``timeout`` (it has hung at the end of training twice in loaded
    full runs, never alone) its workers are sent SIGABRT, so that Python's fault handler
    writes where each thread stood into the failure message, then torchrun SIGTERM, which
    it passes on (its workers run in sessions of their own: killing torchrun alone, as
    subprocess.run does, leaves a worker waiting for its peer forever)."""
    env = {**(env or os.environ), "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in _children(proc.pid):
            try:
                os.kill(pid, signal.SIGABRT)
            except OSError:
                pass
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
        pytest.fail(f"torchrun ran past {timeout} s; the end of its output:\n{err[-8000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_two_gloo_processes_train_as_one_on_the_doubled_batch(tmp_path):
    path = tmp_path / "ddp.session"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
           "-m", "engine", "train", "playground_mlp", "--distributed", "--steps", str(STEPS),
           "--seed", str(SEED), "--device", "cpu", "--set", f"batch_size={SHARE}", "--record", str(path),
           "--set", "heavy_every=8"]
    done = torchrun(cmd, 240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("Finished 24 steps") == 1  # rank 0 alone reports

    single, oracle = single_process_run()
    with SessionReader(path) as r:
        steps, losses = r.scalar("train/loss")
        assert list(steps) == list(range(1, STEPS + 1))  # every step, once
        assert [e.kind for e in r.events()].count("start") == 1
        # the recorded loss is the mean over the two processes' halves of the batch
        np.testing.assert_allclose(losses, np.mean(oracle.halves, axis=1), rtol=2e-5, atol=1e-6)
        # and the loss one process computes on the whole doubled batch
        np.testing.assert_allclose(losses, oracle.losses, rtol=2e-5, atol=1e-6)
        assert r.settings["batch_size"] == SHARE
        _, rate = r.scalar("samples_per_s")
        assert len(rate) and np.all(rate > 0)
        assert r.tensor_names()  # rank 0's probes
        assert list(r.checkpoint_steps()) == [STEPS]
        weights, optimizer = r.checkpoint(STEPS)
    assert not any(k.startswith("module.") for k in weights)
    ref = {k: v.numpy() for k, v in single.model.state_dict().items()}
    for key, value in ref.items():
        np.testing.assert_allclose(weights[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
    # rank 0's checkpoint goes on in a plain single-process trainer, as it is
    other = Trainer(load_template("playground_mlp"), overrides={"steps": STEPS + 2, "seed": 9, "device": "cpu"})
    other.restore(weights, optimizer)
    assert other.step == STEPS
    for key, value in other.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), weights[key])


def test_distributed_outside_torchrun_is_one_sentence(monkeypatch, capsys):
    from engine.cli import main
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "playground_mlp", "--distributed", "--steps", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("--distributed runs under torchrun, which sets RANK, WORLD_SIZE"), err
    assert "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_one_nccl_process_trains_on_its_local_gpu(tmp_path):
    path = tmp_path / "nccl.session"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "1",
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
           "-m", "engine", "train", "playground_mlp", "--distributed", "--steps", "20", "--record", str(path)]
    done = torchrun(cmd, 300)
    assert done.returncode == 0, done.stderr[-3000:]
    with SessionReader(path) as r:
        assert r.settings["device"] == "cuda:0"
        assert list(r.scalar("train/loss")[0]) == list(range(1, 21))
