"""Records that arrive after the step they belong to reach the live views: captures and
statistics computed beside training come back a few steps late, and the last ones after
the run's last step, in a commit that does not move the session's head."""
from __future__ import annotations

import numpy as np

from engine.session import SessionReader, SessionWriter
from engine.templates import load_template
from visualizer.views.bptt import GradientsThroughTimeView
from visualizer.views.health import LayerHealthView

T, LAST = 12, 400


def test_records_committed_after_the_last_step_reach_the_live_views(qtbot, tmp_path):
    path = tmp_path / "late.nsession"
    writer = SessionWriter(path, load_template("anbn_lstm").to_dict(), {}, None)
    for s in range(LAST + 1):
        writer.scalars(s, {"train/loss": 1.0 / (1 + s), "layer/lstm/grad_norm": 0.5})
        if s % 50 == 0 and s < LAST:
            writer.tensor("bptt/lstm/grad_norm_t", s, np.full(T, 1.0 + s, np.float32))
    writer.commit()
    reader = SessionReader(path)
    bptt = GradientsThroughTimeView()
    health = LayerHealthView()
    for view in (bptt, health):
        qtbot.addWidget(view)
        view.resize(900, 500)
        view.growing = True
        view.set_reader(reader)
    bptt.set_node("lstm", "LSTM")
    assert reader.refresh() == LAST
    bptt.show_step(LAST)
    health.show_step(LAST)
    assert bptt.series.steps[-1] == 350 and bptt.note.text().startswith("lstm (LSTM) · step 350")
    version = reader.version
    assert reader.refresh() == LAST and reader.version == version  # nothing committed since

    # The helper's capture of the last step, and what it diagnosed, come in afterwards.
    writer.tensor("bptt/lstm/grad_norm_t", LAST, np.full(T, 1.0 + LAST, np.float32))
    writer.event("diagnostic", LAST, "found late", {"severity": "warning", "node": "lstm"})
    writer.commit()
    assert reader.refresh() == LAST and reader.version != version
    bptt.show_step(LAST)
    health.show_step(LAST)
    assert bptt.series.steps[-1] == LAST and bptt.note.text().startswith(f"lstm (LSTM) · step {LAST}")
    np.testing.assert_array_equal(bptt.series.arrays[LAST], np.full(T, 1.0 + LAST, np.float32))
    assert [health.events.item(i).text() for i in range(health.events.count())] == [
        f"⚠ step {LAST} · lstm: found late"]
    writer.close()
    reader.close()
