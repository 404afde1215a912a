"""The example reader in docs/session-format.md (sqlite3 + numpy only) must read every
kind of record of a real file written by SessionWriter, with the right values."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.session import SessionWriter

DOC = Path(__file__).resolve().parents[2] / "docs" / "session-format.md"


def example_reader() -> dict:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- example-reader -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/session-format.md lost its <!-- example-reader --> code block"
    namespace: dict = {}
    exec(compile(match.group(1), str(DOC), "exec"), namespace)  # our own documentation
    return namespace


def test_example_reader_reads_every_record_kind(tmp_path):
    path = tmp_path / "run.session"
    graph = {"name": "mlp", "nodes": [{"id": "fc1", "type": "Linear"}], "edges": []}
    rng = np.random.default_rng(3)
    fm = np.maximum(rng.standard_normal((4, 8, 16, 16)) - 1.5, 0).astype(np.float32)  # mostly dead: zlib
    hist = rng.integers(0, 100, 32).astype(np.int64)
    weights = {"fc1.weight": rng.standard_normal((3, 5)).astype(np.float32),
               "fc1.bias": np.arange(3, dtype=np.float64)}
    opt = {"state": {0: {"step": np.array(4.0, np.float32), "exp_avg": np.ones((3, 5), np.float32)}},
           "param_groups": [{"params": [0], "lr": 0.1}]}
    x, y = rng.standard_normal((4, 5)).astype(np.float32), np.array([0, 1, 1, 0])
    with SessionWriter(path, graph, {"lr": 0.1}) as w:
        w.probe_batch(x, y)
        for step in range(10):
            w.scalar("train/loss", step, 2.0 - step / 10)
        w.scalar("grad_norm", 9, float("nan"))
        w.tensor("feature_maps/fc1", 4, fm)
        w.tensor("act_hist/fc1", 6, hist, compress=False)
        w.tensor("mask", 2, np.array([True, False, True]))
        w.event("start", 0, "go", {"seed": 1})
        w.event("nan", 9, "loss is NaN")
        w.checkpoint(8, weights, opt)

    reader = example_reader()
    got = reader["summary"](path)
    assert got["graph"] == graph and got["settings"] == {"lr": 0.1} and got["last_step"] == 9
    steps, values = got["scalars"]["train/loss"]
    np.testing.assert_array_equal(steps, np.arange(10))
    np.testing.assert_allclose(values, 2.0 - np.arange(10) / 10)
    assert np.isnan(got["scalars"]["grad_norm"][1][0])
    step, arr = got["tensors"]["feature_maps/fc1"]
    assert step == 4 and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, fm)
    np.testing.assert_array_equal(got["tensors"]["act_hist/fc1"][1], hist)
    assert got["tensors"]["mask"][1].tolist() == [True, False, True]
    assert [(e[0], e[2], e[3], e[4]) for e in got["events"]] == [
        (0, "start", "go", {"seed": 1}), (9, "nan", "loss is NaN", None)]
    cp_weights, cp_opt = got["checkpoints"][8]
    for name, value in weights.items():
        np.testing.assert_array_equal(cp_weights[name], value)
        assert cp_weights[name].dtype == value.dtype
    assert cp_opt["state"][0]["step"] == 4.0 and cp_opt["param_groups"] == [{"params": [0], "lr": 0.1}]
    np.testing.assert_array_equal(cp_opt["state"][0]["exp_avg"], np.ones((3, 5)))
    np.testing.assert_array_equal(got["probe"][0], x)
    np.testing.assert_array_equal(got["probe"][1], y)
    # "at or before" with the example's own helper
    db, _ = reader["open_session"](path)
    assert reader["tensor_at"](db, "feature_maps/fc1", 3) is None
    assert reader["tensor_at"](db, "feature_maps/fc1", 7)[0] == 4
    # The test must exercise both paths of decode(): zlib and raw.
    assert dict(db.execute("SELECT s.name, t.compression FROM tensors t JOIN series s "
                           "ON s.id = t.series")) == {
        "feature_maps/fc1": "zlib", "act_hist/fc1": "none", "mask": "none"}
    db.close()

