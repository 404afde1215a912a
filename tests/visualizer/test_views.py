"""The views plot what the session recorded: short real runs (MLP on spiral, LeNet on shapes,
LSTM on a^n b^n) are recorded headlessly with Trainer + ProbeSet + SessionWriter, opened
with SessionReader, and each view's drawn arrays / table model are compared with the
records read independently, at several steps."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.data import load_dataset
from engine.probes import ProbeSet, ProbeSettings
from engine.session import SessionReader, SessionWriter
from engine.templates import load_template
from engine.train import Trainer
from visualizer.views.activations import ActivationsView
from visualizer.views.boundary import DecisionBoundaryView
from visualizer.views.bptt import GradientsThroughTimeView
from visualizer.views.feature_maps import FeatureMapsView
from visualizer.views.gates import GatesView
from visualizer.views.health import COLUMNS, LayerHealthView
from visualizer.views.predictions import PredictionsView
from visualizer.views.registry import VIEWS

STEPS = 8


def record(folder, template: str, dataset: dict | None = None):
    doc = load_template(template)
    if dataset is not None:
        doc.dataset = dataset
    ds = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    path = folder / f"{template}.session"
    writer = SessionWriter(path, doc.to_dict(), {}, dataclasses.asdict(ds.info))
    probes = ProbeSet(writer, ProbeSettings(heavy_every=3, probe_size=4))
    trainer = Trainer(doc, ds, overrides={"steps": STEPS, "val_every": 4, "device": "cpu"},
                      callbacks=[probes])
    trainer.run()
    writer.close()
    return path, trainer


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores: one thread is several times faster here
    try:
        folder = tmp_path_factory.mktemp("sessions")
        out = {"mlp": record(folder, "playground_mlp", {"name": "spiral", "params": {"samples": 300}}),
               "cnn": record(folder, "lenet"),
               "lstm": record(folder, "anbn_lstm")}
    finally:
        torch.set_num_threads(threads)
    readers = {k: SessionReader(p) for k, (p, _) in out.items()}
    yield {k: (readers[k], t) for k, (_, t) in out.items()}
    for r in readers.values():
        r.close()


def open_view(qtbot, cls, reader, node=None):
    view = cls()
    qtbot.addWidget(view)
    view.resize(900, 650)
    view.set_reader(reader)
    view.set_node(node)
    return view


def at_or_before(reader, name, step):
    """The record of ``name`` at or before ``step``, found from the list of record steps."""
    steps = reader.tensor_steps(name)
    s = int(steps[steps <= step].max())
    return s, reader.tensor(name, s, exact=True)[1]


def test_layer_health_table_holds_the_recorded_values_and_selects_nodes(qtbot, runs, tmp_path):
    reader, _ = runs["cnn"]
    view = open_view(qtbot, LayerHealthView, reader)
    for step in (2, 5, STEPS):
        view.show_step(step)
        nodes = [n for n, _ in view.model.nodes]
        assert nodes == ["c1", "t1", "s2", "c3", "t3", "s4", "f5", "t5", "f6", "t6", "logits"]
        for row, node in enumerate(nodes):
            for col, (_, suffix, _, _) in enumerate(COLUMNS, start=2):
                steps, values = reader.scalar(f"layer/{node}/{suffix}", upto=step)
                expected = values[-1] if len(values) else None
                assert view.model.value(row, col) == expected, (step, node, suffix)
    # Conv and dense layers carry weight statistics, Tanh layers the saturated fraction only.
    assert view.model.value(0, 3) > 0 and view.model.value(1, 3) is None
    assert 0 <= view.model.value(1, 6) <= 1
    with qtbot.waitSignal(view.node_selected) as sig:
        view.table_view.clicked.emit(view.model.index(3, 1))
    assert sig.args == ["c3"]
    assert view.export_csv(tmp_path / "health.csv")
    assert (tmp_path / "health.csv").read_text().splitlines()[0].startswith("layer,type,grad_norm")


def test_activations_show_the_histograms_recorded_up_to_the_step(qtbot, runs):
    reader, _ = runs["cnn"]
    view = open_view(qtbot, ActivationsView, reader, "t1")
    name = "act_hist/t1"
    for step in (1, 4, STEPS):
        view.show_step(step)
        s, rec = at_or_before(reader, name, step)
        counts, bad = rec[1][:-1], rec[1][-1]
        frac = counts / (counts.sum() + bad)
        np.testing.assert_allclose(view.bars.opts["height"], frac)
        np.testing.assert_allclose(view.bars.opts["x0"], rec[0][:-1])
        assert view.column_steps[-1] == s
        # Tanh histograms share the fixed range [-1, 1]: the last column is the record itself.
        np.testing.assert_allclose(view.heat.values[:, -1], frac.astype(np.float32), rtol=1e-6)
        # Every column shows the last record at or before the steps it covers.
        recorded = reader.tensor_steps(name)
        assert set(view.column_steps.tolist()) == set(recorded[recorded <= step].tolist())
    view.set_node("flat")
    assert "records no activation histograms" in view.stack.hint_text
    view.set_node(None)
    assert view.stack.hint_text.startswith("Select a layer")


def test_feature_maps_show_the_chosen_probe_input_and_first_layer_filters(qtbot, runs):
    reader, _ = runs["cnn"]
    view = open_view(qtbot, FeatureMapsView, reader, "c1")
    view.sample.setValue(2)
    x_probe = reader.probe_batch()[0]
    for step in (0, 5, STEPS):
        view.show_step(step)
        _, fm = at_or_before(reader, "feature_maps/c1", step)
        for c in range(fm.shape[1]):
            np.testing.assert_array_equal(view.channel(c), fm[2, c].astype(np.float32))
        _, filt = at_or_before(reader, "filters/c1", step)
        tiles = view.filter_mosaic
        for k in range(filt.shape[0]):
            np.testing.assert_array_equal(tiles.tile(view.filters.values, k), filt[k, 0])
        np.testing.assert_array_equal(view.input_image.image, x_probe[2, 0])
    assert view.filters.plot.isVisible() or not view.isVisible()
    view.set_node("c3")
    _, fm = at_or_before(reader, "feature_maps/c3", STEPS)
    np.testing.assert_array_equal(view.channel(15), fm[2, 15].astype(np.float32))
    assert not view.filters.plot.isVisible()
    view.set_node("f5")
    assert "Select a convolutional layer" in view.stack.hint_text


def test_gradients_through_time_match_the_recorded_norms_and_maps(qtbot, runs):
    reader, _ = runs["lstm"]
    view = open_view(qtbot, GradientsThroughTimeView, reader, "lstm")
    view.sample.setValue(1)
    for step in (0, 4, STEPS):
        view.show_step(step)
        s, norm = at_or_before(reader, "bptt/lstm/grad_norm_t", step)
        np.testing.assert_array_equal(view.profile.yData, np.maximum(norm.astype(np.float64), 1e-30))
        np.testing.assert_allclose(view.history.values[:, -1], np.log10(norm.astype(np.float64)), rtol=1e-6)
        _, grad = at_or_before(reader, "bptt/lstm/grad_h", step)
        np.testing.assert_array_equal(view.units.values, grad[1].T)
        # The norm per t is the norm of the units x probe batch slice (independent check).
        np.testing.assert_allclose(norm, np.linalg.norm(grad.transpose(1, 0, 2).reshape(len(norm), -1), axis=1),
                                   rtol=1e-5)
    view.set_node("logits")
    assert "is not recurrent" in view.stack.hint_text


def test_gates_draw_each_gate_with_the_input_symbols(qtbot, runs):
    reader, _ = runs["lstm"]
    view = open_view(qtbot, GatesView, reader, "lstm")
    view.sample.setValue(3)
    view.unit.setValue(5)
    x_probe = reader.probe_batch()[0]
    names = reader.dataset_info["class_names"]
    for step in (0, 6, STEPS):
        view.show_step(step)
        for gate in "ifgoc":
            _, rec = at_or_before(reader, f"lstm/lstm/{gate}", step)
            np.testing.assert_array_equal(view.maps[gate].values, rec[3].T.astype(np.float32))
            np.testing.assert_array_equal(view.traces[gate].yData, rec[3][:, 5].astype(np.float32))
        _, h = at_or_before(reader, "rnn/lstm/h", step)
        np.testing.assert_array_equal(view.maps["h"].values, h[3].T.astype(np.float32))
    ticks = view.maps["f"].plot.getAxis("bottom")._tickLevels[0]
    assert [s for _, s in ticks] == [names[i] for i in x_probe[3].argmax(1)]
    assert view.maps["i"].bar.levels() == (0.0, 1.0)
    view.set_node("logits")
    assert "has no gates" in view.stack.hint_text


def test_decision_boundary_is_the_model_on_the_grid(qtbot, runs):
    reader, trainer = runs["mlp"]
    view = open_view(qtbot, DecisionBoundaryView, reader)
    for step in (0, 3, STEPS):
        view.show_step(step)
        _, probs = at_or_before(reader, "boundary/probs", step)
        np.testing.assert_array_equal(view.field, probs.astype(np.float32))
        np.testing.assert_array_equal(view.image.image, probs[..., 1].astype(np.float32))
    # Oracle: the final model evaluated at the cell centres, row = x2, column = x1.
    x0, x1, y0, y1 = reader.tensor("boundary/extent", 0)[1].astype(np.float64)
    g = view.field.shape[0]
    xs = x0 + (x1 - x0) * (np.arange(g) + 0.5) / g
    ys = y0 + (y1 - y0) * (np.arange(g) + 0.5) / g
    for i, j in ((0, 0), (5, 40), (g - 1, 7)):
        with torch.no_grad():
            logits = trainer.model.eval()(torch.tensor([[xs[j], ys[i]]], dtype=torch.float32))
        p = torch.softmax(logits, -1)[0].numpy()
        np.testing.assert_allclose(view.field[i, j], p, atol=2e-3)  # float16 storage
    n_points = len(reader.tensor("boundary/labels", 0)[1])
    assert len(view.points.data) == n_points
    other = open_view(qtbot, DecisionBoundaryView, runs["cnn"][0])
    other.show_step(STEPS)
    assert "2-D point datasets" in other.stack.hint_text


def test_predictions_show_the_recorded_confusion_and_probe_labels(qtbot, runs, tmp_path):
    reader, trainer = runs["cnn"]
    view = open_view(qtbot, PredictionsView, reader)
    for step in (4, STEPS):
        view.show_step(step)
        _, conf = at_or_before(reader, "val/confusion", step)
        np.testing.assert_array_equal(view.matrix, conf)
        assert conf.sum() == trainer.n_val
        acc = reader.scalar("val/accuracy", upto=step)[1][-1]
        assert np.trace(conf) / conf.sum() == pytest.approx(acc)
        _, pred = at_or_before(reader, "predictions", step)
        np.testing.assert_array_equal(view.predicted, pred.argmax(1))
    names = reader.dataset_info["class_names"]
    assert [lbl.textItem.toPlainText().split("\n")[0] for lbl in view.labels] == [names[i] for i in view.predicted]
    assert view.export_csv(tmp_path / "confusion.csv")

    seq_reader, _ = runs["lstm"]
    seq = open_view(qtbot, PredictionsView, seq_reader)
    seq.show_step(STEPS)
    _, pred = at_or_before(seq_reader, "predictions", STEPS)
    np.testing.assert_array_equal(seq.predicted, pred.argmax(-1))
    y = seq_reader.probe_batch()[1]
    sym = seq_reader.dataset_info["class_names"]
    assert "".join(sym[i] for i in y[0]) in seq.text.text()


def test_predictions_fit_the_pane_they_are_in(qtbot, runs):
    """Class names where they are readable, numbers where they would run into each other (a
    2 x 2 grid at 1280 x 720); the probe inputs beside the confusion matrix in a wide pane."""
    reader, _ = runs["cnn"]
    view = open_view(qtbot, PredictionsView, reader)
    view.show()
    qtbot.waitExposed(view)
    names = reader.dataset_info["class_names"]

    def overlaps(items) -> list:
        """Pairs of label texts whose boxes on screen intersect."""
        boxes = [(i.textItem.toPlainText(), i.sceneBoundingRect()) for i in items if i.isVisible()]
        return [(a, b) for k, (a, ra) in enumerate(boxes) for b, rb in boxes[k + 1:] if ra.intersects(rb)]

    shown = {}
    for size in ((900, 650), (440, 240), (1000, 330)):
        view.resize(*size)
        view.show_step(STEPS)
        qtbot.wait(200)  # the plots are laid out again, and fitted, in the event loop
        assert overlaps(view.labels) == [] and overlaps(view.cells) == []
        shown[size] = [lbl.textItem.toPlainText().split("\n")[0] for lbl in view.labels]
        left = [t for _, t in view.confusion.plot.getAxis("left")._tickLevels[0]]
        if size == (440, 240):  # tiles too narrow for the names: the class numbers, all of them
            assert shown[size] == [str(i) for i in view.predicted]
        else:
            assert shown[size] == [names[i] for i in view.predicted]
            assert left == [f"{n} ({i})" for i, n in enumerate(names)]
        wide = size != (900, 650)  # a 2 x 2 grid's pane at 1280 x 720 is wide too
        assert view._wide == wide
        beside = view.samples_plot.sceneBoundingRect().left() >= view.confusion.plot.sceneBoundingRect().right()
        assert beside == wide
    # No pictures (a^n b^n: symbols): no empty half beside the matrix.
    seq = open_view(qtbot, PredictionsView, runs["lstm"][0])
    seq.show()
    seq.resize(1000, 330)
    seq.show_step(STEPS)
    qtbot.wait(200)
    assert not seq.samples_plot.isVisible() and not seq._wide
    assert seq.graphics.ci.layout.columnCount() == 1


@pytest.mark.parametrize("cls", VIEWS, ids=[c.__name__ for c in VIEWS])
def test_every_view_hints_before_data_and_exports_png(qtbot, runs, tmp_path, cls):
    recurrent = cls in (GatesView, GradientsThroughTimeView)
    template, node, run = ("anbn_lstm", "lstm", "lstm") if recurrent else ("lenet", "c1", "cnn")
    path = tmp_path / "empty.session"
    SessionWriter(path, load_template(template).to_dict(), {}, None).close()
    with SessionReader(path) as empty:
        view = open_view(qtbot, cls, empty, node)
        view.show_step(0)
        if hasattr(view, "stack"):  # the curves view shows empty axes instead
            assert view.stack.hint_text is not None
            assert "No data recorded yet" in view.stack.hint_text or "2-D point" in view.stack.hint_text
    view.set_reader(runs[run][0])
    view.show_step(STEPS)
    view.export_png(tmp_path / "view.png")
    assert (tmp_path / "view.png").stat().st_size > 1000


def in_range(plot, axis: int, values) -> bool:
    lo, hi = plot.getViewBox().viewRange()[axis]
    v = np.asarray(values, dtype=np.float64)
    return bool(lo <= v.min() and v.max() <= hi)


def test_live_plots_keep_every_drawn_value_in_view(qtbot, runs):
    from visualizer.views.curves import PANELS, CurvesView

    reader, _ = runs["mlp"]
    curves = open_view(qtbot, CurvesView, reader)
    curves.show_step(STEPS)
    for title, _, series in PANELS:
        plot = curves.plots[title]
        drawn = np.concatenate([curves.curves[name].yData for name, _, _ in series
                                if curves.curves[name].yData is not None])
        assert in_range(plot, 1, drawn), title
        assert in_range(plot, 0, np.concatenate([curves.curves[n].xData for n, _, _ in series
                                                 if curves.curves[n].xData is not None])), title
    # The constant learning rate is framed from zero, not centred in a band around it.
    lr = reader.scalar("lr")[1]
    assert np.all(lr == lr[0]) and curves.plots["Learning rate"].getViewBox().viewRange()[1][0] == 0.0
    curves.log_box.setChecked(True)
    assert in_range(curves.plots["Loss"], 1, np.log10(curves.curves["train/loss"].yData))
    # Selecting a layer leaves views that are not per layer alone (no reload, same data).
    before = curves.curves["train/loss"].yData
    curves.set_node("fc1")
    assert curves.curves["train/loss"].yData is before and curves.node_id == "fc1"

    reader, _ = runs["lstm"]
    gates = open_view(qtbot, GatesView, reader, "lstm")
    bptt = open_view(qtbot, GradientsThroughTimeView, reader, "lstm")
    for step in (0, 6, STEPS):
        gates.show_step(step)
        assert in_range(gates.trace_plot, 1, np.concatenate([t.yData for t in gates.traces.values()]))
        bptt.show_step(step)
        assert in_range(bptt.profile_plot, 1, np.log10(bptt.profile.yData))
        assert in_range(bptt.history.plot, 0, [bptt.column_steps[0], bptt.column_steps[-1]])
    # Scrubbing between two records moves the cursor over training, though nothing is redrawn.
    acts = open_view(qtbot, ActivationsView, runs["cnn"][0], "t1")
    recorded = runs["cnn"][0].tensor_steps("act_hist/t1")
    gap = next(s for s in range(int(recorded[-1])) if s not in set(recorded.tolist()))
    for view in (acts, bptt):
        view.show_step(gap - 1)
        view.show_step(gap)
        assert view.cursor.value() == gap
