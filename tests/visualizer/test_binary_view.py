"""The binary weights view draws what the paper's equations give (tests/reference/binary.py)
for the weights and inputs of a real run, copied by the run's own spy (not the probes):
α per channel over training, the flips and cancelled gradients per step, the latent and
binarised kernels, both histograms and K; a real-valued layer shows its weights alone.
Also: the Watch workspace opens this view, on the first binary layer, for an XNOR graph."""
from __future__ import annotations

import numpy as np
import pytest

from engine.session import SessionReader
from engine.templates import load_template
from tests.engine.test_probes_binary import MAX_CHANNELS, STEPS, record_binary_run
from tests.reference import binary as ref
from tests.reference import stats as ref_stats
from visualizer.views.binary import BinaryWeightsView
from visualizer.workbench.fit import default_views, graph_kind, node_to_follow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("binary_view") / "run.session"
    spy = record_binary_run(path)
    with SessionReader(path) as reader:
        yield spy, reader


def open_view(qtbot, reader, node):
    view = BinaryWeightsView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.set_reader(reader)
    view.set_node(node, None)
    return view


def test_the_view_shows_the_oracles_numbers(qtbot, run):
    spy, reader = run
    view = open_view(qtbot, reader, "bc")
    view.show_step(STEPS)
    assert view.stack.hint_text is None
    # α of every channel at every capture (the heat map's columns)
    col_steps, image = view.shown["alpha"]
    assert sorted(set(col_steps.tolist())) == [0, 3, 6, STEPS]
    for j, s in enumerate(col_steps.tolist()):
        np.testing.assert_allclose(image[:, j], ref.weight_scale(spy.after[s]["bc"]), rtol=1e-6)
    np.testing.assert_allclose(view.alpha.values, image)
    # flips and cancelled gradients per step, in %, and the lines drawn from them
    for suffix, want in (("flip_frac", [ref.flip_fraction(spy.before[s]["bc"], spy.after[s]["bc"])
                                        for s in range(1, STEPS + 1)]),
                         ("ste_cancelled_w", [ref.cancelled_fraction(spy.before[s]["bc"]) for s in range(1, STEPS + 1)]),
                         ("ste_cancelled_x", [ref.cancelled_fraction(spy.train_in[s]) for s in range(1, STEPS + 1)])):
        steps, pct = view.shown[suffix]
        assert steps.tolist() == list(range(1, STEPS + 1))
        np.testing.assert_allclose(pct, 100 * np.array(want), rtol=1e-9)
        y = view.lines[suffix].yData  # before the log axis maps it
        np.testing.assert_allclose(y[pct > 0], pct[pct > 0])
        assert np.all(np.isnan(y[pct == 0]))  # an exact 0 has no place on a log axis
    # the kernels of the last capture: latent, and binarised α·sign(W) side by side
    step, latent, binarised = view.shown["kernels"]
    w = spy.after[step]["bc"]
    np.testing.assert_array_equal(latent, w[:MAX_CHANNELS].astype(np.float32))
    np.testing.assert_allclose(binarised, ref.binarised_weight(w)[:MAX_CHANNELS], rtol=1e-6)
    c, cin, k, _ = latent.shape
    tile = view.filters_binary.values[(k + 1) * (cin - 1):(k + 1) * (cin - 1) + k, :k]  # output 0, last input
    np.testing.assert_allclose(tile, binarised[0, cin - 1], rtol=1e-6)
    drawn = np.abs(view.filters_binary.values[np.isfinite(view.filters_binary.values)])
    alphas = ref.weight_scale(w)[:c]
    assert np.all(np.min(np.abs(drawn[:, None] - alphas[None, :]), axis=1) < 1e-6 * alphas.max())  # only ±α_c
    # both histograms at the last capture, as fractions of the weights
    for key, values in (("latent", w), ("binary", ref.binarised_weight(w))):
        col_steps, image, (lo, hi) = view.shown[key]
        edges = reader.tensor("weight_hist/bc", STEPS)[1][0]
        assert (lo, hi) == (edges[0], edges[-1])
        np.testing.assert_allclose(image[:, -1], ref_stats.histogram(values, edges) / values.size, atol=1e-12)
    # K over the probe batch, in the note
    K = ref.input_scale(spy.probe_in[STEPS])
    assert f"K (mean |x| per probe input) {K.mean():.3g}, {K.min():.3g} … {K.max():.3g}" in view.note.text()
    flip = 100 * ref.flip_fraction(spy.before[STEPS]["bc"], spy.after[STEPS]["bc"])
    assert f"step {STEPS}: {flip:.3g} % of the signs flipped" in view.note.text()
    header, rows = view.table()
    assert [r[2] for r in rows if r[0] == "flip_frac"] == pytest.approx(view.shown["flip_frac"][1].tolist())


def test_scrubbing_back_shows_the_records_of_that_step(qtbot, run):
    spy, reader = run
    view = open_view(qtbot, reader, "bd")
    view.show_step(STEPS)
    view.show_step(4)
    step, latent, binarised = view.shown["kernels"]
    assert step == 3 and latent.shape == (MAX_CHANNELS, spy.after[3]["bd"].shape[1])
    np.testing.assert_allclose(binarised, ref.binarised_weight(spy.after[3]["bd"])[:MAX_CHANNELS], rtol=1e-6)
    assert view.shown["flip_frac"][0].tolist() == [1, 2, 3, 4]
    assert view.shown["ste_cancelled_x"][0].tolist() == []  # BWN: no binarised inputs
    assert "K (" not in view.note.text()
    assert view.cursors[0].value() == 4


def test_a_real_layer_shows_its_weights_and_says_why_nothing_else(qtbot, run):
    _, reader = run
    view = open_view(qtbot, reader, "head")
    view.show_step(STEPS)
    assert view.stack.hint_text is None and view.latent.values is not None
    assert "real-valued" in view.note.text()
    assert not any(p.isVisible() for p in view.binary_only)
    view.set_node("pool", None)
    view.show_step(STEPS)
    assert "'pool' (MaxPool2d) has no weights" in view.stack.hint_text


def test_watch_opens_the_binary_view_on_the_first_binary_layer():
    doc = load_template("xnor_net")
    assert graph_kind(doc) == "binary" and graph_kind(load_template("real_net")) == "conv"
    titles = default_views("binary", ["Curves", "Activations", "Feature maps", "Binary weights"])
    assert titles[0] == "Binary weights"
    assert node_to_follow(doc, titles) == "bconv2"


def test_the_inspector_states_the_memory_and_compute_claims(qtbot):
    """bconv2 of the XNOR template: 64 x 32 x 3 x 3 = 18,432 weights on 14 x 14 positions."""
    from visualizer.editor.model import DocumentModel
    from visualizer.panels.inspector import Inspector
    model = DocumentModel(load_template("xnor_net"))
    inspector = Inspector(model)
    qtbot.addWidget(inspector)
    model.flush_analysis()
    inspector.show_node("bconv2")
    text = inspector.facts.text()
    n_w, positions = 64 * 32 * 9, 14 * 14
    mem = ref.memory_bits(n_w, 64, bias=False)
    assert f"1 (the sign) instead of 32; {mem['bits_per_weight']:.3g} with the float32 α" in text
    assert f"{mem['binary'] / 8 / 1e3:.3g}kB binary vs {mem['float32'] / 8 / 1e3:.3g}kB float32" in text
    assert f"32× for the signs, {mem['ratio']:.3g}× with the float32 α" in text
    assert f"{n_w * positions / 1e6:.3g}M XNOR + popcount bit products" in text
    assert f"{ref.speedup(32, 9, positions):.3g}×" in text
    inspector.show_node("conv1")  # a real layer: no binary claims
    assert "XNOR" not in inspector.facts.text() and "params" in inspector.facts.text()


def test_compare_shows_the_view_per_run_on_a_binary_layer_or_the_twins_weights(qtbot, run, tmp_path):
    """Each column starts on the run's first binary layer; a real-valued twin on its first
    layer with weights, its histogram alone."""
    from engine.session import SessionWriter
    from visualizer.replay.compare import CompareWindow, default_node
    _, reader = run
    twin = tmp_path / "twin.session"
    SessionWriter(twin, load_template("real_net").to_dict(), {}, None).close()
    with SessionReader(twin) as twin_reader:
        assert default_node(reader, BinaryWeightsView) == "bc"
        assert default_node(twin_reader, BinaryWeightsView) == "conv1"
    cw = CompareWindow([reader.path, reader.path], render_hidden=True)
    qtbot.addWidget(cw)
    cw.set_view(BinaryWeightsView)
    cw.timeline.seek(STEPS)
    cw.render_now()
    assert [c.view.node_id for c in cw.columns] == ["bc", "bc"]
    for col in cw.columns:
        np.testing.assert_array_equal(col.view.shown["alpha"][1], cw.columns[0].view.shown["alpha"][1])
        assert col.view.shown["kernels"][0] == STEPS
    cw.close()
