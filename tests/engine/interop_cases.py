"""Shared by the interop tests: graphs to export (every template and every layer case of
test_layers), weights that are not a fresh initialisation (batch-norm statistics moved off
0 and 1, so eval mode is not the identity), example inputs, and a fresh Python process that
imports exported files."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from engine.graph.catalogue import CATALOGUE
from engine.graph.compile import compile_graph
from engine.interop.weights import GraphWeights, fresh_weights
from engine.templates import list_templates, load_template

from .test_layers import CASES, case_doc

ROOT = Path(__file__).resolve().parents[2]


def template_docs():
    return {t.slug: load_template(t.slug) for t in list_templates()}


def layer_docs(types=None):
    """Every layer case of test_layers (layer types that are not inputs or losses)."""
    out = {}
    for type_name, cases in CASES.items():
        if CATALOGUE[type_name].role in ("input", "loss") or (types and type_name not in types):
            continue
        for i, (shape, params) in enumerate(cases):
            out[f"{type_name}_{i}"] = case_doc(type_name, shape, params)
    return out


def trained_like(doc, seed=0) -> GraphWeights:
    """Fresh weights with batch-norm running statistics and scales moved to random values."""
    w = fresh_weights(doc)
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in w.weights.items():
        if k.endswith("running_mean"):
            v = rng.normal(0, 0.3, v.shape).astype(np.float32)
        elif k.endswith("running_var"):
            v = rng.uniform(0.5, 2.0, v.shape).astype(np.float32)
        elif v.dtype == np.float32:
            v = (v + rng.normal(0, 0.05, v.shape)).astype(np.float32)
        out[k] = v
    return GraphWeights(out, "trained-like weights")


def example_input(doc, batch=3, seed=1) -> torch.Tensor:
    compiled = compile_graph(doc, "meta")
    shape = (batch, *compiled.info[compiled.input_node].out_shape)
    gen = torch.Generator().manual_seed(seed)
    if compiled.input_dtype == torch.long:
        vocab = min(n.params.get("vocab", 32) for n in doc.nodes if n.type == "Embedding")
        return torch.randint(0, vocab, shape, generator=gen)
    return torch.randn(shape, generator=gen)


def compiled_output(doc, weights: GraphWeights, x) -> np.ndarray:
    compiled = compile_graph(doc)
    compiled.model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.weights.items()})
    with torch.no_grad():
        return compiled.model.eval()(x).numpy()


_CHILD = r'''
import importlib.util, json, sys
import numpy as np, torch
from safetensors.torch import load_file
out = {}
for job in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location(job["name"], job["py"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, job["cls"])()
    model.load_state_dict(load_file(job["weights"]))   # strict: every name must match
    x = torch.load(job["x"], weights_only=True)
    with torch.no_grad():
        np.save(job["y"], model.eval()(x).numpy())
    out[job["name"]] = sorted(set(sys.modules) & {"engine", "neurostudio"})
print(json.dumps(out))
'''


def run_exported(jobs: list[dict]) -> dict:
    """Import each exported .py in one fresh Python process, load its weights strictly and
    run it on its input; returns, per job, which of our packages that process imported."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(jobs)], capture_output=True, text=True,
                          timeout=240, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
