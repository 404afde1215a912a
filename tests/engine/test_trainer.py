"""The Trainer on real (small) runs: learning bars, determinism, optimizers and schedules
against textbook formulas, clipping, early stopping, checkpoints, failure sentences."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.data import ArrayDataset, DatasetInfo, load_dataset
from engine.graph.document import GraphDocument
from engine.templates import load_template
from engine.train import Callback, LRSchedule, Trainer, TrainError, load_checkpoint, save_checkpoint
from engine.train.device import select_device
from engine.train.settings import resolve_settings


@pytest.fixture(autouse=True)
def one_torch_thread():
    # The machine's two cores are shared; two torch threads fighting other processes run
    # several times slower than one. Restored after each test.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def chain_doc(layers, training=None, input_shape=(2,), loss="CrossEntropy", dataset=None) -> GraphDocument:
    """A straight chain Input -> layers... -> loss; ``layers`` are (type, params) pairs."""
    nodes = [{"id": "x", "type": "Input", "params": {"shape": list(input_shape)}}]
    nodes += [{"id": f"n{i}", "type": t, "params": p} for i, (t, p) in enumerate(layers)]
    nodes.append({"id": "loss", "type": loss, "params": {}})
    ids = [n["id"] for n in nodes]
    return GraphDocument.from_dict({
        "format": "neurostudio.graph", "version": 1, "name": "test", "nodes": nodes,
        "edges": [{"from": f"{a}.out", "to": f"{b}.in"} for a, b in zip(ids, ids[1:])],
        "dataset": dataset or {}, "training": training or {}})


def mlp_doc(classes=2, units=64, training=None) -> GraphDocument:
    layers = [("Dense", {"units": units}), ("ReLU", {}), ("Dense", {"units": units}), ("ReLU", {}),
              ("Dense", {"units": classes})]
    settings = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "device": "cpu"} | (training or {})
    return chain_doc(layers, settings, dataset={"name": "spiral", "params": {}})


def spiral(samples=1000) -> ArrayDataset:
    return load_dataset({"name": "spiral", "params": {"samples": samples}}, seed=0)


def tiny_dataset(n=64, features=3, classes=2, seed=0) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) % classes
    info = DatasetInfo("tiny", (features,), "float", "class", (), tuple(map(str, range(classes))))
    return ArrayDataset(info, x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4:], y[n * 3 // 4:])


def linear_doc(training) -> GraphDocument:
    return chain_doc([("Dense", {"units": 2})], {"device": "cpu", "batch_size": 8} | training,
                     input_shape=(3,))


# -- learning bars -----------------------------------------------------------------------
def test_spiral_mlp_reaches_95_percent():
    trainer = Trainer(mlp_doc(training={"epochs": 25}), spiral())
    summary = trainer.run()
    assert summary["status"] == "finished"
    assert summary["val_accuracy"] >= 0.95, summary


def test_lenet_reaches_90_percent_on_shapes():
    doc = load_template("lenet")
    data = load_dataset({"name": "shapes", "params": {"samples": 2000}}, seed=0)
    summary = Trainer(doc, data, {"steps": 120, "device": "cpu"}).run()
    assert summary["val_accuracy"] >= 0.90, summary


def test_lstm_learns_anbn_next_symbol():
    doc = load_template("anbn_lstm")
    data = load_dataset({"name": "anbn", "params": {"max_n": 8}}, seed=0)
    trainer = Trainer(doc, data, {"steps": 300, "device": "cpu"})
    trainer.run()
    # Per-step targets: every time step of every validation string counts.
    assert trainer.last_val["samples"] == data.y_val.size
    # After the first b the rest is determined: the remaining b's and then '$'.
    x = torch.from_numpy(data.x_val)
    with torch.no_grad():
        pred = trainer.model(x).argmax(-1).numpy()
    ids = data.x_val.argmax(-1)  # 0 a, 1 b, 2 $
    determined = ids == 1
    acc = (pred[determined] == data.y_val[determined]).mean()
    assert acc >= 0.95, acc


# -- determinism, devices, settings ------------------------------------------------------
class LossLog(Callback):
    def __init__(self):
        self.losses, self.lrs = [], []

    def on_step_end(self, trainer, step, metrics):
        self.losses.append(metrics["loss"])
        self.lrs.append(metrics["lr"])


def test_same_seed_gives_identical_losses_and_other_seed_does_not():
    runs = []
    for seed in (3, 3, 4):
        log = LossLog()
        doc = mlp_doc(training={"steps": 40, "seed": seed})
        Trainer(doc, spiral(400), callbacks=[log]).run()
        runs.append(log.losses)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_device_selection_sentences():
    assert select_device("auto").type in ("cuda", "mps", "cpu")
    assert select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="Device 'cuda' was requested but"):
            select_device("cuda")
    with pytest.raises(TrainError, match="Device 'tpu' is unknown"):
        select_device("tpu")


def test_unknown_and_bad_settings_are_sentences():
    with pytest.raises(TrainError, match="Training setting 'lr' must be at least 0"):
        resolve_settings({"lr": -1.0})
    with pytest.raises(TrainError, match="Training setting 'speed' is unknown"):
        resolve_settings({}, {"speed": 3})


# -- schedules ----------------------------------------------------------------------------
def schedule(**kw):
    return LRSchedule(resolve_settings({"lr": 0.1} | kw), total_steps=kw.pop("total", 100))


def test_step_decay_warmup_and_cosine_follow_their_formulas():
    s = schedule(schedule="step", step_size=10, gamma=0.5)
    assert [s.lr(k) for k in (0, 9, 10, 19, 20, 35)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])
    w = schedule(warmup_steps=4)
    assert [w.lr(k) for k in range(6)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    c = schedule(schedule="cosine")
    assert c.lr(0) == pytest.approx(0.1)
    assert c.lr(50) == pytest.approx(0.05)
    assert c.lr(100) == pytest.approx(0.0, abs=1e-12)
    # Warm-up composes: the cosine starts where the ramp ends.
    wc = schedule(schedule="cosine", warmup_steps=10)
    assert wc.lr(4) == pytest.approx(0.05)
    assert wc.lr(10) == pytest.approx(0.1)
    assert wc.lr(55) == pytest.approx(0.05)


def test_reduce_on_plateau_lowers_after_patience():
    p = schedule(schedule="plateau", plateau_patience=2, gamma=0.1)
    assert [p.observe(v) for v in (1.0, 0.9, 0.95, 0.91)] == [False, False, False, True]
    assert p.lr(0) == pytest.approx(0.01)


def test_trainer_applies_the_schedule_step_by_step():
    log = LossLog()
    doc = linear_doc({"optimizer": "sgd", "lr": 0.1, "schedule": "step", "step_size": 3, "gamma": 0.5,
                      "warmup_steps": 2, "steps": 8})
    Trainer(doc, tiny_dataset(), callbacks=[log]).run()
    assert log.lrs == pytest.approx([0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05])


# -- optimizers against textbook updates -------------------------------------------------
class Snap(Callback):
    """Weights and gradients at each step, before the update; weights after it."""

    def __init__(self):
        self.before, self.grads, self.after = [], [], []

    def on_after_backward(self, trainer, step):
        ps = list(trainer.model.parameters())
        self.before.append([p.detach().clone() for p in ps])
        self.grads.append([p.grad.detach().clone() for p in ps])

    def on_step_end(self, trainer, step, metrics):
        self.after.append([p.detach().clone() for p in trainer.model.parameters()])


def textbook(opt, w, grads, lr, wd, mu):
    """Replay the updates from the recorded gradients with the textbook formulas."""
    w = w.clone()
    v = torch.zeros_like(w)
    m = torch.zeros_like(w)
    s = torch.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        if opt == "adamw":
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        if opt in ("sgd", "nesterov"):
            v = mu * v + g if t > 1 else g.clone()
            w = w - lr * (g + mu * v if opt == "nesterov" else v)
        elif opt in ("adam", "adamw"):
            m = 0.9 * m + 0.1 * g
            s = 0.999 * s + 0.001 * g * g
            w = w - lr * (m / (1 - 0.9 ** t)) / ((s / (1 - 0.999 ** t)).sqrt() + 1e-8)
        elif opt == "rmsprop":
            s = 0.99 * s + 0.01 * g * g
            v = mu * v + g / (s.sqrt() + 1e-8)
            w = w - lr * v
        out.append(w)
    return out


@pytest.mark.parametrize("opt", ["sgd", "nesterov", "adam", "adamw", "rmsprop"])
def test_each_optimizer_matches_the_textbook_update(opt):
    snap = Snap()
    training = {"optimizer": "sgd" if opt == "nesterov" else opt, "nesterov": opt == "nesterov",
                "lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "steps": 3}
    Trainer(linear_doc(training), tiny_dataset(), callbacks=[snap]).run()
    weight = 0  # the Dense weight matrix
    # The recorded weights before step t+1 equal those after step t, then the replay matches.
    expected = textbook(opt, snap.before[0][weight], [g[weight] for g in snap.grads], 0.05, 0.01, 0.9)
    for t in range(3):
        assert torch.allclose(snap.after[t][weight], expected[t], atol=1e-6), (opt, t)
        assert not torch.equal(snap.before[t][weight], snap.after[t][weight])


# -- clipping, early stopping ------------------------------------------------------------
class GradNorms(Callback):
    def __init__(self):
        self.raw, self.clipped, self.max_abs = [], [], []

    def on_after_backward(self, trainer, step):
        self.raw.append(trainer.grad_norm())

    def on_step_end(self, trainer, step, metrics):
        grads = [p.grad for p in trainer.model.parameters()]
        self.clipped.append(float(torch.sqrt(sum((g * g).sum() for g in grads))))
        self.max_abs.append(max(float(g.abs().max()) for g in grads))


def test_clipping_by_norm_bounds_the_global_gradient_norm():
    log = GradNorms()
    doc = mlp_doc(training={"steps": 10, "optimizer": "sgd", "lr": 0.5, "clip_norm": 0.05})
    Trainer(doc, spiral(400), callbacks=[log]).run()
    assert max(log.raw) > 0.05  # clipping had work to do
    assert max(log.clipped) <= 0.05 * (1 + 1e-4)
    for raw, clipped in zip(log.raw, log.clipped):
        assert clipped == pytest.approx(min(raw, 0.05), rel=1e-3)


class AskNorms(Callback):
    """Asks for the per-parameter gradient norms after backward, as the probes do; at
    ``drop`` it first takes one parameter's gradient away (that parameter is not updated)."""

    def __init__(self, drop: int | None = None):
        self.drop, self.norms, self.truth, self.present = drop, [], [], []

    def on_after_backward(self, trainer, step):
        if step == self.drop:
            trainer.params[1].grad = None
        present, norms = trainer.grad_norms()
        assert trainer.grad_norms()[1] is norms  # measured once a step
        self.present.append(present)
        self.norms.append([float(n) for n in norms])
        self.truth.append([float(trainer.params[i].grad.double().norm()) for i in present])

    def on_step_end(self, trainer, step, metrics):  # measured again: the clip changed the gradients
        present, norms = trainer.grad_norms()
        np.testing.assert_allclose([float(n) for n in norms],
                                   [float(trainer.params[i].grad.double().norm()) for i in present], rtol=1e-6)


@pytest.mark.parametrize("clipping", [{"clip_norm": 0.05}, {"clip_norm": 0.05, "clip_value": 0.01}, {}],
                         ids=["norm", "value-then-norm", "none"])
def test_clip_by_norm_on_the_measured_norms_updates_bitwise_as_clip_grad_norm(clipping):
    doc = mlp_doc(training={"steps": 12, "optimizer": "sgd", "lr": 0.5, **clipping})
    asked = AskNorms(drop=5)
    plain, measured = Trainer(doc, spiral(400), callbacks=[DropGrad(5)]), Trainer(doc, spiral(400), callbacks=[asked])
    plain.run()
    measured.run()
    for a, b in zip(plain.model.parameters(), measured.model.parameters()):
        assert torch.equal(a, b)
    n = len(measured.params)
    assert asked.present == [list(range(n)) if s != 5 else [i for i in range(n) if i != 1] for s in range(1, 13)]
    for norms, truth in zip(asked.norms, asked.truth):
        np.testing.assert_allclose(norms, truth, rtol=1e-6)
    if clipping:
        assert max(math.sqrt(sum(v * v for v in norms)) for norms in asked.norms) > 0.05  # the clip had work


class DropGrad(Callback):
    def __init__(self, at):
        self.at = at

    def on_after_backward(self, trainer, step):
        if step == self.at:
            trainer.params[1].grad = None


def test_clipping_by_value_bounds_every_element():
    log = GradNorms()
    doc = mlp_doc(training={"steps": 5, "clip_value": 0.001})
    Trainer(doc, spiral(400), callbacks=[log]).run()
    assert max(log.max_abs) <= 0.001 + 1e-9


def test_early_stopping_stops_when_validation_loss_stalls():
    doc = linear_doc({"optimizer": "sgd", "lr": 0.0, "steps": 50, "val_every": 1, "early_stopping": 2})
    events = []

    class Events(Callback):
        def on_event(self, kind, step, message="", data=None):
            events.append((kind, step))

    summary = Trainer(doc, tiny_dataset(), callbacks=[Events()]).run()
    # lr 0: the first validation sets the best loss, the next two do not improve on it.
    assert summary["steps"] == 3
    assert summary["reason"] == "early_stopping"
    assert ("early_stop", 3) in events


# -- validation metrics ------------------------------------------------------------------
def test_validation_precision_recall_match_a_direct_count():
    trainer = Trainer(mlp_doc(classes=3, training={"steps": 30}),
                      load_dataset({"name": "spiral", "params": {"classes": 3, "samples": 600}}, seed=0))
    trainer.run()
    res = trainer.validate()
    with torch.no_grad():
        pred = trainer.model(torch.from_numpy(trainer.dataset.x_val)).argmax(-1).numpy()
    y = trainer.dataset.y_val
    assert res["accuracy"] == pytest.approx((pred == y).mean())
    for c in range(3):
        name = trainer.dataset.info.class_names[c]
        tp = ((pred == c) & (y == c)).sum()
        assert res["recall"][name] == pytest.approx(tp / (y == c).sum())
        if (pred == c).any():
            assert res["precision"][name] == pytest.approx(tp / (pred == c).sum())


# -- checkpoints -------------------------------------------------------------------------
def test_checkpoint_restore_reproduces_outputs_and_optimizer_state(tmp_path):
    data = spiral(400)
    first = Trainer(mlp_doc(training={"steps": 20}), data)
    first.run()
    weights, opt = first.checkpoint()
    assert all(isinstance(v, np.ndarray) for v in weights.values())
    path = tmp_path / "run.ckpt.npz"
    save_checkpoint(path, weights, opt)
    loaded_w, loaded_opt = load_checkpoint(path)
    second = Trainer(mlp_doc(training={"steps": 20, "seed": 9}), data)
    x = torch.from_numpy(data.x_val)
    assert not torch.equal(first.model(x), second.model(x))
    second.restore(loaded_w, loaded_opt)
    with torch.no_grad():
        assert torch.equal(first.model(x), second.model(x))
    assert second.step == 20 and second.lr == first.lr
    a, b = first.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
    assert torch.equal(a[0]["exp_avg_sq"], b[0]["exp_avg_sq"])


def test_a_batch_norm_network_resumes_from_its_session_checkpoint_exactly(tmp_path):
    """Batch norm keeps a 0-d step counter (num_batches_tracked) beside its running
    statistics; a checkpoint read back must put it back as it was, 0-d, not shape (1,)
    (every fork or resume of a ResNet, DenseNet or VGG failed on it)."""
    from engine.session import SessionReader, SessionWriter

    doc = load_template("resnet")
    data = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    over = {"steps": 3, "device": "cpu", "batch_size": 8}
    first = Trainer(doc, data, overrides=over)
    first.run()
    counters = {n: b for n, b in first.model.named_buffers() if n.endswith("num_batches_tracked")}
    assert counters and all(b.dim() == 0 and int(b) == 3 for b in counters.values())
    with SessionWriter(tmp_path / "bn.session", doc.to_dict(), {}, None) as w:
        w.checkpoint(first.step, *first.checkpoint())
    with SessionReader(tmp_path / "bn.session") as r:
        weights, opt = r.checkpoint(3)
    second = Trainer(doc, data, overrides=over)
    second.restore(weights, opt)
    a, b = first.model.state_dict(), second.model.state_dict()
    for name, t in a.items():
        assert b[name].shape == t.shape and torch.equal(b[name], t), name
    x = torch.from_numpy(data.x_val[:8])
    first.model.eval()
    second.model.eval()
    with torch.no_grad():
        assert torch.equal(first.model(x), second.model(x))


def test_checkpoint_of_a_different_network_is_refused():
    data = spiral(200)
    small = Trainer(mlp_doc(units=8, training={"steps": 1}), data)
    big = Trainer(mlp_doc(units=16, training={"steps": 1}), data)
    with pytest.raises(TrainError, match="has shape"):
        big.restore(*small.checkpoint())


# -- failures ----------------------------------------------------------------------------
def test_nan_loss_stops_with_a_diagnosis():
    doc = chain_doc([("Dense", {"units": 16}), ("Tanh", {}), ("Dense", {"units": 1})],
                    {"steps": 200, "optimizer": "sgd", "lr": 10.0, "device": "cpu"}, input_shape=(1,), loss="MSE")
    trainer = Trainer(doc, load_dataset({"name": "sine", "params": {}}, seed=0))
    summary = trainer.run()
    assert summary["status"] == "failed"
    assert "lower the learning rate" in summary["message"].lower()
    assert "clipping" in summary["message"]
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())  # the bad step was skipped


def test_bad_user_data_names_the_sample():
    data = tiny_dataset()
    data.y_train[7] = 5
    with pytest.raises(TrainError, match="training sample 7 has class id 5"):
        Trainer(linear_doc({"steps": 1}), data)
    data = tiny_dataset()
    data.x_val[3, 1] = np.nan
    with pytest.raises(TrainError, match="validation sample 3 contains NaN"):
        Trainer(linear_doc({"steps": 1}), data)


def test_dataset_that_does_not_fit_the_graph_is_one_sentence():
    from engine.data import DataError
    with pytest.raises(DataError, match="has 2 classes but the output feeding the loss has 3"):
        Trainer(mlp_doc(classes=3, training={"steps": 1}), spiral(200))


def test_summary_fields_are_plain_numbers():
    summary = Trainer(mlp_doc(training={"steps": 5}), spiral(200)).run()
    assert summary["steps"] == 5 and summary["device"] == "cpu"
    assert math.isfinite(summary["train_loss"]) and math.isfinite(summary["val_loss"])
    assert 0.0 <= summary["val_accuracy"] <= 1.0


def test_augmentation_is_applied_and_seeded():
    data = load_dataset({"name": "shapes", "params": {"samples": 300}, "augment": {"flip": True, "crop": 2}},
                        seed=0)
    plain = ArrayDataset(data.info, data.x_train, data.y_train, data.x_val, data.y_val)
    runs = []
    for dataset in (data, data, plain):
        log = LossLog()
        Trainer(load_template("lenet"), dataset, {"steps": 4, "device": "cpu"}, callbacks=[log]).run()
        runs.append(log.losses)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]  # same weights and batches: only the augmentation differs


class _OutOfMemoryAt:
    """A forward hook that raises CUDA's out-of-memory error inside a layer at one call."""

    def __init__(self, at: int):
        self.at, self.calls = at, 0

    def __call__(self, module, args, output):
        self.calls += 1
        if self.calls == self.at:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB "
                                              "(GPU 0; 7.79 GiB total capacity)")


def test_out_of_memory_inside_a_layer_is_one_sentence_and_a_clean_stop():
    events = []

    class Events(Callback):
        def on_event(self, kind, step, message="", data=None):
            events.append((kind, step, message))

        def on_end(self, trainer, summary):
            events.append(("end", trainer.step, summary["status"]))

    doc = mlp_doc(training={"steps": 50, "batch_size": 16})
    trainer = Trainer(doc, spiral(200), callbacks=[Events()])
    trainer.compiled.module_of("n2").register_forward_hook(_OutOfMemoryAt(4))
    summary = trainer.run()
    assert summary["status"] == "failed" and summary["reason"] == "oom" and summary["steps"] == 3
    msg = summary["message"]
    assert msg.startswith("Out of memory on cpu with batch size 16: try a smaller batch size (8 instead of 16)")
    assert "\n" not in msg and msg.endswith("or a smaller network.") and ". " not in msg  # one sentence
    assert ("failure", 3, msg) in events and events[-1] == ("end", 3, "failed")
    from engine.train.trainer import oom_message
    assert "mixed precision" in oom_message("cuda", 256) and "mixed precision" not in oom_message("cuda", 256, amp=True)


def test_out_of_memory_in_the_worker_reaches_the_parent_as_a_sentence(tmp_path, monkeypatch):
    import multiprocessing as mp

    from engine.session import SessionReader
    from engine.train.worker_child import run_job
    hook = _OutOfMemoryAt(6)
    original = torch.nn.Linear.forward

    def forward(self, x):  # every Linear layer of this process, for this test only
        out = original(self, x)
        if self.training and x.device.type == "cpu":  # not shape inference on the meta device
            hook(self, (x,), out)
        return out
    monkeypatch.setattr(torch.nn.Linear, "forward", forward)
    parent, child = mp.Pipe()
    path = tmp_path / "run.session"
    doc = mlp_doc(training={"steps": 30, "batch_size": 16, "val_every": 1000})
    run_job(child, {"graph": doc.to_dict(), "overrides": {"device": "cpu"}, "record": str(path),
                    "dataset": spiral(200)})
    messages = []
    try:
        while parent.poll():
            messages.append(parent.recv())
    except EOFError:  # the child closed its end: every message is in
        pass
    final = [m for m in messages if m["kind"] == "status"][-1]
    assert final["state"] == "failed"
    assert final["message"].startswith("Out of memory on cpu with batch size 16: try a smaller batch size")
    with SessionReader(path) as r:
        failures = [e for e in r.events() if e.kind == "failure"]
        assert [e.message for e in failures] == [final["message"]]
        assert r.checkpoint_steps() == [failures[0].step]  # stopped cleanly: the weights are kept


class EveryThird(Callback):
    """Needs a call every third step (Callback.quiet_until); notes the steps it was called at."""

    def __init__(self):
        self.after, self.end = [], []

    def on_after_backward(self, trainer, step):
        self.after.append(step)

    def on_step_end(self, trainer, step, metrics):
        self.end.append(step)
        self.quiet_until = step + 3


def test_quiet_callbacks_are_not_called_and_the_step_log_has_every_step():
    quiet, log = EveryThird(), []
    trainer = Trainer(mlp_doc(training={"steps": 12}), spiral(400), callbacks=[quiet])
    trainer.step_log = log
    trainer.run()
    assert quiet.after == quiet.end == [1, 4, 7, 10]
    assert [row[0] for row in log] == list(range(1, 13))
    assert [row[3] for row in log] == [0.01] * 12                 # the learning rate each step used
    assert [row[1] for row in log] == sorted(row[1] for row in log)  # wall times, in order
    assert log[-1][2] == trainer.last_loss
    # Beside a callback that needs every step, every callback is called every step.
    quiet, every = EveryThird(), LossLog()
    Trainer(mlp_doc(training={"steps": 12}), spiral(400), callbacks=[quiet, every]).run()
    assert quiet.end == list(range(1, 13)) and len(every.losses) == 12


def test_wake_calls_the_quiet_callbacks_at_the_next_step():
    quiet = EveryThird()
    trainer = Trainer(mlp_doc(training={"steps": 12}), spiral(400), callbacks=[quiet],
                      gate=lambda t: t.wake() if t.step == 5 else None)
    trainer.run()
    assert quiet.end == [1, 4, 6, 9, 12]
