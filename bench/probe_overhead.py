"""Probe overhead at equal coverage: training steps/s with the probes against the same
trainer without them, and against a hand-written torch loop.

Modes, each a separate trainer (same template, seed, data and starting weights):

- ``loop``: a hand-written torch loop (randperm, index, forward, backward, clip, step);
- ``bare``: the Trainer with no callbacks;
- ``recorded``: the Trainer recording as the app's worker does, without probes;
- ``defaults``: a ProbeSet at its default settings (engine.probes.ProbeSettings());
- ``stats``: statistics every step, no heavy captures;
- ``heavy``: a heavy capture every 10 steps, no statistics;
- ``both``: statistics every step and a heavy capture every 10 steps.

Probed trainers record to a session file as the app's worker does: a SessionRecorder
(loss and learning rate every step, committed every 0.2 s on the writer's background
thread) beside the ProbeSet; the bare trainer records nothing. So ``x bare`` charges the
probes for recording the loss every step too (the equal-coverage comparison: TensorBoard's
recipe records the loss every step), and ``x recorded`` is the probes' own cost.
The modes train in blocks of about BLOCK seconds, in the rows of a balanced Latin
square (Williams design: each mode follows each other mode equally often), and the
medians of steps/s are compared (../shared/ENVIRONMENT.md: single runs vary by ±5-10 %).
``paired`` is the median over the rows of each row's own ratio (every mode trains once
in a row, within a few seconds): what a slow drift of the machine's speed over the run
does not move, where the ratio of medians compares blocks minutes apart.
Each mode has INSTANCES trainers whose blocks alternate: two identical trainers differ
by up to ~3 % (where their tensors landed in memory), which more blocks do not average.
After each block the probed trainer's captures still in flight are waited for outside
the timed region, so that none spills into the next mode's block.

    .venv/bin/python bench/probe_overhead.py [--rounds 14] [--block 0.75] [--threads 1] [--instances 2]
        [--same-trainer] [--only lenet,anbn] [--modes bare,defaults] [--out bench/results/probe_overhead.txt]

``--same-trainer``: each instance is one trainer in every trainer mode (SharedRun), its
callbacks and probe rates switched between blocks; the loop stays its own.

torch threads default to 1, what the app's worker uses on a 2-core machine (all cores
but one): the other core is the spare one the capture helper runs on.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.graph.compile import compile_graph  # noqa: E402
from engine.graph.document import load_graph  # noqa: E402
from engine.probes import ProbeSet, ProbeSettings  # noqa: E402
from engine.session import SessionWriter  # noqa: E402
from engine.train import Trainer  # noqa: E402
from engine.train.recorder import SessionRecorder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = {"lenet": ("LeNet", "lenet.json"), "resnet20": ("ResNet-20", "resnet.json"),
             "lstm": ("LSTM classifier", "lstm_classifier.json"), "anbn": ("a^n b^n LSTM", "anbn_lstm.json")}
PROBED = {
    "defaults": {},
    "stats": dict(stats_every=1, dense=0, heavy_every=None, heavy_hz=0.0),
    "heavy": dict(stats_every=0, dense=0, heavy_every=10),
    "both": dict(stats_every=1, dense=0, heavy_every=10),
}
MODES = ["loop", "bare", "recorded", *PROBED]
OFF = dict(stats_every=0, heavy_every=None, heavy_hz=0.0)  # --same-trainer: the ProbeSet in bare and recorded


def williams(n: int) -> list[list[int]]:
    """Rows of a balanced Latin square of order n (even): every ordered pair of
    different modes is adjacent exactly once across the n rows."""
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(m + r) % n for m in first] for r in range(n)]
    if n % 2:  # odd n needs the mirrored rows too
        rows += [row[::-1] for row in rows]
    return rows


class HandLoop:
    """What a person writes by hand on the same compiled model, data and optimizer."""

    def __init__(self, doc, data, seed: int):
        torch.manual_seed(seed)
        s = dict(doc.training)
        trainer = Trainer(doc, data, overrides={"steps": 1, "device": "cpu"})  # the same prepared tensors
        self.x, self.y = trainer.x_train, trainer.y_train
        self.model = compile_graph(doc, "cpu").model
        self.model.load_state_dict(trainer.model.state_dict())
        self.loss_fn = trainer.loss_fn
        lr, wd = float(s.get("lr", 1e-3)), float(s.get("weight_decay", 0.0))
        if s.get("optimizer", "adam") == "sgd":
            self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=float(s.get("momentum", 0.0)),
                                       weight_decay=wd)
        else:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=lr, weight_decay=wd)
        self.clip = s.get("clip_norm")
        self.batch = min(int(s.get("batch_size", 32)), len(self.x))
        self.gen = torch.Generator().manual_seed(seed)
        self.perm, self.pos = None, len(self.x)

    def train_step(self):
        if self.pos + self.batch > len(self.x):
            self.perm, self.pos = torch.randperm(len(self.x), generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.x.index_select(0, idx)), self.y.index_select(0, idx))
        loss.backward()
        loss.item()  # the trainer reads every loss too (to stop a NaN before it reaches the weights)
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()

    def flush(self):
        pass

    def close(self):
        pass


class Run:
    """One trainer, driven block by block. Probed runs record as the app's worker does: a
    SessionRecorder (the training scalars; commits every 0.2 s on the writer's background
    thread) beside the ProbeSet (basic_scalars=False). ``settings`` None: no probes, and
    no recording either unless ``recorded``."""

    def __init__(self, doc, data, settings: dict | None, tmp: Path, recorded: bool | None = None):
        self.writer = self.probes = self.recorder = None
        callbacks = []
        if recorded is None:
            recorded = settings is not None
        if recorded:
            tmp.mkdir(parents=True, exist_ok=True)
            self.writer = SessionWriter(tmp / "run.session", doc.to_dict(), dict(doc.training))
            self.recorder = SessionRecorder(self.writer, background=True, checkpoint_at_end=False)
            callbacks.append(self.recorder)
        if settings is not None:
            self.probes = ProbeSet(self.writer, ProbeSettings(**settings), basic_scalars=False)
            callbacks.append(self.probes)
        self.trainer = Trainer(doc, data, overrides={"steps": 10 ** 9, "device": "cpu", "val_every": 10 ** 9},
                               callbacks=callbacks)
        self.trainer._t_last = time.perf_counter()
        for cb in callbacks:
            cb.on_start(self.trainer)
        if self.probes is not None:
            self.probes.wait_ready()

    def train_step(self):
        self.trainer.train_step()

    def flush(self):
        if self.probes is not None:
            self.probes.flush()

    def close(self):
        if self.probes is not None:
            self.probes.flush()
            self.probes.close()
        if self.recorder is not None:
            self.recorder.commit(wait=True)
            self.writer.close()


class SharedRun(Run):
    """``--same-trainer``: one trainer in every trainer mode, switched between blocks: its
    callbacks (none for bare, the recorder for recorded, the recorder and the ProbeSet for
    the others) and the ProbeSet's rates (``configure``, as the window changes them while a
    run goes on). Two trainers differ by up to a few % where their tensors landed in
    memory; one trainer compared with itself does not."""

    def __init__(self, doc, data, tmp: Path):
        super().__init__(doc, data, {}, tmp)
        self.mode = "defaults"
        self.closed = False

    def close(self):
        if not self.closed:  # each mode's view closes it
            self.closed = True
            super().close()

    def use(self, mode: str) -> None:
        t = self.trainer
        self.flush()
        if mode == "bare":
            t.callbacks, t.step_log = [], None
        else:
            t.callbacks, t.step_log = [self.recorder] if mode == "recorded" else [self.recorder, self.probes], \
                self.recorder._steps
        if mode != self.mode:
            # Without probes they measure nothing: a step armed by the last mode would keep
            # its taps on the layers through the next block.
            rates = {k: ProbeSettings().to_dict()[k] for k in ("stats_every", "heavy_every", "heavy_hz", "dense")}
            self.probes.configure(**{**rates, **PROBED.get(mode, OFF)})
            self.mode = mode
        assert mode in PROBED or not self.probes.stats.armed
        t.wake()


class Switched:
    """A SharedRun seen in one mode (what :func:`block` drives), with the captures and
    statistics of its own blocks (``probes``, for the report)."""

    def __init__(self, shared: SharedRun, mode: str):
        self.shared, self.mode, self.trainer = shared, mode, shared.trainer
        self.capture_mode, self.errors = "inline", []
        self.captured: dict[str, int] = {}
        self.measured: dict[str, int] = {}
        self.probes = self if mode in PROBED else None
        self._before: tuple = ({}, {})

    def start(self) -> None:
        self.shared.use(self.mode)
        p = self.shared.probes
        self._before = (dict(p.captured), dict(p.measured))

    def train_step(self):
        self.shared.train_step()

    def flush(self):
        self.shared.flush()
        p = self.shared.probes
        self.capture_mode, self.errors = p.capture_mode, list(p.errors)
        for mine, now, before in zip((self.captured, self.measured), (p.captured, p.measured), self._before):
            for name, n in now.items():
                mine[name] = mine.get(name, 0) + n - before.get(name, 0)
        self._before = (dict(p.captured), dict(p.measured))

    def close(self):
        self.shared.close()


def block(run, seconds: float) -> tuple[float, float, float]:
    """(steps per wall second, per CPU second of this process, per CPU second of the
    training thread) over ~``seconds``. The training thread's CPU time is the steadiest
    measure of the training path's own cost when other programs compete for the cores."""
    if isinstance(run, Switched):
        run.start()
    cpu, start, mine = time.process_time(), time.perf_counter(), time.thread_time()
    if hasattr(run, "trainer"):
        run.trainer._t_last = start
    steps = 0
    while True:
        run.train_step()
        steps += 1
        now = time.perf_counter()
        if now - start >= seconds:
            wall = steps / (now - start)
            cpu_s, own = time.process_time() - cpu, time.thread_time() - mine
            run.flush()
            return wall, steps / cpu_s if cpu_s > 0 else float("nan"), steps / own if own > 0 else float("nan")


def measure(key: str, modes: list[str], rounds: int, seconds: float, instances: int = 2,
            same_trainer: bool = False) -> dict:
    title, template = TEMPLATES[key]
    doc = load_graph(ROOT / "assets" / "templates" / template)
    data = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    seed = int(doc.training.get("seed", 0))
    with tempfile.TemporaryDirectory() as tmp:
        # Several trainers per mode, built in turn, their blocks alternating: one trainer's
        # speed also depends on where its tensors landed in memory (two identical trainers
        # differ by up to ~3 %), which more rounds do not average out. --same-trainer: one
        # trainer per instance serves every trainer mode.
        runs = {m: [] for m in modes}
        for i in range(instances):
            shared = SharedRun(doc, data, Path(tmp) / f"shared{i}") if same_trainer else None
            for m in modes:
                runs[m].append(HandLoop(doc, data, seed) if m == "loop" else
                               Switched(shared, m) if shared is not None else
                               Run(doc, data, None, Path(tmp) / f"{m}{i}", recorded=True) if m == "recorded" else
                               Run(doc, data, PROBED.get(m), Path(tmp) / f"{m}{i}"))
        for r in (r for rs in runs.values() for r in rs):  # warm-up: allocator, oneDNN kernels, the dense start
            for _ in range(30):
                r.train_step()
            block(r, seconds / 2)
        wall = {m: [] for m in modes}
        cpu = {m: [] for m in modes}
        thread = {m: [] for m in modes}
        square = williams(len(modes))
        for i in range(rounds):
            for k in square[i % len(square)]:
                m = modes[k]
                w, c, t = block(runs[m][len(wall[m]) % instances], seconds)
                wall[m].append(w)
                cpu[m].append(c)
                thread[m].append(t)
        info = {}
        for m, rs in runs.items():
            for r in rs:
                p = getattr(r, "probes", None)
                if p is not None:
                    i = info.setdefault(m, {"mode": p.capture_mode, "captured": {}, "errors": [], "measured": {}})
                    for what, counts in (("captured", p.captured), ("measured", p.measured)):
                        for name, n in counts.items():
                            i[what][name] = i[what].get(name, 0) + n
                    i["errors"] += p.errors
                r.close()
    paired = {m: statistics.median(a / b for a, b in zip(v, wall["bare"])) for m, v in wall.items()} \
        if "bare" in wall else {}
    return {"key": key, "title": title, "wall": {m: statistics.median(v) for m, v in wall.items()}, "paired": paired,
            "cpu": {m: statistics.median(v) for m, v in cpu.items()}, "info": info,
            "thread": {m: statistics.median(v) for m, v in thread.items()},
            "spread": {m: (min(v), max(v)) for m, v in wall.items()}}


def report(r: dict, modes: list[str]) -> list[str]:
    w, c = r["wall"], r["cpu"]
    lines = [f"{r['title']} ({r['key']})"]
    for m in modes:
        parts = [f"  {m:<9} {w[m]:8.1f} steps/s"]
        if "bare" in w:
            parts.append(f"x bare {w[m] / w['bare']:.3f} (paired {r['paired'][m]:.3f})")
        if "recorded" in w:
            parts.append(f"x recorded {w[m] / w['recorded']:.3f}")
        if "loop" in w:
            parts.append(f"x loop {w[m] / w['loop']:.3f}")
        if "bare" in c:
            t = r["thread"]
            parts.append(f"| CPU time x bare: process {c[m] / c['bare']:.3f}, training thread "
                         f"{t[m] / t['bare']:.3f}")
        lo, hi = r["spread"][m]
        parts.append(f"| blocks {lo:.1f}-{hi:.1f}")
        info = r["info"].get(m)
        if info:
            measured = info["measured"]
            share = measured["helper"] / max(1, sum(measured.values()))
            parts.append(f"| captures {info['mode']} {sum(info['captured'].values())}, statistics in the "
                         f"helper {100 * share:.0f} %" + (f" ERRORS {info['errors']}" if info["errors"] else ""))
        lines.append("  ".join(parts))
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=14, help="blocks per mode (a multiple of the mode count, twice it "
                    "if odd, is balanced)")
    ap.add_argument("--block", type=float, default=0.75, help="seconds per block")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--instances", type=int, default=2, help="trainers per mode, their blocks alternating")
    ap.add_argument("--same-trainer", action="store_true", help="one trainer per instance in every trainer "
                    "mode (callbacks and rates switched between blocks), where two trainers differ by where their "
                    "tensors landed in memory")
    ap.add_argument("--only", help="comma-separated templates: " + ",".join(TEMPLATES))
    ap.add_argument("--modes", help="comma-separated modes: " + ",".join(MODES))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "probe_overhead.txt"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    keys = args.only.split(",") if args.only else list(TEMPLATES)
    modes = args.modes.split(",") if args.modes else MODES
    lines = [f"# Probe overhead at equal coverage ({time.strftime('%Y-%m-%d %H:%M')}): steps/s medians, "
             f"ratios to the bare trainer, to the recorded trainer without probes and to a hand-written loop",
             f"# {args.rounds} blocks per mode of ~{args.block:g} s in balanced (Williams) order, alternating "
             f"between {args.instances} trainers " + ("(each in every trainer mode, switched between blocks)"
                                                      if args.same_trainer else "per mode") + "; CPU, "
             f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), {os.cpu_count()} cores; "
             f"load average at start {os.getloadavg()[0]:.2f}",
             f"# defaults: {ProbeSettings().to_dict()}",
             "# stats: statistics every step; heavy: a capture every 10 steps; both: the two together", ""]
    print("\n".join(lines), flush=True)
    for key in keys:
        out = report(measure(key, modes, args.rounds, args.block, args.instances, args.same_trainer), modes)
        print("\n".join(out), flush=True)
        lines += out
    lines.append(f"# load average at the end {os.getloadavg()[0]:.2f}")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
