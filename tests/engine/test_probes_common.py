"""Shared builders for the probe tests: small graph documents, in-memory datasets and a
real training run recorded to a session file. (No tests here.)"""
from __future__ import annotations

import numpy as np
import torch

from engine.data.base import ArrayDataset, DatasetInfo
from engine.graph.compile import compile_graph
from engine.graph.document import GraphDocument
from engine.probes import ProbeSet, ProbeSettings
from engine.probes.capture import ProbeCapture
from engine.probes.targets import Targets
from engine.session import SessionReader, SessionWriter
from engine.train import Trainer


def chain(input_shape, layers, loss="CrossEntropy", input_dtype="float", training=None,
          name="probe test") -> GraphDocument:
    """A graph document x -> layers... -> loss; ``layers`` is a list of (id, type, params)."""
    nodes = [{"id": "x", "type": "Input", "params": {"shape": list(input_shape), "dtype": input_dtype}}]
    nodes += [{"id": i, "type": t, "params": p} for i, t, p in layers]
    nodes.append({"id": "loss", "type": loss, "params": {}})
    ids = [n["id"] for n in nodes]
    edges = [{"from": f"{a}.out", "to": f"{b}.in"} for a, b in zip(ids, ids[1:])]
    return GraphDocument.from_dict({
        "format": "neurostudio.graph", "version": 1, "name": name, "nodes": nodes, "edges": edges,
        "dataset": {}, "training": {"optimizer": "adam", "lr": 1e-3, "batch_size": 16, "seed": 0,
                                    **(training or {})}})


def dataset(x: np.ndarray, y: np.ndarray, classes: int, n_val: int | None = None) -> ArrayDataset:
    n_val = len(x) // 4 if n_val is None else n_val
    info = DatasetInfo("probe test", tuple(x.shape[1:]), "float", "class", tuple(y.shape[1:]),
                       tuple(str(c) for c in range(classes)))
    return ArrayDataset(info, x[n_val:], y[n_val:], x[:n_val], y[:n_val])


def random_data(shape, classes: int = 2, n: int = 64, seed: int = 0, target_shape=()) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    y = rng.integers(0, classes, size=(n, *target_shape)).astype(np.int64)
    return dataset(x, y, classes)


def record_run(tmp_path, doc, data, steps=5, settings=None, **overrides):
    """Train ``steps`` steps with every probe on; returns (trainer, probes, SessionReader)."""
    path = tmp_path / "run.session"
    writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, settings or ProbeSettings(stats_every=1, heavy_every=2, dense=0))
    trainer = Trainer(doc, data, overrides={"steps": steps, "device": "cpu", **overrides},
                      callbacks=[probes])
    try:
        trainer.run()
        writer.commit()
    finally:
        writer.close()
    return trainer, probes, SessionReader(path)


def capture64(doc, x: np.ndarray, y: np.ndarray, seed: int = 0, init=None):
    """Compile ``doc`` in float64 and run one heavy capture on (x, y): (compiled, records)."""
    torch.manual_seed(seed)
    compiled = compile_graph(doc)
    compiled.model.double()
    if init is not None:
        init(compiled)
    targets = Targets(compiled, doc)
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y)
    cap = ProbeCapture(targets, xt, yt, compiled.loss, max_channels=1024, bins=16)
    return compiled, cap.run()
