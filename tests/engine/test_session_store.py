"""Round trips of every record kind through a real session file, and the
"at or before" semantics that replay relies on."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from engine.session import Event, SessionError, SessionReader, SessionWriter

GRAPH = {"format": "neurostudio.graph", "version": 1, "name": "tiny",
         "nodes": [{"id": "fc1", "type": "Linear", "params": {"out_features": 3}}], "edges": []}
SETTINGS = {"lr": 0.01, "batch_size": 32}
DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def sample(dtype: str, shape, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "run.session"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compress", [False, True, None])
def test_tensor_round_trip_every_dtype(path, dtype, compress):
    arrays = {"big": sample(dtype, (40, 50)), "scalar0d": sample(dtype, ()),
              "empty": sample(dtype, (0, 7)), "vector": sample(dtype, (5,))}
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        for name, arr in arrays.items():
            w.tensor(name, 3, arr, compress=compress)
    with SessionReader(path) as r:
        for name, arr in arrays.items():
            step, got = r.tensor(name, 3, exact=True)
            assert step == 3
            assert got.dtype == arr.dtype and got.shape == arr.shape
            np.testing.assert_array_equal(got, arr)
            assert got.flags.writeable


def test_compression_flag_is_stored_as_asked(path):
    zeros = np.zeros((100, 100), np.float32)
    noise = np.random.default_rng(1).standard_normal((100, 100)).astype(np.float32)
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        w.tensor("zeros_auto", 0, zeros)
        w.tensor("noise_auto", 0, noise)
        w.tensor("zeros_off", 0, zeros, compress=False)
        w.tensor("tiny_auto", 0, np.zeros(4, np.float32))
    db = sqlite3.connect(path)
    rows = dict(db.execute("SELECT s.name, t.compression FROM tensors t JOIN series s "
                           "ON s.id = t.series"))
    sizes = dict(db.execute("SELECT s.name, length(t.data) FROM tensors t JOIN series s "
                            "ON s.id = t.series"))
    db.close()
    assert rows == {"zeros_auto": "zlib", "noise_auto": "none", "zeros_off": "none",
                    "tiny_auto": "none"}
    assert sizes["zeros_auto"] < 1000 and sizes["noise_auto"] == 40000


def test_big_endian_input_comes_back_equal_in_native_order(path):
    arr = np.arange(12, dtype=">f4").reshape(3, 4)
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        w.tensor("be", 0, arr)
    with SessionReader(path) as r:
        got = r.tensor("be", 0)[1]
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, np.arange(12, dtype=np.float32).reshape(3, 4))


def test_meta_graph_settings_parent_and_notes(path):
    parent = {"path": "/runs/a.session", "step": 120}
    w = SessionWriter(path, GRAPH, SETTINGS, dataset_info={"name": "xor", "n": 4}, parent=parent)
    w.set_meta("title", "first try")
    w.set_meta("notes", {"text": "lr too high?"})
    with pytest.raises(SessionError, match="reserved"):
        w.set_meta("format", "mine")
    w.close()
    with SessionReader(path) as r:
        assert r.graph == GRAPH and r.settings == SETTINGS
        assert r.dataset_info == {"name": "xor", "n": 4} and r.parent == parent
        assert r.meta["title"] == "first try" and r.meta["notes"] == {"text": "lr too high?"}
        assert r.meta["format"] == "neurostudio.session" and r.meta["format_version"] == 1
        assert r.last_step == -1


def test_refuses_to_overwrite_unless_asked(path):
    SessionWriter(path, GRAPH, SETTINGS).close()
    with pytest.raises(SessionError, match="already exists"):
        SessionWriter(path, GRAPH, SETTINGS)
    with SessionWriter(path, {"name": "other"}, {}, overwrite=True) as w:
        w.scalar("a", 0, 1.0)
    with SessionReader(path) as r:
        assert r.graph == {"name": "other"}


def test_many_scalars_at_once_read_back_as_one_at_a_time(path):
    # scalars() and scalar_rows() (many steps of the same names) store what scalar() does
    names = ["a", "b/c", "d"]
    rows = [[step, step * 0.5, float("nan") if step == 3 else -step, 1e30] for step in range(1, 9)]
    w = SessionWriter(path, GRAPH, SETTINGS)
    w.scalar_rows(names, rows[:4])
    for row in rows[4:]:
        w.scalars(row[0], dict(zip(names, row[1:])))
    w.scalars(9, {"d": 7, "a": 2})           # another set of names, ints become floats
    w.commit()
    w.close()
    with SessionReader(path) as r:
        assert r.scalar_names() == ["a", "b/c", "d"]
        for k, name in enumerate(names):
            steps, values = r.scalar(name)
            expect = [row[k + 1] for row in rows] + ([{"a": 2.0, "d": 7.0}[name]] if name != "b/c" else [])
            np.testing.assert_array_equal(steps, list(range(1, 9)) + ([9] if name != "b/c" else []))
            np.testing.assert_array_equal(values, expect)


def test_scalar_rows_keep_walls_order_and_refuse_bad_steps(path):
    w = SessionWriter(path, GRAPH, SETTINGS)
    w.scalar("a", 2, 1.0)
    w.scalar_rows(["a", "b"], np.array([[1, 10.0, 20.0], [2, 11.0, 21.0]]), [100.0, 101.0])
    w.scalar("b", 2, 5.0)                      # after the block: the last write of a step stays
    w.scalar_rows([], [[7], [8]])              # steps without values: nothing to write
    with pytest.raises(SessionError, match="non-empty string"):
        w.scalar_rows([""], [[99, 1.0]])         # refused whole: the last step stays 8
    for rows, walls, words in [([[1.5, 0.0]], None, "step 1.5 is not an int"),
                               ([[-1, 0.0]], None, "step -1 is not an int"),
                               ([[float("nan"), 0.0]], None, "step nan is not an int"),
                               ([[1, 0.0, 0.0]], None, "do not fit 1 names"),
                               ([[1, 0.0]], [1.0, 2.0], "2 wall times for 1 scalar rows"),
                               ([[1, 0.0], [2]], None, "not a table of numbers"),
                               ([[1, "x"]], None, "not a table of numbers")]:
        with pytest.raises(SessionError, match=words):
            w.scalar_rows(["a"], rows, walls)
    assert w.commit() == 8
    w.close()
    with SessionReader(path) as r:
        assert r.scalar("a")[1].tolist() == [10.0, 11.0] and r.scalar("b")[1].tolist() == [20.0, 5.0]
        walls = dict(r._db.execute("SELECT step, wall FROM scalars WHERE series = "
                                   "(SELECT id FROM series WHERE name = 'a')").fetchall())
        assert walls == {1: 100.0, 2: 101.0}
        kinds = r._db.execute("SELECT DISTINCT typeof(series), typeof(step) FROM scalars").fetchall()
        assert kinds == [("integer", "integer")]


def test_scalars_later_are_computed_by_the_transaction_in_write_order(path):
    import threading
    w = SessionWriter(path, GRAPH, SETTINGS)
    w.commit_in_background()
    where, calls = [], []

    def compute(values):
        where.append(threading.current_thread().name)
        calls.append(values)
        return values

    w.scalar("a", 3, 1.0)
    w.scalars_later(3, ["a", "b"], lambda: compute([2.0, np.float32(0.25)]), wall=50.0)
    w.scalar("b", 3, 7.0)                      # after the later part: the last write of a step stays
    w.scalars_later(4, ["b"], lambda: compute([float("nan")]))
    assert calls == []                         # nothing computed before a commit
    w.commit()
    assert w.flush() == 4
    assert where == ["session-writer"] * 2     # on the writer's thread, once each
    with SessionReader(path) as r:
        assert r.scalar("a")[1].tolist() == [2.0]
        steps, b = r.scalar("b")
        assert steps.tolist() == [3, 4] and b[0] == 7.0 and np.isnan(b[1])
        assert r._db.execute("SELECT wall FROM scalars WHERE step = 3 AND series = "
                             "(SELECT id FROM series WHERE name = 'a')").fetchone() == (50.0,)
    w.close()


def test_scalars_later_that_fail_are_one_sentence_then_missing(path):
    w = SessionWriter(path, GRAPH, SETTINGS)
    w.scalar("a", 1, 1.0)
    w.scalars_later(2, ["acc", "norm"], lambda: [1.0])        # one value for two names
    with pytest.raises(SessionError, match=r"values of acc, norm at step 2 could not be computed .*missing"):
        w.commit()
    w.scalars_later(3, ["acc"], lambda: 1 / 0)
    with pytest.raises(SessionError, match="ZeroDivisionError"):
        w.commit()
    assert w.commit() == 3                     # nothing lost, no transaction left open
    w.scalar("a", 4, 4.0)
    assert w.commit() == 4
    w.close()
    with SessionReader(path) as r:
        assert r.scalar("a")[1].tolist() == [1.0, 4.0]
        assert np.isnan(r.scalar("acc")[1]).all() and r.scalar("acc")[0].tolist() == [2, 3]


def test_scalars_series_and_at_or_before(path):
    w = SessionWriter(path, GRAPH, SETTINGS)
    for step in range(0, 100):
        w.scalar("train/loss", step, 1.0 / (step + 1), wall=1000.0 + step)
        if step % 10 == 0:
            w.scalar("val/accuracy", step, step / 100)
    w.scalar("grad_norm", 50, float("nan"))
    w.scalar("grad_norm", 60, float("inf"))
    assert w.commit() == 99
    w.close()
    with SessionReader(path) as r:
        assert r.scalar_names() == ["grad_norm", "train/loss", "val/accuracy"]
        steps, values = r.scalar("train/loss")
        np.testing.assert_array_equal(steps, np.arange(100))
        np.testing.assert_allclose(values, 1.0 / (np.arange(100) + 1))
        steps, values = r.scalar("val/accuracy", upto=35)
        np.testing.assert_array_equal(steps, [0, 10, 20, 30])
        at = r.scalars_at(37)
        assert at["train/loss"] == pytest.approx(1 / 38) and at["val/accuracy"] == 0.3
        assert "grad_norm" not in at               # nothing at or before 37
        at = r.scalars_at(55)
        assert np.isnan(at["grad_norm"]) and at["val/accuracy"] == 0.5
        assert r.scalars_at(1000)["grad_norm"] == np.inf
        assert r.scalar("never/written")[0].size == 0


def test_scalar_tails_read_several_series_each_from_its_own_step(path):
    w = SessionWriter(path, GRAPH, SETTINGS)
    for step in range(0, 100):
        w.scalar("train/loss", step, 1.0 / (step + 1))
        if step % 10 == 0:
            w.scalar("val/accuracy", step, step / 100)
    w.scalar("grad_norm", 50, float("nan"))
    w.commit()
    w.close()
    with SessionReader(path) as r:
        since = {"train/loss": 90, "val/accuracy": None, "grad_norm": 51, "never/written": 3}
        tails = r.scalar_tails(since, upto=95)
        assert set(tails) == set(since)
        for name, first in since.items():
            steps, values = r.scalar(name, upto=95, since=first)
            np.testing.assert_array_equal(tails[name][0], steps)
            np.testing.assert_array_equal(tails[name][1], values)
        assert tails["train/loss"][0].tolist() == [90, 91, 92, 93, 94, 95]
        assert tails["grad_norm"][0].size == 0 and tails["never/written"][0].size == 0
        assert np.isnan(r.scalar_tails({"grad_norm": None})["grad_norm"][1][0])


def test_same_scalar_step_written_twice_keeps_the_last(path):
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        w.scalar("lr", 5, 0.1)
        w.commit()
        w.scalar("lr", 5, 0.05)
    with SessionReader(path) as r:
        assert r.scalar("lr")[1].tolist() == [0.05]


def test_tensor_at_or_before_and_tensors_at_prefix(path):
    w = SessionWriter(path, GRAPH, SETTINGS)
    for step in (0, 10, 20):
        w.tensor("feature_maps/c1", step, np.full((2, 3), step, np.float32))
    w.tensor("feature_maps/c2", 15, np.full((4,), 15, np.int32))
    w.tensor("lstm/l1/gates", 5, np.ones((4, 2, 3)))
    w.close()
    with SessionReader(path) as r:
        assert r.tensor_names() == ["feature_maps/c1", "feature_maps/c2", "lstm/l1/gates"]
        np.testing.assert_array_equal(r.tensor_steps("feature_maps/c1"), [0, 10, 20])
        step, arr = r.tensor("feature_maps/c1", 19)
        assert step == 10 and arr[0, 0] == 10
        assert r.tensor("feature_maps/c1", 19, exact=True) is None
        assert r.tensor("feature_maps/c2", 14) is None
        assert r.tensor("no/such", 14) is None
        got = r.tensors_at(17, prefix="feature_maps/")
        assert sorted(got) == ["feature_maps/c1", "feature_maps/c2"]
        assert got["feature_maps/c1"][0] == 10 and got["feature_maps/c2"][0] == 15
        np.testing.assert_array_equal(got["feature_maps/c2"][1], np.full(4, 15, np.int32))
        assert sorted(r.tensors_at(5)) == ["feature_maps/c1", "lstm/l1/gates"]
        assert r.tensors_at(100, prefix="nothing") == {}
        assert r.record_counts()["tensor"] == {"feature_maps/c1": 3, "feature_maps/c2": 1,
                                               "lstm/l1/gates": 1}


def test_events_in_order_with_kind_filter(path):
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        w.event("start", 0, "training started", wall=10.0)
        w.event("lr_change", 40, "lr 0.1 -> 0.01", {"old": 0.1, "new": 0.01}, wall=11.0)
        w.event("nan", 41, "loss is NaN")
        w.event("finish", 50)
    with SessionReader(path) as r:
        events = r.events()
        assert [e.kind for e in events] == ["start", "lr_change", "nan", "finish"]
        assert events[1] == Event(40, 11.0, "lr_change", "lr 0.1 -> 0.01", {"old": 0.1, "new": 0.01})
        assert [e.step for e in r.events(kinds=["nan", "finish"])] == [41, 50]
        assert r.events("start")[0].message == "training started"
        assert r.last_step == 50


def test_checkpoint_round_trip_with_torch_like_optimizer_state(path):
    rng = np.random.default_rng(0)
    weights = {"fc1.weight": rng.standard_normal((3, 4)).astype(np.float32),
               "fc1.bias": np.zeros(3, np.float32),
               "bn.num_batches_tracked": np.array(7, np.int64)}
    optimizer = {"state": {0: {"step": np.array(12.0, np.float32),
                               "exp_avg": rng.standard_normal((3, 4)).astype(np.float32)},
                           1: {"step": np.array(12.0, np.float32), "exp_avg": np.ones(3, np.float32)}},
                 "param_groups": [{"params": [0, 1], "lr": 0.001, "betas": (0.9, 0.999),
                                   "amsgrad": False, "foreach": None, "$odd": 1}]}
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        w.checkpoint(100, weights, optimizer)
        w.checkpoint(200, {"fc1.bias": np.ones(3, np.float32)})
    with SessionReader(path) as r:
        assert r.checkpoint_steps() == [100, 200]
        got_w, got_opt = r.checkpoint(100)
        assert set(got_w) == set(weights)
        for k in weights:
            assert got_w[k].dtype == weights[k].dtype
            np.testing.assert_array_equal(got_w[k], weights[k])
        assert set(got_opt["state"]) == {0, 1}          # int keys survive
        np.testing.assert_array_equal(got_opt["state"][0]["exp_avg"], optimizer["state"][0]["exp_avg"])
        assert got_opt["state"][1]["step"].shape == () and got_opt["state"][1]["step"] == 12.0
        group = got_opt["param_groups"][0]
        assert group["betas"] == [0.9, 0.999] and group["foreach"] is None and group["$odd"] == 1
        assert r.checkpoint(200)[1] is None
        with pytest.raises(SessionError, match="no checkpoint at step 150"):
            r.checkpoint(150)


def test_checkpoint_loads_back_into_torch(path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(8, 4)).sum().backward()
    opt.step()

    def to_numpy(tree):
        if isinstance(tree, torch.Tensor):
            return tree.detach().cpu().numpy()
        if isinstance(tree, dict):
            return {k: to_numpy(v) for k, v in tree.items()}
        if isinstance(tree, (list, tuple)):
            return [to_numpy(v) for v in tree]
        return tree

    with SessionWriter(path, GRAPH, SETTINGS) as w:
        w.checkpoint(1, to_numpy(model.state_dict()), to_numpy(opt.state_dict()))
    with SessionReader(path) as r:
        weights, state = r.checkpoint(1)
    twin = torch.nn.Linear(4, 3)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    twin_opt = torch.optim.Adam(twin.parameters(), lr=0.5)

    def to_torch(tree):
        if isinstance(tree, np.ndarray):
            return torch.from_numpy(tree)
        if isinstance(tree, dict):
            return {k: to_torch(v) for k, v in tree.items()}
        if isinstance(tree, list):
            return [to_torch(v) for v in tree]
        return tree

    twin_opt.load_state_dict(to_torch(state))
    assert twin_opt.param_groups[0]["lr"] == 0.01
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)
        assert torch.equal(opt.state[p]["exp_avg_sq"], twin_opt.state[q]["exp_avg_sq"])


def test_probe_batch_round_trip(path):
    x = np.random.default_rng(2).standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = np.arange(8, dtype=np.int64)
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        assert w.commit() == -1
        w.probe_batch(x, y)
    with SessionReader(path) as r:
        gx, gy = r.probe_batch()
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, y)


def test_nothing_is_visible_before_commit_and_commit_returns_the_step(path):
    w = SessionWriter(path, GRAPH, SETTINGS)
    w.scalar("a", 7, 1.0)
    with SessionReader(path) as r:
        assert r.last_step == -1 and r.scalar_names() == []
        assert w.commit() == 7
        assert r.refresh() == 7 and r.scalar("a")[1].tolist() == [1.0]
    w.close()


@pytest.mark.parametrize("call, message", [
    (lambda w: w.tensor("t", 0, np.array(["a", "b"], dtype=object)), "dtype object"),
    (lambda w: w.tensor("t", 0, np.zeros(2, np.complex64)), "dtype complex64"),
    (lambda w: w.scalar("a", -1, 1.0), "step -1"),
    (lambda w: w.scalar("a", 1.5, 1.0), "step 1.5"),
    (lambda w: w.scalar("", 1, 1.0), "scalar name ''"),
    (lambda w: w.event("", 1), "event kind"),
    (lambda w: w.event("x", 1, data={"f": object()}), "not JSON-able"),
    (lambda w: w.checkpoint(1, {}, {"state": {0: {"m": [object()]}}}), "holds a object"),
])
def test_writer_rejects_what_it_cannot_store(path, call, message):
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        with pytest.raises(SessionError, match=message):
            call(w)


def test_numpy_integer_steps_are_accepted(path):
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        w.scalar("a", np.int64(3), np.float32(0.5))
    with SessionReader(path) as r:
        assert r.scalars_at(3) == {"a": 0.5}
        assert json.loads(json.dumps(r.meta))["last_step"] == 3


def make_cli_session(path):
    graph = {"name": "lenet", "nodes": [{"id": "c1", "type": "Conv2d"}, {"id": "c2", "type": "Conv2d"},
                                        {"id": "fc", "type": "Linear"}], "edges": []}
    with SessionWriter(path, graph, SETTINGS) as w:
        for step in range(4):
            w.scalar("train/loss", step, 1.0 / (step + 1), wall=100.0 + step)
        w.scalar("val/accuracy", 2, float("nan"), wall=99.5)
        w.tensor("feature_maps/c1", 2, np.ones((2, 2)))
        w.event("start", 0, "started")
        w.event("finish", 3, "done")
        w.checkpoint(3, {"w": np.ones(2)})


def test_cli_inspect_text_and_json(path, capsys):
    from engine.cli import main
    make_cli_session(path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "lenet: 3 nodes (Conv2d x2, Linear)" in out and "Steps    up to 3" in out
    assert "train/loss" in out and "feature_maps/c1" in out and "finish" in out
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["graph"] == {"name": "lenet", "nodes": 3, "layer_types": {"Conv2d": 2, "Linear": 1}}
    assert summary["scalars"] == {"train/loss": 4, "val/accuracy": 1}
    assert summary["tensors"] == {"feature_maps/c1": 1} and summary["checkpoints"] == [3]
    assert [e["kind"] for e in summary["events"]] == ["start", "finish"]
    assert summary["last_step"] == 3 and summary["size_bytes"] > 0


def test_cli_export_wide_csv(path, tmp_path, capsys):
    import csv
    from engine.cli import main
    make_cli_session(path)
    out = tmp_path / "scalars.csv"
    assert main(["export", str(path), "--scalars", str(out)]) == 0
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["step", "wall", "train/loss", "val/accuracy"]
    assert rows[1] == ["0", "100.0", "1.0", ""]
    assert rows[3] == ["2", "99.5", repr(1 / 3), "nan"]
    assert len(rows) == 5


def test_cli_bad_file_is_one_sentence_and_exit_1(tmp_path, capsys):
    from engine.cli import main
    bad = tmp_path / "bad.session"
    bad.write_text("hello")
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err == f"{bad} is not a Neurostudio session.\n"
    assert main(["export", str(bad), "--scalars", str(tmp_path / "o.csv")]) == 1
    assert capsys.readouterr().err == f"{bad} is not a Neurostudio session.\n"


def test_scalar_since_reads_only_the_new_tail(path):
    with SessionWriter(path, GRAPH, SETTINGS) as w:
        for step in range(0, 20, 2):
            w.scalar("train/loss", step, float(step))
    with SessionReader(path) as r:
        steps, values = r.scalar("train/loss", since=7)
        assert steps.tolist() == [8, 10, 12, 14, 16, 18] and values.tolist() == [8, 10, 12, 14, 16, 18]
        steps, _, wall = r.scalar("train/loss", since=8, upto=12, with_wall=True)
        assert steps.tolist() == [8, 10, 12] and wall.shape == (3,)
        assert r.scalar("train/loss", since=19)[0].size == 0


@pytest.mark.parametrize("count", [0, 1, 127, 128, 129, 255, 300, 420])
def test_scalars_go_in_many_to_a_statement_as_row_by_row(count):
    # The oracle: SQLite row by row (executemany), on a table of the same schema. Keys
    # repeat (a later row replaces an earlier one) and values include NaN and infinities.
    from engine.session.schema import SCHEMA
    from engine.session.transaction import insert_scalars
    rng = np.random.default_rng(count)
    values = rng.normal(size=count)
    values[::7] = np.nan
    values[::11] = np.inf
    rows = [(int(rng.integers(1, 4)), int(rng.integers(0, max(1, count // 2))), 1e9 + i, float(v))
            for i, v in enumerate(values)]
    # in lists as a transaction hands them over: empty ones, a detail step's four, blocks
    cuts = sorted(rng.choice(np.arange(count + 1), size=min(count + 1, 12), replace=True).tolist())
    # flat, and all floats as a ScalarBlock gives them: ids and steps still stored as integers
    chunks = [[float(v) for row in rows[a:b] for v in row] for a, b in zip([0, *cuts], [*cuts, count])]
    tables = []
    row_by_row = lambda db, rs: db.executemany("INSERT OR REPLACE INTO scalars VALUES (?, ?, ?, ?)", rs)  # noqa: E731
    for write in (lambda db, rs: insert_scalars(db, chunks), row_by_row):
        db = sqlite3.connect(":memory:")
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO series VALUES (?, ?, ?)", [(k, "scalar", f"s{k}") for k in (1, 2, 3)])
        write(db, rows)
        tables.append(db.execute("SELECT series, step, wall, value, typeof(series), typeof(step) FROM scalars "
                                 "ORDER BY series, step").fetchall())
    assert tables[0] == tables[1]
    assert all(row[4:] == ("integer", "integer") for row in tables[0])
    assert len(tables[0]) == len({(s, t) for s, t, *_ in rows})


@pytest.mark.parametrize("walls", [7.5, np.array([10.0, 11.0, 12.0])], ids=["one-wall", "wall-per-row"])
def test_a_blocks_insert_parameters_are_its_rows_flattened(walls):
    from engine.session.transaction import ScalarBlock
    block = ScalarBlock([3, 5], np.array([[1, 0.5, np.nan], [2, 1.5, np.inf], [4, -1.0, 2.0]]), walls)
    for size in (0, 2, 4):
        flat = [v for piece in block.params(size) for v in piece]
        rows = [float(v) for piece in block.rows(size) for row in piece for v in row]
        assert len(flat) == 3 * 2 * 4
        np.testing.assert_array_equal(flat, rows)  # NaN where NaN


@pytest.mark.parametrize("count", [1, 5, 128, 131, 300])
def test_tensor_rows_go_in_many_to_a_statement_as_row_by_row(count):
    # The oracle: SQLite row by row (executemany). Keys repeat: a later record of a series
    # at a step replaces the earlier, with the id it would have had row by row.
    from engine.session.schema import SCHEMA
    from engine.session.transaction import insert_rows
    rng = np.random.default_rng(count)
    rows = [(int(rng.integers(1, 4)), int(rng.integers(0, max(1, count // 3))), 1e9 + i, "float16", "[2]",
             "none", rng.bytes(4)) for i in range(count)]
    head = "INSERT OR REPLACE INTO tensors (series, step, wall, dtype, shape, compression, data)"
    tables = []
    for write in (lambda db: insert_rows(db, head, 7, [[v for row in rows for v in row]]),
                  lambda db: db.executemany(head + " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)):
        db = sqlite3.connect(":memory:")
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO series VALUES (?, ?, ?)", [(k, "tensor", f"t{k}") for k in (1, 2, 3)])
        write(db)
        tables.append(db.execute("SELECT * FROM tensors ORDER BY id").fetchall())
    assert tables[0] == tables[1]
    assert len(tables[0]) == len({(s, t) for s, t, *_ in rows})
