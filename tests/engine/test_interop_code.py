"""Graphs exported as PyTorch code: every template and every layer case, imported in a fresh
Python process (which knows nothing of Neurostudio) with the exported weights, computes what
the compiled graph computes."""
from __future__ import annotations

import ast

import numpy as np
import pytest
import torch

from engine.graph.catalogue import CATALOGUE
from engine.interop.code_export import export_code
from engine.interop.code_layers import EMITTERS
from engine.interop.weights import save_safetensors

from .interop_cases import compiled_output, example_input, layer_docs, run_exported, template_docs, trained_like


def test_every_layer_type_has_a_code_form():
    missing = [name for name, spec in CATALOGUE.items()
               if spec.role not in ("input", "loss") and name not in EMITTERS]
    assert missing == []


def test_exported_code_matches_the_compiled_graph_in_a_fresh_process(tmp_path):
    docs = {**{f"t_{k}": v for k, v in template_docs().items()}, **layer_docs()}
    jobs, want = [], {}
    for name, doc in docs.items():
        code = export_code(doc)
        weights = trained_like(doc)
        x = example_input(doc)
        want[name] = compiled_output(doc, weights, x)
        py, w, xp = tmp_path / f"{name}.py", tmp_path / f"{name}.safetensors", tmp_path / f"{name}.x.pt"
        py.write_text(code.source)
        save_safetensors(code.rename_weights(weights.weights), w)
        torch.save(x, xp)
        jobs.append({"name": name, "py": str(py), "cls": code.class_name, "weights": str(w), "x": str(xp),
                     "y": str(tmp_path / f"{name}.y.npy")})
        # only torch (and math) is imported by the file
        imported = {a.name for n in ast.walk(ast.parse(code.source)) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(ast.parse(code.source)) if isinstance(n, ast.ImportFrom)}
        assert imported <= {"torch", "torch.nn.functional", "math"}, (name, imported)
    ours = run_exported(jobs)
    assert all(v == [] for v in ours.values()), "the exported files must not need Neurostudio"
    worst = {name: float(np.abs(np.load(tmp_path / f"{name}.y.npy") - want[name]).max()) for name in docs}
    assert max(worst.values()) <= 1e-5, {k: v for k, v in worst.items() if v > 1e-5}
    assert len(docs) >= 75  # 20 templates and every layer case ran


def test_exported_file_reads_like_hand_written_code():
    code = export_code(template_docs()["resnet"])
    src = code.source
    assert "class ResNet20Mini(nn.Module):" in src
    assert "        self.s1b1_conv1 = nn.Conv2d(8, 8, 3, padding=\"same\", bias=False)" in src
    # the residual sum is written as a sum of named values, with the shape it has
    assert "        x = x + stem_relu  # (N, 8, 28, 28)" in src
    assert "        return x" in src
    assert "nn.CrossEntropyLoss()" in src  # the docstring names the loss in plain torch


@pytest.mark.parametrize("params, want", [
    ({"units": 4, "return_sequences": False}, "x = self.n(x)[0][:, -1]  # (N, 4): h_t at the last step"),
    ({"units": 4, "bidirectional": True, "return_sequences": False},
     "x = torch.cat([x[-2], x[-1]], dim=1)  # (N, 8): the final state of each direction"),
    ({"units": 4, "variant": "peephole"}, "self.n = PeepholeLSTM(3, 4, return_sequences=True)"),
])
def test_recurrent_layers_are_written_as_their_idioms(params, want):
    from .test_layers import case_doc
    assert want in export_code(case_doc("LSTM", (5, 3), params)).source


def test_weight_names_follow_the_exported_attributes():
    from .test_layers import case_doc
    code = export_code(case_doc("RNN", (5, 3), {"units": 4, "learned_h0": True}))
    assert code.exported_key("n.rnn.weight_ih_l0") == "n.weight_ih_l0"
    assert code.exported_key("n.h0") == "n_h0"
    assert code.exported_key("head.weight") == "head.weight"
