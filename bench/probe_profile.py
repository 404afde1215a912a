"""Where the probes' time goes: one trainer per template with statistics every step and a
heavy capture every 10 steps (the "both" mode of bench/probe_overhead.py), run under
torch.profiler with every probe entry point labelled, next to the same trainer without
probes. Prints milliseconds per training step by phase and the torch ops that cost most
inside the probes.

    .venv/bin/python bench/probe_profile.py [--steps 200] [--threads 1] [--only lenet]

Labels are attached from outside (wrapping the ProbeSet's callbacks, its statistics and
capture objects and the session writer), so the same script profiles any version of
engine/probes. The profiler adds a few microseconds per op: the absolute numbers are
inflated, the split between phases is what to read.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile, record_function  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.graph.document import load_graph  # noqa: E402
from engine.probes import ProbeSet, ProbeSettings  # noqa: E402
from engine.session import SessionWriter  # noqa: E402
from engine.train import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = {"lenet": "lenet.json", "resnet20": "resnet.json", "lstm": "lstm_classifier.json",
             "anbn": "anbn_lstm.json"}
BOTH = dict(stats_every=1, stats_budget=1.0, heavy_every=10, heavy_budget=1.0)

# (object attribute path, method) -> label; missing ones are skipped (other versions).
WRAP = [("probes", "on_after_backward"), ("probes", "on_step_end"),
        ("probes.stats", "after_backward"), ("probes.stats", "collect"), ("probes.stats", "finish"),
        ("probes.stats", "named"), ("probes", "_write_stats"), ("probes", "_finish_stats"),
        ("probes", "_drain_stats"), ("probes", "_capture"), ("probes", "_collect"),
        ("probes.capture", "run"), ("probes._offpath", "submit"), ("probes._offpath", "poll"),
        ("probes.diagnostician", "check_step"),
        ("writer", "commit"), ("writer", "tensor"), ("writer", "encoded_tensor"), ("writer", "scalar"),
        ("writer", "scalars")]


class Timer:
    """CPU seconds of the calling thread per label (nested labels are counted in their
    parents too): steadier than wall time when other programs share the cores."""

    def __init__(self):
        self.total = defaultdict(float)
        self.calls = defaultdict(int)

    def wrap(self, obj, name: str, label: str):
        fn = getattr(obj, name)

        def timed(*a, **k):
            t0 = time.thread_time()
            with record_function(label):
                try:
                    return fn(*a, **k)
                finally:
                    self.total[label] += time.thread_time() - t0
                    self.calls[label] += 1
        setattr(obj, name, timed)


def _resolve(root: dict, path: str):
    obj = root[path.split(".")[0]]
    for part in path.split(".")[1:]:
        obj = getattr(obj, part, None)
    return obj


def build(template: str, tmp: Path, probed: bool, timer: Timer | None):
    doc = load_graph(ROOT / "assets" / "templates" / template)
    data = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    writer = probes = None
    callbacks = []
    if probed:
        writer = SessionWriter(tmp / "run.session", doc.to_dict(), dict(doc.training))
        writer.commit_in_background()  # as the worker records
        probes = ProbeSet(writer, ProbeSettings(**BOTH))
        callbacks.append(probes)
    trainer = Trainer(doc, data, overrides={"steps": 10 ** 9, "device": "cpu", "val_every": 10 ** 9},
                      callbacks=callbacks)
    trainer._t_last = time.perf_counter()
    for cb in callbacks:
        cb.on_start(trainer)
    if probes is not None:
        probes.wait_ready()  # measure the steady state, helper process up
    if probed and timer is not None:
        root = {"probes": probes, "writer": writer}
        for path, name in WRAP:
            obj = _resolve(root, path)
            if obj is not None and callable(getattr(obj, name, None)):
                timer.wrap(obj, name, f"{path}.{name}")
    return trainer, probes, writer


def run_steps(trainer, writer, steps: int) -> float:
    """The training thread's CPU seconds for ``steps`` steps."""
    last = time.perf_counter()
    t0 = time.thread_time()
    for _ in range(steps):
        with record_function("train_step"):
            trainer.train_step()
        if writer is not None and time.perf_counter() - last >= 0.2:
            writer.commit()
            last = time.perf_counter()
    if writer is not None:
        for cb in trainer.callbacks:
            if hasattr(cb, "flush"):
                cb.flush()
        writer.commit()
    return time.thread_time() - t0


def profile_template(key: str, steps: int, top: int) -> list[str]:
    lines = [f"== {key} ({TEMPLATES[key]}), {steps} steps, stats every step + capture every 10 =="]
    with tempfile.TemporaryDirectory() as tmp:
        bare, _, _ = build(TEMPLATES[key], Path(tmp) / "a", False, None)
        timer = Timer()
        probed, probes, writer = build(TEMPLATES[key], Path(tmp) / "b", True, timer)
        for t, w in ((bare, None), (probed, writer)):
            run_steps(t, w, 20)  # warm-up
        timer.total.clear()
        timer.calls.clear()
        wall_bare = run_steps(bare, None, steps)
        wall_probed = run_steps(probed, writer, steps)
        lines.append(f"training thread CPU (no profiler): bare {1e3 * wall_bare / steps:.3f} ms/step, probed "
                     f"{1e3 * wall_probed / steps:.3f} ms/step, ratio {wall_bare / wall_probed:.3f}")
        for label in sorted(timer.total, key=lambda k: -timer.total[k]):
            lines.append(f"  {label:<36} {1e3 * timer.total[label] / steps:8.3f} ms/step "
                         f"({timer.calls[label]} calls)")
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run_steps(probed, writer, steps)
        if probes is not None and getattr(probes, "errors", None):
            lines.append(f"  PROBE ERRORS: {probes.errors}")
        if writer is not None:
            writer.close()
    # The ops that cost most inside the probes (self CPU time under a probe label).
    probe_ops = defaultdict(lambda: [0.0, 0])
    labels = {f"{p}.{n}" for p, n in WRAP}
    events = prof.events()
    by_id = {e.id: e for e in events}
    for e in events:
        if e.name in labels or e.name == "train_step":
            continue
        parent, inside = e.cpu_parent, False
        while parent is not None:
            if parent.name in labels:
                inside = True
                break
            parent = parent.cpu_parent if parent.id in by_id else None
        if inside:
            probe_ops[e.name][0] += e.self_cpu_time_total
            probe_ops[e.name][1] += 1
    total = sum(v[0] for v in probe_ops.values())
    lines.append(f"  torch ops inside probe calls (profiled): {total / 1e3 / steps:.3f} ms/step of self CPU time; top:")
    for name, (us, n) in sorted(probe_ops.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"    {name:<40} {us / 1e3 / steps:7.3f} ms/step  {n / steps:6.1f} calls/step")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the app's worker uses 1 here)")
    ap.add_argument("--only", choices=sorted(TEMPLATES))
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    for key in TEMPLATES:
        if args.only and key != args.only:
            continue
        print("\n".join(profile_template(key, args.steps, args.top)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
