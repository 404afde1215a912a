"""``python -m engine train`` run as a real subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.session import SessionReader
from engine.graph.document import save_graph
from tests.engine.test_trainer import chain_doc, mlp_doc

ROOT = Path(__file__).resolve().parents[2]


def train(*args, timeout=120):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "engine", "train", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_json_summary_is_the_last_stdout_line_and_the_run_is_recorded(tmp_path):
    graph = tmp_path / "mlp.json"
    save_graph(mlp_doc(training={"epochs": 1}), graph)
    session = tmp_path / "run.session"
    out = train(graph, "--steps", "25", "--seed", "1", "--device", "cpu", "--record", session, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 25 and summary["device"] == "cpu" and summary["status"] == "finished"
    assert summary["train_loss"] > 0 and summary["val_loss"] > 0 and 0 <= summary["val_accuracy"] <= 1
    assert summary["seconds"] > 0
    assert "step 25/25" in out.stderr and "samples/s" in out.stderr and "ETA" in out.stderr
    with SessionReader(session) as r:
        steps, _ = r.scalar("train/loss")
        assert steps[-1] == 25
        assert r.checkpoint_steps() == [25]
        kinds = [e.kind for e in r.events()]
        assert kinds[0] == "start" and kinds[-2:] == ["finish", "checkpoint"]


def test_template_slug_regression_nulls_and_bad_input(tmp_path):
    graph = tmp_path / "sine.json"
    doc = chain_doc([("Dense", {"units": 8}), ("Tanh", {}), ("Dense", {"units": 1})], {"device": "cpu"},
                    input_shape=(1,), loss="MSE", dataset={"name": "sine", "params": {}})
    save_graph(doc, graph)
    out = train(graph, "--steps", "5", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["val_accuracy"] is None

    out = train("no_such_template", "--steps", "1")
    assert out.returncode == 1
    assert out.stderr.strip().startswith("There is no template named 'no_such_template'")
    assert "Traceback" not in out.stderr

    save_graph(mlp_doc(classes=3), graph)
    out = train(graph, "--steps", "1")
    assert out.returncode == 1
    assert out.stderr.strip() == ("Dataset 'spiral' has 2 classes but the output feeding the loss has 3 "
                                  "(the last dimension of (3,)).")


def test_nan_stops_the_cli_run_with_advice(tmp_path):
    graph = tmp_path / "nan.json"
    doc = chain_doc([("Dense", {"units": 16}), ("Tanh", {}), ("Dense", {"units": 1})],
                    {"optimizer": "sgd", "lr": 10.0, "device": "cpu"}, input_shape=(1,), loss="MSE",
                    dataset={"name": "sine", "params": {}})
    save_graph(doc, graph)
    out = train(graph, "--steps", "500", "--json")
    assert out.returncode == 1
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["status"] == "failed" and summary["steps"] < 500
    assert "Lower the learning rate" in out.stderr


def test_the_progress_bar_is_called_when_a_line_is_due_and_draws_the_last_step():
    import io

    from engine.cli.train import _make_progress_bar
    from engine.train import Trainer
    from tests.engine.test_trainer import spiral
    stream = io.StringIO()  # not a terminal: a line every 5 s, and the last
    bar = _make_progress_bar(stream)
    called, draw = [], bar.on_step_end
    bar.on_step_end = lambda trainer, step, metrics: (called.append(step), draw(trainer, step, metrics))
    trainer = Trainer(mlp_doc(training={"steps": 40, "val_every": 1000}), spiral(300), callbacks=[bar])
    trainer.run()
    assert called == [1, 40]  # the first line, then nothing due before the last step
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith("step 40/40 [") and f"loss {trainer.recent_loss:.4g} " in last
