"""Replay benchmark: a ~1 GB session open in the main window with every view rendering,
the timeline moved to random steps.

The session is synthetic but realistic: the record names, shapes and dtypes are those of
two real short runs recorded with the probes (LeNet on shapes: feature maps, filters,
activation histograms, layer statistics, confusion, predictions; the a^n b^n LSTM: gates,
hidden states, gradients through time), merged into one graph (LeNet plus the LSTM node),
and written with SessionWriter over many steps: every scalar every step, a heavy capture
every 4 steps (the real arrays with fresh noise), a checkpoint every 1000 steps.

Measured: opening (open_session: checks + first render), then for random steps the time
from timeline.seek to every view having drawn (ViewHub.render_now: each view's show_step;
plus processing the paint events of the visible ones), median and p90 (target: median
<= 50 ms), and the process RSS before and after the random seeks (bounded: views load the
records they show, not the file).

    .venv/bin/python bench/replay_timeline.py [--gb 1.0] [--seeks 200] [--keep] [--out FILE]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

from engine.session import SessionReader, SessionWriter  # noqa: E402

TARGET_MS = 50.0
HEAVY_EVERY = 4


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def real_runs(folder: Path) -> dict[str, Path]:
    """Two short real runs whose records give the names, shapes and dtypes."""
    import torch

    from engine.data import load_dataset
    from engine.probes import ProbeSet, ProbeSettings
    from engine.templates import load_template
    from engine.train import Trainer
    torch.set_num_threads(1)
    out = {}
    for key, template in (("cnn", "lenet"), ("lstm", "anbn_lstm")):
        doc = load_template(template)
        ds = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
        path = folder / f"{key}.session"
        w = SessionWriter(path, doc.to_dict(), {}, dataclasses.asdict(ds.info), overwrite=True)
        probes = ProbeSet(w, ProbeSettings(heavy_every=2))
        Trainer(doc, ds, overrides={"steps": 4, "val_every": 2, "device": "cpu"}, callbacks=[probes]).run()
        w.close()
        out[key] = path
    return out


def templates(runs: dict[str, Path]):
    """(graph, dataset_info, probe batch, scalar names, heavy records) of the merged run."""
    with SessionReader(runs["cnn"]) as cnn, SessionReader(runs["lstm"]) as lstm:
        graph = dict(cnn.graph)
        lstm_node = next(n for n in lstm.graph["nodes"] if n["id"] == "lstm")
        graph["nodes"] = list(graph["nodes"]) + [dict(lstm_node, position=[900, 400])]
        graph["name"] = "replay benchmark (LeNet + LSTM)"
        heavy = {n: a for n, (_, a) in cnn.tensors_at(cnn.last_step).items()}
        heavy.update({n: a for n, (_, a) in lstm.tensors_at(lstm.last_step).items()
                      if "/lstm/" in n or n.startswith(("lstm/", "rnn/", "bptt/"))})
        scalars = sorted(set(cnn.scalar_names()) | set(lstm.scalar_names())
                         | {"train/loss", "val/loss", "train/accuracy", "val/accuracy", "lr", "grad_norm"})
        return graph, cnn.dataset_info, cnn.probe_batch(), scalars, heavy


def jitter(arrays: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    out = {}
    for name, a in arrays.items():
        if a.dtype.kind == "f" and a.size > 16:
            out[name] = (a * (1 + 0.05 * rng.standard_normal(a.shape))).astype(a.dtype)
        else:
            out[name] = a
    return out


def write_session(path: Path, target_bytes: int, parts) -> dict:
    graph, info, probe, scalars, heavy = parts
    rng = np.random.default_rng(0)
    variants = [jitter(heavy, rng) for _ in range(6)]  # generating noise is not what we measure
    weights = {f"w{i}": rng.standard_normal((128, 128)).astype(np.float32) for i in range(8)}
    w = SessionWriter(path, graph, {"lr": 0.01}, info, overwrite=True)
    w.probe_batch(*probe)
    t0 = time.perf_counter()
    step = 0
    while True:
        for k, name in enumerate(scalars):
            w.scalar(name, step, float(np.exp(-step / 5000) + 0.01 * k + 0.001 * (step % 7)))
        if step % HEAVY_EVERY == 0:
            for name, arr in variants[step // HEAVY_EVERY % len(variants)].items():
                w.tensor(name, step, arr)
        if step % 1000 == 0:
            w.checkpoint(step, weights)
            w.event("checkpoint", step, f"Checkpoint at step {step}.")
        if step % 20 == 19:
            w.commit()
            if step % 400 == 399 and path.stat().st_size > target_bytes:
                break
        step += 1
    w.event("finish", step, f"Finished {step} steps.")
    w.close()
    return {"steps": step + 1, "seconds": time.perf_counter() - t0, "bytes": path.stat().st_size}


def measure(path: Path, seeks: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    os.environ["NEUROSTUDIO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="ns-bench-config-")
    from PySide6.QtWidgets import QApplication

    from visualizer.dialogs import HeadlessDialogs
    from visualizer.main_window import MainWindow
    app = QApplication.instance() or QApplication([])
    window = MainWindow(dialogs=HeadlessDialogs(), restore_layout=False)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    from visualizer import heap
    heap.settle()  # as visualizer/app.py does once the window is up
    rss_window = rss_mb()
    t0 = time.perf_counter()
    assert window.open_session(str(path)), "the session did not open"
    app.processEvents()
    open_ms = (time.perf_counter() - t0) * 1000
    hub = window.hub
    hub.render_hidden = True  # the tabbed docks are hidden: render every view anyway
    nodes = {"Activations": "t1", "Feature maps": "c1", "Gradients through time": "lstm", "Gates": "lstm"}
    for view in window.views.values():
        if view.title in nodes:
            view.set_node(nodes[view.title], next(n["type"] for n in window.reader.graph["nodes"]
                                                  if n["id"] == nodes[view.title]))
    last = window.reader.last_step
    t0 = time.perf_counter()
    window.timeline.seek(last // 2)
    hub.render_now()
    first_ms = (time.perf_counter() - t0) * 1000
    rss_before = rss_mb()
    rng = random.Random(0)
    render, with_paint = [], []
    per_view: dict[str, list[float]] = {v.title: [] for v in window.views.values()}
    for i in range(seeks):
        step = rng.randrange(last + 1)
        t0 = time.perf_counter()
        window.timeline.seek(step)
        for v in hub.views:  # what ViewHub._render does, timed per view
            t1 = time.perf_counter()
            v.show_step(step)
            per_view[v.title].append((time.perf_counter() - t1) * 1000)
        hub._dirty = False  # drawn: the hub's timer must not draw it a second time
        hub.rendered.emit(step)
        render.append((time.perf_counter() - t0) * 1000)
        app.processEvents()  # paint what is visible
        with_paint.append((time.perf_counter() - t0) * 1000)
    rss_after = rss_mb()
    out = {"open_ms": open_ms, "first_ms": first_ms, "render": render, "paint": with_paint,
           "per_view": per_view, "rss_window": rss_window, "rss_before": rss_before, "rss_after": rss_after,
           "last_step": last, "drawn": {v.title: getattr(v, "step", None) for v in hub.views}}
    window.shutdown_run()
    window.autosaver.discard()
    return out


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--seeks", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the session file")
    parser.add_argument("--out", help="also write the report to this file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ns-replay-bench-"))
    path = folder / "replay-bench.session"
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    try:
        parts = templates(real_runs(folder))
        info = write_session(path, int(args.gb * 1e9), parts)
        n_heavy = len(parts[4])
        say(f"session: {info['bytes'] / 1e6:.0f} MB, {info['steps']} steps, {len(parts[3])} scalars every "
            f"step, {n_heavy} tensor records every {HEAVY_EVERY} steps "
            f"({sum(a.nbytes for a in parts[4].values()) / 1e6:.2f} MB per capture); written in "
            f"{info['seconds']:.0f} s")
        m = measure(path, args.seeks)
        say(f"open_session (checks, graph, first render): {m['open_ms']:.0f} ms; first seek with the "
            f"chosen nodes (history series loaded): {m['first_ms']:.0f} ms")
        med, p90 = statistics.median(m["render"]), pct(m["render"], 0.9)
        say(f"random seek -> every view drawn ({len(m['render'])} seeks, all {len(m['per_view'])} views): "
            f"median {med:.1f} ms, p90 {p90:.1f} ms, max {max(m['render']):.1f} ms "
            f"(target median {TARGET_MS:.0f} ms: {'met' if med <= TARGET_MS else 'MISSED'})")
        say(f"  including painting the visible widgets: median {statistics.median(m['paint']):.1f} ms, "
            f"p90 {pct(m['paint'], 0.9):.1f} ms")
        for title, times in m["per_view"].items():
            say(f"  {title:<24} median {statistics.median(times):6.2f} ms  p90 {pct(times, 0.9):6.2f} ms")
        say(f"RSS: window {m['rss_window']:.0f} MB; after opening and the first seek {m['rss_before']:.0f} MB; "
            f"after {len(m['render'])} random seeks {m['rss_after']:.0f} MB "
            f"(growth {m['rss_after'] - m['rss_before']:+.0f} MB; file {info['bytes'] / 1e6:.0f} MB)")
    finally:
        if not args.keep:
            for p in folder.glob("*"):
                p.unlink()
            folder.rmdir()
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
