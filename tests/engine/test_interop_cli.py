"""``python -m engine export``: a session's checkpoint as safetensors, its scalars as
TensorBoard event files, a graph or a session's network as PyTorch code or ONNX; every
mistake is one sentence."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.cli import main
from engine.interop.code_export import export_code
from engine.session import SessionWriter
from engine.templates import load_template

from .interop_cases import trained_like


@pytest.fixture
def run(tmp_path):
    """A LeNet session with checkpoints at steps 10 and 20 (weights that differ) and scalars."""
    doc = load_template("lenet")
    path = tmp_path / "run.session"
    ckpt = {step: trained_like(doc, seed=step).weights for step in (10, 20)}
    with SessionWriter(path, doc.to_dict(), {}) as w:
        for step in range(0, 21, 5):
            w.scalar("train/loss", step, 2.0 / (step + 1), wall=1000.0 + step)
        w.scalar("val/accuracy", 20, float("nan"), wall=1030.0)
        for step, weights in ckpt.items():
            w.checkpoint(step, weights)
        w.commit()
    return doc, path, ckpt


def test_a_checkpoint_goes_out_as_safetensors_named_as_the_exported_code(run, tmp_path, capsys):
    doc, path, ckpt = run
    out = tmp_path / "w.safetensors"
    assert main(["export", str(path), "--weights", str(out), "--step", "15"]) == 0
    assert capsys.readouterr().out == (f"Wrote 10 weight tensors from the checkpoint at step 10 of run.session "
                                       f"to {out}.\n")
    saved = load_file(str(out))
    code = export_code(doc)
    assert set(saved) == {code.exported_key(k) for k in ckpt[10]}
    assert all(np.array_equal(saved[code.exported_key(k)].numpy(), v) for k, v in ckpt[10].items())
    assert main(["export", str(path), "--weights", str(out)]) == 0  # the last checkpoint by default
    assert np.array_equal(load_file(str(out))["c1.weight"].numpy(), ckpt[20]["c1.weight"])


def test_a_graph_with_a_sessions_weights_goes_out_as_code(run, tmp_path):
    doc, path, ckpt = run
    py, w = tmp_path / "lenet.py", tmp_path / "lenet.safetensors"
    assert main(["export", "lenet", "--from", str(path), "--step", "10", "--to", "pytorch", str(py),
                 "--weights", str(w)]) == 0
    namespace: dict = {}
    exec(compile(py.read_text(), str(py), "exec"), namespace)  # noqa: S102 - our own generated file
    model = namespace["LeNet5"]()
    model.load_state_dict(load_file(str(w)))
    assert torch.equal(model.c1.weight.detach(), torch.from_numpy(ckpt[10]["c1.weight"]))


def test_a_batch_norm_networks_weights_load_into_its_exported_code(tmp_path):
    """Batch norm's step counter is 0-d in torch's state dict; the exported weights keep it
    so, or a strict load_state_dict refuses the file."""
    doc = load_template("resnet")
    path, py, w = tmp_path / "bn.session", tmp_path / "resnet.py", tmp_path / "resnet.safetensors"
    weights = trained_like(doc, seed=3).weights
    assert any(k.endswith("num_batches_tracked") and v.ndim == 0 for k, v in weights.items())
    with SessionWriter(path, doc.to_dict(), {}) as writer:
        writer.checkpoint(5, weights)
    assert main(["export", "resnet", "--from", str(path), "--to", "pytorch", str(py), "--weights", str(w)]) == 0
    namespace: dict = {}
    exec(compile(py.read_text(), str(py), "exec"), namespace)  # noqa: S102 - our own generated file
    code = export_code(doc)
    model = namespace[code.class_name]()
    saved = load_file(str(w))
    assert all(saved[code.exported_key(k)].shape == v.shape for k, v in weights.items())  # 0-d as torch's
    model.load_state_dict(saved)  # strict
    state = model.state_dict()
    for k, v in weights.items():
        assert np.array_equal(state[code.exported_key(k)].numpy(), v), k


def _events(logdir: Path) -> list:
    """Every event in the TensorBoard files under ``logdir`` (the TFRecord framing read by hand)."""
    from tensorboardX.proto import event_pb2
    out = []
    for f in sorted(logdir.glob("events.out.tfevents.*")):
        data = f.read_bytes()
        i = 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            out.append(event_pb2.Event.FromString(data[i + 12:i + 12 + n]))
            i += 12 + n + 4
    return out


def test_scalars_go_out_as_tensorboard_events(run, tmp_path, capsys):
    _, path, _ = run
    assert main(["export", str(path), "--tensorboard", str(tmp_path / "tb")]) == 0
    assert capsys.readouterr().out == f"Wrote 6 scalar values to TensorBoard files under {tmp_path / 'tb'}.\n"
    got = [(v.tag, e.step, e.wall_time, v.simple_value) for e in _events(tmp_path / "tb") for v in e.summary.value]
    loss = [g for g in got if g[0] == "train/loss"]
    assert [(s, wall) for _, s, wall, _ in loss] == [(s, 1000.0 + s) for s in range(0, 21, 5)]
    assert np.allclose([v for *_, v in loss], [2.0 / (s + 1) for s in range(0, 21, 5)])
    (acc,) = [g for g in got if g[0] == "val/accuracy"]
    assert acc[1] == 20 and np.isnan(acc[3])


@pytest.mark.parametrize("args, message", [
    (["lenet"], "Nothing to export: give --scalars, --tensorboard, --to FORMAT OUT or --weights."),
    (["lenet", "--scalars", "o.csv"], "--scalars and --tensorboard read a recorded session; lenet is not a session file."),
    (["lenet", "--to", "keras", "o.py"], "Unknown export format 'keras': use pytorch or onnx."),
    (["lenet", "--step", "3", "--weights", "w.safetensors"],
     "--step picks a session checkpoint: give a session file or --from RUN.session."),
])
def test_usage_mistakes_are_one_sentence_and_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", *args]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_weights_of_another_network_are_refused(run, tmp_path, capsys):
    _, path, _ = run
    assert main(["export", "resnet", "--from", str(path), "--to", "pytorch", str(tmp_path / "r.py")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("The weights from the checkpoint at step 20 of run.session do not fit the graph "
                          "'ResNet-20 (mini)': it lacks ")
    assert not (tmp_path / "r.py").exists()


def test_onnx_export_without_its_packages_says_what_to_install(run, tmp_path, capsys, monkeypatch):
    import importlib.util

    import engine.interop.onnx_export as onnx_export
    real = importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real(name, *a))
    _, path, _ = run
    assert main(["export", str(path), "--to", "onnx", str(tmp_path / "m.onnx")]) == 1
    assert capsys.readouterr().err == ("ONNX export needs the optional package onnxscript: "
                                       "pip install 'neurostudio[onnx]'.\n")


def test_a_session_goes_out_as_onnx_with_its_weights(run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort
    doc, path, ckpt = run
    out = tmp_path / "lenet.onnx"
    assert main(["export", str(path), "--to", "onnx", str(out), "--step", "10"]) == 0
    assert capsys.readouterr().out.startswith(f"Wrote ONNX (opset 18) for 'LeNet-5' with the checkpoint at step 10 "
                                              f"of run.session to {out}; onnxruntime matches torch to ")
    from engine.graph.compile import compile_graph
    compiled = compile_graph(doc)
    compiled.model.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt[10].items()})
    x = torch.randn(4, 1, 28, 28)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - compiled.model.eval()(x).numpy()).max() <= 1e-4
