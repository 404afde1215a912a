"""Probe overhead: training throughput with every probe at default settings vs no probes.

Same network, same data, same starting weights: two Trainers built from one template
with one seed, one bare and one with a ProbeSet writing to a session file (committed
every 0.2 s, as the worker does). They train in interleaved blocks of ~BLOCK seconds in
a balanced order (ABBA BAAB ...: each mode follows each other mode equally often), and
the medians of steps/s are compared (../shared/ENVIRONMENT.md: single runs vary by
±5-10 % here). Run: .venv/bin/python bench/probe_overhead.py [--rounds 24] [--block 1.0]
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

from engine.data import load_dataset  # noqa: E402
from engine.graph.document import load_graph  # noqa: E402
from engine.probes import ProbeSet, ProbeSettings  # noqa: E402
from engine.session import SessionWriter  # noqa: E402
from engine.train import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = {"LeNet (shapes)": "lenet.json", "LSTM classifier (parity)": "lstm_classifier.json"}


class Run:
    """One trainer, driven block by block."""

    def __init__(self, doc, data, probes: bool, tmp: Path):
        self.writer = None
        callbacks = []
        if probes:
            self.writer = SessionWriter(tmp / "run.session", doc.to_dict(), dict(doc.training))
            callbacks.append(ProbeSet(self.writer, ProbeSettings()))
        self.trainer = Trainer(doc, data, overrides={"steps": 10 ** 9, "device": "cpu"},
                               callbacks=callbacks)
        self.trainer._t_last = time.perf_counter()
        for cb in callbacks:
            cb.on_start(self.trainer)
        self._last_commit = time.perf_counter()

    def block(self, seconds: float) -> tuple[float, float]:
        """Train for about ``seconds``; return (steps per wall second, steps per CPU second).
        CPU time (this process, all threads) is the steadier measure when other processes
        compete for the cores: waiting for a core costs wall time, not CPU time."""
        t = self.trainer
        cpu = time.process_time()
        t._t_last = start = time.perf_counter()
        steps = 0
        while True:
            t.train_step()
            steps += 1
            now = time.perf_counter()
            if self.writer is not None and now - self._last_commit >= 0.2:
                self.writer.commit()
                self._last_commit = time.perf_counter()
            if now - start >= seconds:
                return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)

    def close(self):
        if self.writer is not None:
            self.writer.commit()
            self.writer.close()


def balanced_order(rounds: int) -> list[int]:
    """0 = bare, 1 = probes: ABBA BAAB repeated, so each mode precedes each other equally."""
    unit = [0, 1, 1, 0, 1, 0, 0, 1]
    return (unit * (rounds // 4 + 1))[:2 * rounds]


def measure(name: str, template: str, rounds: int, block: float) -> dict:
    doc = load_graph(ROOT / "assets" / "templates" / template)
    data = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [Run(doc, data, False, Path(tmp) / "bare"), Run(doc, data, True, Path(tmp) / "probes")]
        for r in runs:  # warm-up: the first steps of a kernel are slow (allocator, oneDNN)
            for _ in range(30):
                r.trainer.train_step()
            r.block(block / 2)
        rates: list[list[float]] = [[], []]
        cpu: list[list[float]] = [[], []]
        for mode in balanced_order(rounds):
            wall_rate, cpu_rate = runs[mode].block(block)
            rates[mode].append(wall_rate)
            cpu[mode].append(cpu_rate)
        probes = runs[1].trainer.callbacks[0]
        for r in runs:
            r.close()
    bare, probed = statistics.median(rates[0]), statistics.median(rates[1])
    cbare, cprobed = statistics.median(cpu[0]), statistics.median(cpu[1])
    return {"name": name, "bare": bare, "probes": probed, "ratio": probed / bare,
            "cpu_bare": cbare, "cpu_probes": cprobed, "cpu_ratio": cprobed / cbare,
            "rounds": rounds, "errors": probes.errors, "settings": probes.settings.to_dict()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=24)
    ap.add_argument("--block", type=float, default=1.0, help="seconds per block")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--only", choices=sorted(TEMPLATES), help="measure one template only")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "probe_overhead.txt"))
    args = ap.parse_args(argv)
    if args.threads:
        __import__("torch").set_num_threads(args.threads)
    load = os.getloadavg()[0]
    lines = [f"# Probe overhead: all probes at default settings vs none ({time.strftime('%Y-%m-%d %H:%M')})",
             f"# {args.rounds} interleaved rounds per mode (balanced ABBA order), ~{args.block:g} s blocks, "
             f"CPU, torch threads = {__import__('torch').get_num_threads()}; medians of steps/s; "
             f"load average at start {load:.1f} on {os.cpu_count()} cores.",
             ""]
    for name, template in TEMPLATES.items():
        if args.only and name != args.only:
            continue
        r = measure(name, template, args.rounds, args.block)
        lines.append(f"{r['name']:<26} wall: bare {r['bare']:7.1f} probes {r['probes']:7.1f} steps/s, "
                     f"ratio {r['ratio']:.3f} | CPU time: bare {r['cpu_bare']:7.1f} probes "
                     f"{r['cpu_probes']:7.1f} steps/CPU-s, ratio {r['cpu_ratio']:.3f}"
                     + (f"   PROBE ERRORS: {r['errors']}" if r["errors"] else ""))
        print(lines[-1], flush=True)
    lines += ["", f"# default probe settings: {r['settings']}",
              f"# load average at the end {os.getloadavg()[0]:.1f}"]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
