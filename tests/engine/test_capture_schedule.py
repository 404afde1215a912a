"""Captures by step, not by clock: dense at the start (every step, then thinning by
doubling), then every N; the same steps for the same settings and seed; a rate changed
while running applies exactly from then on; every rate settable from the command line;
a session writer committing on its background thread loses nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.probes import ProbeSet, ProbeSettings, ProbeSettingsError
from engine.probes.settings import dense_due, next_due, parse_probe_edits, schedule_steps
from engine.session import SessionReader, SessionWriter
from engine.train import Callback, Trainer
from tests.engine.test_probes_common import chain, random_data

ROOT = Path(__file__).resolve().parents[2]


def mlp():
    return chain((6,), [("fc", "Dense", {"units": 8}), ("r", "ReLU", {}), ("out", "Dense", {"units": 2})])


def test_the_schedule_is_dense_then_log_spaced_then_every_n():
    assert schedule_steps(600, 50, 2) == [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 50, 64, 96, 100,
                                          150, 200, 250, 300, 350, 400, 450, 500, 550, 600]
    assert schedule_steps(200, 20, 2) == [1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 60,
                                          80, 100, 120, 140, 160, 180, 200]
    assert schedule_steps(40, 5, 2) == [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 35, 40]
    # Every multiple of N is on it, so no gap is wider than N (once 96 -> 150 at N = 50).
    for every, dense in ((50, 2), (20, 2), (5, 2), (7, 3), (1000, 2), (1, 2)):
        steps = [0, *schedule_steps(5000, every, dense)]
        assert max(b - a for a, b in zip(steps, steps[1:])) == every
    assert schedule_steps(20, 4, 0) == [4, 8, 12, 16, 20]        # dense 0: exactly every k
    # Two points per doubling of the step count while the spacing is below N.
    steps = schedule_steps(10_000, 1000, 2)
    assert all(len([s for s in steps if 2 ** k <= s < 2 ** (k + 1)]) == 2 for k in range(2, 9))
    assert [s for s in steps if s >= 2048] == list(range(3000, 10_001, 1000))  # spacing 1024 > N
    assert not dense_due(5, 0, 2)                                 # every 0: never
    defaults = ProbeSettings()
    assert (defaults.heavy_every, defaults.stats_every, defaults.dense) == (50, 20, 2)


class _Configure(Callback):
    def __init__(self, probes, at, **changes):
        self.probes, self.at, self.changes = probes, at, changes

    def on_step_end(self, trainer, step, metrics):
        if step == self.at:
            self.probes.configure(**self.changes)


def run(path, steps, settings, seed=0, change=None, basic_scalars=True, via="callback"):
    """``change``: (step, settings) changed after that step, by a callback called every step
    or (``via="gate"``) before the next batch, as the worker obeys the window's commands,
    while the probes (basic_scalars False) may be the trainer's only callback and quiet."""
    doc = mlp()
    writer = SessionWriter(path, doc.to_dict(), dict(doc.training))
    probes = ProbeSet(writer, settings, basic_scalars=basic_scalars)
    by_callback = change is not None and via == "callback"
    callbacks = [probes] + ([_Configure(probes, change[0], **change[1])] if by_callback else [])
    gate = None
    if change is not None and via == "gate":
        def gate(trainer):
            if trainer.step == change[0]:
                probes.configure(**change[1])
    trainer = Trainer(doc, random_data((6,), n=80, seed=seed),
                      overrides={"steps": steps, "device": "cpu", "seed": seed, "val_every": 1000},
                      callbacks=callbacks, gate=gate)
    torch.set_num_threads(1)
    trainer.run()
    writer.close()
    return SessionReader(path)


@pytest.mark.parametrize("basic_scalars", [True, False])  # False: as the worker runs it, quiet steps skipped
def test_same_settings_and_seed_give_the_same_capture_steps(tmp_path, basic_scalars):
    settings = ProbeSettings(heavy_every=10, stats_every=5)
    with run(tmp_path / "a.session", 60, settings, basic_scalars=basic_scalars) as a, \
            run(tmp_path / "b.session", 60, settings, basic_scalars=basic_scalars) as b:
        heavy_a, heavy_b = a.tensor_steps("act_hist/r"), b.tensor_steps("act_hist/r")
        assert list(heavy_a) == list(heavy_b) == [0, *schedule_steps(60, 10, 2)]
        stats_a, _ = a.scalar("layer/r/dead_frac")
        stats_b, _ = b.scalar("layer/r/dead_frac")
        assert list(stats_a) == list(stats_b) == schedule_steps(60, 5, 2)
        # The first curve point is at the first step, whatever the rates.
        assert stats_a[0] == 1 and (not basic_scalars or a.scalar("train/loss")[0][0] == 1)


@pytest.mark.parametrize("basic_scalars,via", [(True, "callback"), (False, "callback"), (False, "gate")])
def test_a_rate_changed_while_running_applies_exactly_from_then_on(tmp_path, basic_scalars, via):
    with run(tmp_path / "c.session", 80, ProbeSettings(heavy_every=50, stats_every=30),
             change=(20, {"heavy_every": 7, "stats_every": 9}), basic_scalars=basic_scalars, via=via) as r:
        steps = list(r.tensor_steps("predictions"))
        stats = list(r.scalar("layer/r/dead_frac")[0])
    assert steps == [0, 1, 2, 3, 4, 6, 8, 12, 16, *range(21, 80, 7), 80]  # no dense start after a change
    assert stats == [1, 2, 3, 4, 6, 8, 12, 16, *range(27, 81, 9)]
    with pytest.raises(ProbeSettingsError, match="capture_mode"):
        ProbeSettings(capture_mode="threads")


def _train(*args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "engine", "train", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_probe_rates_from_the_command_line(tmp_path, capsys):
    assert parse_probe_edits(["heavy_every=none", "capture_mode=inline", "diagnostics=false"]) == \
        {"heavy_every": None, "capture_mode": "inline", "diagnostics": False}
    session = tmp_path / "run.session"
    out = _train("playground_mlp", "--steps", "30", "--device", "cpu", "--record", session,
                 "--set", "heavy_every=5", "--probe", "stats_every=3", "--probe", "dense=0")
    assert out.returncode == 0, out.stderr
    assert "heavy captures 7 inline" in out.stderr
    with SessionReader(session) as r:
        assert list(r.tensor_steps("predictions")) == list(range(0, 31, 5))
        steps, _ = r.scalar("layer/fc1/grad_norm")  # the probes' (the recorder writes the global one)
        assert list(steps) == list(range(3, 31, 3))
        mode = [e for e in r.events() if e.kind == "capture_mode"]
        assert [e.data["mode"] for e in mode] == ["inline"] and "short" in mode[0].message
    from engine.cli import main  # the same entry point, in this process: no second torch import
    assert main(["train", "playground_mlp", "--steps", "5", "--record", str(tmp_path / "bad.session"),
                 "--probe", "heavy_every=0"]) == 1
    assert "probe setting 'heavy_every' must be between 1 and 1000000, got 0" in capsys.readouterr().err
    assert main(["train", "playground_mlp", "--steps", "5", "--set", "stats_every=2"]) == 1
    assert "add --record" in capsys.readouterr().err


def test_background_commits_lose_nothing_and_readers_see_whole_commits(tmp_path):
    path = tmp_path / "bg.session"
    writer = SessionWriter(path, {"format": "neurostudio.graph"}, {})
    writer.commit_in_background()
    seen = []
    with SessionReader(path) as reader:
        for step in range(1, 301):
            writer.scalars(step, {"a": step, "b": -step})
            writer.tensor("t", step, np.full((64, 64), step, dtype=np.float32))
            if step % 7 == 0:
                writer.commit()
                reader.refresh()
                steps, values = reader.scalar("a")
                # Whole commits only (each ends on a multiple of 7), nothing missing before.
                assert list(steps) == list(range(1, len(steps) + 1)) and len(steps) % 7 == 0
                assert len(reader.scalar("b")[0]) >= len(steps)  # read later: as much or more
                seen.append(len(steps))
        assert writer.flush() == 300
    writer.close()
    with SessionReader(path) as r:
        assert len(r.scalar("a")[0]) == 300 and r.tensor("t", 300, exact=True)[1][0, 0] == 300
        assert list(r.tensor_steps("t")) == list(range(1, 301))
    assert seen == sorted(seen)
    json.dumps(seen)


def test_the_schedule_answers_the_same_whatever_order_it_is_asked_in():
    # it remembers stretches of steps that are not due; asked backwards, jumping, or
    # after a change of rate, it must still answer what dense_due says
    from engine.probes.settings import ProbeSettings, Schedule
    rng = __import__("random").Random(0)
    for every, dense in [(20, 2), (7, 0), (1, 3), (0, 2), (50, 5)]:
        settings = ProbeSettings(stats_every=every, heavy_every=every + 3, dense=dense)
        sched = Schedule(settings)
        steps = list(range(1, 400)) + [rng.randrange(1, 2000) for _ in range(400)] + list(range(300, 1, -1))
        assert [sched.stats_due(s) for s in steps] == [dense_due(s, every, dense) for s in steps]
        assert [sched.heavy_due(s) for s in steps] == [dense_due(s, every + 3, dense) for s in steps]
        for s in range(1, 400):  # the steps it calls quiet arm nothing and capture nothing
            sched.stats_due(s), sched.heavy_due(s)
            quiet = range(s, sched.quiet_until(s))
            assert not any(dense_due(q + 1, every, dense) or dense_due(q, every + 3, dense) for q in quiet)
            # and, once both were asked about a step, it knows the steps after it (a due one
            # included), so that the probes are not called there for nothing
            assert sched.quiet_until(s + 1) == max(s + 1, min(next_due(s, every, dense) - 1, next_due(s, every + 3, dense)))
        sched.reconfigure(settings.changed(stats_every=every + 1), {"stats_every": every + 1}, running=True)
        assert [sched.stats_due(s) for s in steps] == [dense_due(s, every + 1, 0) for s in steps]


@pytest.mark.parametrize("via", ["callback", "gate"])
def test_a_step_armed_by_the_old_rate_is_not_measured_after_a_change(tmp_path, via):
    # Statistics every 5: after step 9 the probes are ready for step 10. Every 7 from then
    # on: step 10 is not measured, 14 and 21 are.
    with run(tmp_path / "armed.session", 30, ProbeSettings(heavy_every=50, stats_every=5, dense=0),
             change=(9, {"stats_every": 7}), basic_scalars=False, via=via) as r:
        stats = list(r.scalar("layer/r/dead_frac")[0])
    assert stats == [5, 14, 21, 28]


def test_the_probes_are_called_only_on_the_steps_they_need(tmp_path):
    # Statistics every 5 (armed at the end of the step before), a capture every 10, inline:
    # the trainer calls the ProbeSet at the start, on 4, 5, 9, 10, ... and nowhere else,
    # a capture's next step included; what they record is what the rates say.
    called = []

    class Seen(ProbeSet):
        def on_step_end(self, trainer, step, metrics):
            called.append(step)
            super().on_step_end(trainer, step, metrics)

    doc = mlp()
    writer = SessionWriter(tmp_path / "quiet.session", doc.to_dict(), dict(doc.training))
    probes = Seen(writer, ProbeSettings(stats_every=5, heavy_every=10, dense=0, capture_mode="inline"),
                  basic_scalars=False)
    trainer = Trainer(doc, random_data((6,), n=80, seed=0),
                      overrides={"steps": 40, "device": "cpu", "seed": 0, "val_every": 1000}, callbacks=[probes])
    trainer.run()
    writer.close()
    assert called == [1] + [s for s in range(2, 41) if s % 5 in (0, 4)]
    r = SessionReader(tmp_path / "quiet.session")
    assert list(r.scalar("layer/r/dead_frac")[0]) == [5, 10, 15, 20, 25, 30, 35, 40]
    assert list(r.tensor_steps("act_hist/r")) == [0, 10, 20, 30, 40]
