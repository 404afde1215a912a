"""A run that starts from a weights file: the weights a graph exports (named as its PyTorch
code names them) load back as the trainer's starting point, exactly; a file that does not fit
or lies outside the allowed folders is one sentence."""
from __future__ import annotations

import numpy as np
import pytest

from engine.interop.code_export import export_weights
from engine.interop.weights import GraphWeights
from engine.train import Trainer, TrainError
from tests.engine.test_trainer import mlp_doc


def state(trainer):
    return {k: v.detach().numpy().copy() for k, v in trainer.model.state_dict().items()}


def test_a_run_starts_from_exported_weights(tmp_path):
    doc = mlp_doc(units=8, training={"steps": 20, "seed": 3})
    trained = Trainer(doc)
    trained.run()
    weights = GraphWeights(state(trained), "a trained run")
    export_weights(doc, weights, tmp_path / "w.safetensors")
    fresh = state(Trainer(mlp_doc(units=8, training={"steps": 1, "seed": 3})))
    doc2 = mlp_doc(units=8, training={"steps": 1, "seed": 3, "init_weights": "w.safetensors"})
    started = Trainer(doc2, base_dir=tmp_path)
    got = state(started)
    assert set(got) == set(weights.weights)
    for name, arr in weights.weights.items():
        np.testing.assert_array_equal(got[name], arr)
    assert any(not np.array_equal(fresh[n], got[n]) for n in got)  # not the seed's initialisation


def test_weights_that_do_not_fit_or_lie_elsewhere_are_one_sentence(tmp_path):
    doc = mlp_doc(units=8, training={"steps": 1})
    export_weights(doc, GraphWeights(state(Trainer(doc)), "x"), tmp_path / "w.safetensors")
    wider = mlp_doc(units=12, training={"steps": 1, "init_weights": "w.safetensors"})
    with pytest.raises(TrainError, match=r"^The weights in w.safetensors: '.*' has shape"):
        Trainer(wider, base_dir=tmp_path)
    elsewhere = mlp_doc(units=8, training={"steps": 1, "init_weights": str(tmp_path / "w.safetensors")})
    with pytest.raises(TrainError, match="lies outside"):
        Trainer(elsewhere, base_dir=tmp_path / "sub")


def test_check_says_what_training_would_about_the_weights_file(tmp_path, capsys):
    from engine.cli import main as cli
    from engine.graph.document import save_graph

    doc = mlp_doc(units=8, training={"steps": 1})
    export_weights(doc, GraphWeights(state(Trainer(doc)), "x"), tmp_path / "w.safetensors")
    (tmp_path / "sub").mkdir()
    cases = {"fits.json": ("w.safetensors", 8, None),
             "wider.json": ("w.safetensors", 12, "graph: The weights in w.safetensors: '"),
             "sub/outside.json": ("../w.safetensors", 8, "graph: Weights file '../w.safetensors' lies outside")}
    for name, (path, units, said) in cases.items():
        graph = mlp_doc(units=units, training={"steps": 1, "init_weights": path})
        save_graph(graph, tmp_path / name)
        code = cli(["check", str(tmp_path / name), "--no-data"])
        out = capsys.readouterr().out
        if said is None:
            assert code == 0 and "graph:" not in out
        else:
            assert code == 1 and said in out, out
