"""Heavy captures (and a small network's statistics) taken off the training path, in the
helper process, record bitwise what inline captures record for the same seed and steps;
the session says where they ran; a helper that dies mid-run hands over to inline
captures without losing or changing a record."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import torch

from engine.data import load_dataset
from engine.graph.document import load_graph
from engine.probes import ProbeSet, ProbeSettings
from engine.probes.process import ACCURACY_PRED, ACCURACY_TARGET, REPLAY_INPUT
from engine.session import SessionWriter
from engine.train import Callback, Trainer
from tests.engine.test_probes_common import chain, random_data

STEPS = 24


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Inline and helper must use the same number of torch threads to match bit for bit.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def conv_lstm_doc(dropout: bool = False, batchnorm: bool = False):
    """``dropout``: with a layer that draws random numbers, whose outputs the helper cannot
    recompute from the batch: the training loop copies them instead. ``batchnorm``: with
    running statistics, which a forward in training mode moves."""
    return chain((2, 6), [("c", "Conv1d", {"channels": 4, "kernel": 3}),
                          *([("bn", "BatchNorm1d", {})] if batchnorm else []), ("t", "Tanh", {}),
                          ("mp", "MaxPool1d", {"kernel": 2}), ("p", "Permute", {"order": [2, 1]}),
                          ("lstm", "LSTM", {"units": 5, "return_sequences": False}),
                          *([("drop", "Dropout", {"p": 0.25})] if dropout else []),
                          ("fc", "Dense", {"units": 2})])


def rows(path):
    """Every tensor record (name, step) -> (dtype, shape, compression, bytes), and every
    scalar (name, step) -> value except wall-clock series."""
    with sqlite3.connect(path) as db:
        tensors = {(n, s): rest for n, s, *rest in db.execute(
            "SELECT name, step, dtype, shape, compression, data FROM tensors JOIN series ON series.id = series")}
        scalars = {(n, s): v for n, s, v in db.execute(
            "SELECT name, step, value FROM scalars JOIN series ON series.id = series")
            if n not in ("step_time", "samples_per_s")}
    return tensors, scalars


class _KillHelper(Callback):
    """Kills the helper process at the end of one step, once nothing is in flight, and
    waits until the training process has seen its output end."""

    def __init__(self, probes, at: int):
        self.probes, self.at, self.killed = probes, at, []

    def on_step_end(self, trainer, step, metrics):
        if step == self.at:
            self.probes.flush()
            proc = self.probes._offpath.proc
            proc.kill()
            proc.wait()
            self.probes._offpath._reader.join(timeout=10)
            self.killed.append(proc.pid)


class _Slots(Callback):
    """Which layers' outputs the training loop copied into the helper's slot, each step."""

    def __init__(self, probes, seen: list):
        self.probes, self.seen = probes, seen

    def on_step_end(self, trainer, step, metrics):
        runner = self.probes._offpath
        if runner is not None and runner.mode == "process" and runner._acts_names:
            self.seen.append(runner._acts_names)


class _KillHelperAbruptly(Callback):
    """Stops the helper (SIGSTOP) at the end of step ``stop``, so that it still holds what it
    was asked since, and kills it at ``at``: after the backward of that step (``during``) or
    at its end; nothing is flushed first."""

    def __init__(self, probes, stop: int, at: int, during: bool):
        self.probes, self.stop, self.at, self.during, self.killed = probes, stop, at, during, []

    def _kill(self):
        proc = self.probes._offpath.proc
        proc.kill()
        proc.wait()
        if not self.during:
            self.probes._offpath._reader.join(timeout=10)
        self.killed.append(proc.pid)

    def on_after_backward(self, trainer, step):
        if step == self.at and self.during:
            self._kill()

    def on_step_end(self, trainer, step, metrics):
        if step == self.stop:
            os.kill(self.probes._offpath.proc.pid, signal.SIGSTOP)
        elif step == self.at and not self.during:
            self._kill()


def record(tmp_path, mode, kill_after=None, basic_scalars=True, slots=None, dropout=False, batchnorm=False,
           killer=None):
    path = tmp_path / f"{mode}-{kill_after}-{basic_scalars}-{dropout}-{batchnorm}-{killer is not None}.session"
    doc = conv_lstm_doc(dropout, batchnorm)
    writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, ProbeSettings(stats_every=1, heavy_every=3, dense=0, capture_mode=mode),
                      basic_scalars=basic_scalars)
    callbacks = [probes]
    if kill_after is not None:
        callbacks.append(_KillHelper(probes, kill_after))
    if killer is not None:
        callbacks.append(killer(probes))
    if slots is not None:
        callbacks.insert(0, _Slots(probes, slots))
    trainer = Trainer(doc, random_data((2, 6), n=64), overrides={"steps": STEPS, "device": "cpu"},
                      callbacks=callbacks)
    try:
        trainer.run()
    finally:
        writer.close()
    return probes, path, callbacks[-1].killed if kill_after is not None or killer is not None else []


@pytest.mark.parametrize("dropout", [False, True], ids=["outputs recomputed", "outputs copied"])
@pytest.mark.parametrize("basic_scalars", [True, False], ids=["basic scalars", "as the worker records"])
def test_helper_process_records_bitwise_what_inline_records(tmp_path, basic_scalars, dropout):
    inline, a, _ = record(tmp_path, "inline", basic_scalars=basic_scalars, dropout=dropout)
    slots = []
    helper, b, _ = record(tmp_path, "process", basic_scalars=basic_scalars, slots=slots, dropout=dropout)
    assert inline.errors == [] and helper.errors == []
    assert inline.captured["inline"] == helper.captured["process"] == STEPS // 3 + 1
    assert helper.captured["inline"] == 0 and helper.capture_mode == "process"
    ta, sa = rows(a)
    tb, sb = rows(b)
    assert ta.keys() == tb.keys() and len(ta) > 100
    assert [k for k in ta if ta[k] != tb[k]] == []
    assert sa.keys() == sb.keys() and {"layer/lstm/act_std", "layer/t/saturated_frac"} <= {n for n, _ in sa}
    assert {"layer/mp/act_mean", "layer/mp/act_std"} <= {n for n, _ in sb}
    assert ({"grad_norm", "train/accuracy"} <= {n for n, _ in sa}) == basic_scalars  # else the worker's
    assert [k for k in sa if sa[k] != sb[k]] == []   # statistics computed in the helper too
    if dropout:
        # the helper recomputed the Tanh's output from the conv's copy, and the pooling's
        # from that: the loop copied the others
        copied = ("c", "lstm", "fc") + ((ACCURACY_PRED, ACCURACY_TARGET) if basic_scalars else ())
        assert helper.targets.derived == {"t": "c", "mp": "t"} and not helper.targets.replayable
    else:
        # the helper recomputed every output from the batch: the loop copied that alone
        copied = (REPLAY_INPUT,) + ((ACCURACY_TARGET,) if basic_scalars else ())
        assert helper.targets.replayable
    assert len(slots) == STEPS - 1 and set(slots) == {copied}
    with sqlite3.connect(b) as db:
        modes = [m for (m,) in db.execute("SELECT json_extract(data, '$.mode') FROM events "
                                          "WHERE kind = 'capture_mode' ORDER BY id")]
    assert modes == ["process"]
    assert helper.helper_files and not any(os.path.exists(f) for f in helper.helper_files)


@pytest.mark.parametrize("batchnorm", [False, True], ids=["", "batch norm"])
def test_a_helper_that_dies_hands_over_to_inline_without_changing_a_record(tmp_path, batchnorm):
    # The step armed before the helper died was to have its outputs recomputed there: they
    # are recomputed here instead, the batch norm's running statistics left as they were
    # (else the captures after it, in evaluation mode, would differ).
    inline, a, _ = record(tmp_path, "inline", batchnorm=batchnorm)
    helper, b, killed = record(tmp_path, "process", kill_after=10, batchnorm=batchnorm)
    assert killed and helper.errors == [] and helper.targets.replayable
    assert helper.captured["process"] == 4 and helper.captured["inline"] == STEPS // 3 + 1 - 4
    ta, sa = rows(a)
    tb, sb = rows(b)
    assert ta.keys() == tb.keys() and [k for k in ta if ta[k] != tb[k]] == []
    assert sa.keys() == sb.keys() and [k for k in sa if sa[k] != sb[k]] == []
    with sqlite3.connect(b) as db:
        events = list(db.execute("SELECT step, json_extract(data, '$.mode'), message FROM events "
                                 "WHERE kind = 'capture_mode' ORDER BY id"))
    assert [(s, m) for s, m, _ in events] == [(0, "process"), (11, "inline")]
    assert "helper process stopped" in events[-1][2]


@pytest.mark.parametrize("during", [False, True], ids=["between steps", "during a step"])
def test_what_a_helper_took_with_it_when_killed_is_named_in_the_session(tmp_path, during):
    """A helper killed without warning takes the results it held with it (it sends them
    every ~0.1 s), and the requests still in its pipe: the capture_mode event that says
    captures are inline again names exactly the steps whose records are missing."""
    inline, a, _ = record(tmp_path, "inline")
    helper, b, killed = record(tmp_path, "process",
                               killer=lambda probes: _KillHelperAbruptly(probes, stop=8, at=10, during=during))
    assert killed and helper.errors == []
    with sqlite3.connect(b) as db:
        [(step, message, data)] = list(db.execute(
            "SELECT step, message, data FROM events WHERE kind = 'capture_mode' "
            "AND json_extract(data, '$.mode') = 'inline'"))
    lost = json.loads(data)["lost"]
    assert 9 in lost["statistics"] and 10 in lost["statistics"] and lost["captures"]  # asked after the stop
    assert "missing from this session" in message and "statistics of" in message
    ta, sa = rows(a)
    tb, sb = rows(b)
    assert tb.keys() <= ta.keys() and sb.keys() <= sa.keys()
    assert sorted({s for _, s in ta.keys() - tb.keys()}) == lost["captures"]
    assert sorted({s for _, s in sa.keys() - sb.keys()}) == lost["statistics"]
    first = min(lost["statistics"] + lost["captures"])
    assert [k for k in tb if k[1] < first and ta[k] != tb[k]] == []
    assert [k for k in sb if k[1] < first and sa[k] != sb[k]] == []


class _Pace(Callback):
    """Steps no faster than one per 20 ms, so that the helper keeps up on a loaded machine
    (a step it cannot take in time is measured in the training process instead)."""

    def on_step_end(self, trainer, step, metrics):
        time.sleep(0.02)


SICK = {  # networks made to go wrong: (input shape, layers, what to do to them, what they show)
    "mlp": ((8,), [("fc1", "Dense", {"units": 16}), ("s1", "Sigmoid", {}), ("fc2", "Dense", {"units": 16}),
                   ("r2", "ReLU", {}), ("fc3", "Dense", {"units": 2})],
            lambda c: (c.module_of("fc1").weight.mul_(50.0), c.module_of("fc2").bias.fill_(-30.0)),
            {("saturation", "s1"), ("dead_relu", "r2")}),
    "rnn": ((20, 2), [("rnn", "RNN", {"units": 8, "return_sequences": False}), ("fc", "Dense", {"units": 2})],
            lambda c: c.module_of("rnn").rnn.weight_hh_l0.mul_(0.05),
            {("vanishing_through_time", "rnn")}),
}


def diagnosed(tmp_path, mode, sick):
    """A network made to go wrong, its statistics taken every step and a capture every
    third (by the helper process in "process" mode), with validation on."""
    shape, layers, harm, _ = SICK[sick]
    doc = chain(shape, layers)
    path = tmp_path / f"diagnosed-{sick}-{mode}.session"
    writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, ProbeSettings(stats_every=1, heavy_every=3, dense=0, capture_mode=mode))
    trainer = Trainer(doc, random_data(shape, n=96), overrides={"steps": 30, "device": "cpu", "val_every": 10},
                      callbacks=[probes, _Pace()])
    with torch.no_grad():
        harm(trainer.compiled)
    try:
        trainer.run()
    finally:
        writer.close()
    with sqlite3.connect(path) as db:
        events = list(db.execute("SELECT step, message FROM events WHERE kind = 'diagnostic' ORDER BY step, id"))
    return probes, events


@pytest.mark.parametrize("sick", SICK)
def test_diagnostics_run_in_the_helper_and_find_what_inline_finds(tmp_path, sick):
    inline, a = diagnosed(tmp_path, "inline", sick)
    helper, b = diagnosed(tmp_path, "process", sick)
    assert inline.errors == [] and helper.errors == []
    assert helper.measured["here"] == 0 and helper.measured["helper"] == 30  # every step diagnosed there
    assert helper.captured["process"] == 11 and helper.captured["inline"] == 0
    assert SICK[sick][3] <= {(d.kind, d.node) for d in inline.diagnostics}
    assert sorted(a) == sorted(b)      # the same findings, at the same steps, in the same words
    # the validation check (overfitting) reads the training loss's average the helper kept
    assert helper.diagnostician.loss_average == inline.diagnostician.loss_average is not None


def test_a_capture_comes_back_without_waiting_for_the_next_request(tmp_path):
    # The helper batches what it sends (a frame at most every ~0.1 s); a capture must still
    # arrive when no request follows it (training paused, or captures far apart), not only
    # at the next flush.
    doc = conv_lstm_doc()
    writer = SessionWriter(tmp_path / "late.session", doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, ProbeSettings(stats_every=0, heavy_every=1, dense=0, capture_mode="process"))
    trainer = Trainer(doc, random_data((2, 6), n=64), overrides={"steps": 10, "device": "cpu"}, callbacks=[probes])
    try:
        probes.on_start(trainer)          # captures of steps 0 and 1, taken by the helper,
        trainer._t_last = time.perf_counter()  # (what run() sets before the first step)
        trainer.train_step()              # the second within ~0.1 s of the first
        probes.configure(heavy_every=1000)
        for _ in range(3):
            trainer.train_step()          # then no more requests
        deadline = time.monotonic() + 10
        while probes.captured["process"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
            probes._collect(probes._offpath.poll())
        assert probes.captured["process"] == 2 and probes.errors == []
    finally:
        probes.close()
        writer.close()


class _PreClip(Callback):
    """Before the probes: each step's per-layer gradient norms before clipping, in float64;
    at ``drop`` one parameter's gradient is taken away first (it has none that step)."""

    def __init__(self, probes, drop: int):
        self.probes, self.drop, self.truth = probes, drop, {}

    def on_after_backward(self, trainer, step):
        t = self.probes.targets
        if step == self.drop:
            t.params(t.param_layers[0])[0].grad = None
        for node in t.param_layers:
            grads = [p.grad.double() for p in t.params(node) if p.grad is not None]
            self.truth[(f"layer/{node}/grad_norm", step)] = float(torch.sqrt(sum((g * g).sum() for g in grads)))


class _WaitReady(Callback):
    def __init__(self, probes):
        self.probes = probes

    def on_start(self, trainer):
        self.probes.wait_ready()


@pytest.mark.parametrize("mode", ["process", "inline"])
def test_gradient_norms_are_before_clipping_where_the_trainer_measured_them(tmp_path, mode):
    # The trainer measures every gradient's norm once a step for the probes and its clip by
    # norm reuses them: what the probes record must be the norms before clipping, in the
    # helper as inline, also on a step where a parameter has no gradient.
    path = tmp_path / f"{mode}.session"
    doc = conv_lstm_doc()
    writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, ProbeSettings(stats_every=1, heavy_every=5, dense=0, capture_mode=mode))
    truth = _PreClip(probes, drop=7)
    trainer = Trainer(doc, random_data((2, 6), n=64), overrides={"steps": STEPS, "device": "cpu", "clip_norm": 1e-3},
                      callbacks=[truth, probes, _WaitReady(probes)])
    try:
        trainer.run()
    finally:
        writer.close()
    assert probes.errors == [] and sum(probes.measured.values()) == STEPS
    # (a step is measured here when every slot is still in use: the helper is behind)
    assert probes.measured["helper"] >= STEPS // 2 if mode == "process" else probes.measured["here"] == STEPS
    _, scalars = rows(path)
    got = {key: v for key, v in scalars.items() if key[0].endswith("/grad_norm") and key[0].startswith("layer/")}
    assert got.keys() == truth.truth.keys()
    for key, value in truth.truth.items():
        assert got[key] == pytest.approx(value, rel=1e-6), key
    assert min(scalars[("grad_norm", s)] for s in range(1, STEPS + 1)) > 1e-3  # the clip had work every step


TEMPLATES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "assets" / "templates").glob("*.json"))


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_records_bitwise_the_same_beside_training(tmp_path, template):
    # Statistics every step, a capture every 5, in the loop and in the helper: the same
    # records, whether the helper recomputed the outputs from the batch (no Dropout) or the
    # loop copied them. (char_lstm's second LSTM differed in the last bits while the
    # recompute ran without autograd: torch's CPU LSTM takes another kernel then.)
    doc = load_graph(Path(__file__).resolve().parents[2] / "assets" / "templates" / f"{template}.json")
    data = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    records = []
    for mode in ("inline", "process"):
        path = tmp_path / f"{mode}.session"
        writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
        probes = ProbeSet(writer, ProbeSettings(stats_every=1, heavy_every=5, dense=0, capture_mode=mode))
        trainer = Trainer(doc, data, overrides={"steps": 8, "device": "cpu", "val_every": 1000, "batch_size": 16},
                          callbacks=[probes])
        try:
            trainer.run()
        finally:
            writer.close()
        assert probes.errors == [] and probes.capture_mode == mode
        records.append(rows(path))
    (ta, sa), (tb, sb) = records
    assert ta.keys() == tb.keys() and [k for k in ta if ta[k] != tb[k]] == []
    same = [k for k in sa if sa[k] == sb[k] or (sa[k] != sa[k] and sb[k] != sb[k])]  # NaN is NaN
    assert sa.keys() == sb.keys() and len(same) == len(sa)
