"""Benchmark of the session store on a ~1 GB session.

Writes a realistic run (≈50 scalars every step; every 4th step a probe capture of feature
maps, LSTM gates and histograms; a checkpoint every 1000 steps), then measures what the
GUI pays: opening the file (target ≤ 200 ms) and reading everything shown at one random
step, tensors_at + scalars_at (target ≤ 20 ms, median over random steps). Also the
writer's throughput. The file lives under /tmp and is deleted afterwards.

    .venv/bin/python bench/session_store.py [--gb 1.0] [--keep]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.session import SessionReader, SessionWriter  # noqa: E402

LAYERS = ["c1", "c2", "c3", "c4", "l1", "l2", "fc1", "fc2", "fc3", "out"]
SCALARS = (["train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr", "grad_norm",
            "step_time", "samples_per_s"]
           + [f"layer/{n}/{q}" for n in LAYERS for q in ("grad_norm", "weight_norm", "update_ratio", "dead_fraction",
                                                         "act_mean")][:42])
OPEN_TARGET_MS, STEP_TARGET_MS = 200.0, 20.0


def heavy_records(rng) -> dict[str, np.ndarray]:
    """One probe capture: ReLU maps, LSTM internals, filters and histograms."""
    relu = lambda *s: np.maximum(rng.standard_normal(s), 0).astype(np.float32)  # noqa: E731
    mostly_dead = np.maximum(rng.standard_normal((8, 64, 7, 7)) - 1.3, 0).astype(np.float32)
    recs = {"feature_maps/c1": relu(8, 16, 28, 28), "feature_maps/c2": relu(8, 32, 14, 14),
            "feature_maps/c3": mostly_dead,  # ~90 % zeros: the one the writer compresses
            "lstm/l1/gates": rng.standard_normal((4, 8, 64, 20)).astype(np.float32),
            "lstm/l1/cell": rng.standard_normal((8, 64, 20)).astype(np.float32),
            "rnn/l1/dh_dt": rng.standard_normal((64, 20)).astype(np.float32),
            "filters/c1": rng.standard_normal((16, 1, 5, 5)).astype(np.float32)}
    for n in LAYERS:
        recs[f"act_hist/{n}"] = rng.integers(0, 1000, 64).astype(np.int64)
        recs[f"weight_hist/{n}"] = rng.integers(0, 1000, 64).astype(np.int64)
    return recs


def write_session(path: Path, target_bytes: int) -> dict:
    rng = np.random.default_rng(0)
    captures = [heavy_records(rng) for _ in range(4)]   # reused: generating noise is not the point
    weights = {f"{n}.weight": rng.standard_normal((128, 128)).astype(np.float32) for n in LAYERS}
    graph = {"name": "bench", "nodes": [{"id": n, "type": "Linear"} for n in LAYERS], "edges": []}
    w = SessionWriter(path, graph, {"lr": 0.01}, {"name": "synthetic"}, overwrite=True)
    w.probe_batch(rng.standard_normal((8, 1, 28, 28)).astype(np.float32), np.arange(8))
    records = 0
    step = 0
    t0 = time.perf_counter()
    while True:
        for name in SCALARS:
            w.scalar(name, step, 1.0 / (step + 1))
        records += len(SCALARS)
        if step % 4 == 0:
            for name, arr in captures[step // 4 % 4].items():
                w.tensor(name, step, arr)
            records += len(captures[0])
        if step % 1000 == 0:
            w.checkpoint(step, weights)
            w.event("checkpoint", step, f"checkpoint at step {step}")
        if step % 10 == 9:  # the worker commits ~every 0.2 s, i.e. every few steps
            w.commit()
            if step % 200 == 199 and path.stat().st_size > target_bytes:
                break
        step += 1
    w.event("finish", step, "done")
    w.close()
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    return {"steps": step + 1, "records": records, "seconds": seconds, "bytes": size}


def scalar_throughput(tmp: Path, n: int = 200_000) -> float:
    """scalar() calls per second including commits every 500 records (~0.2 s of a fast run)."""
    w = SessionWriter(tmp, {}, {}, overwrite=True)
    t0 = time.perf_counter()
    for i in range(n):
        w.scalar(SCALARS[i % len(SCALARS)], i // len(SCALARS), 0.5)
        if i % 500 == 499:
            w.commit()
    w.close()
    rate = n / (time.perf_counter() - t0)
    tmp.unlink()
    return rate


def median_ms(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="Keep the session file.")
    args = parser.parse_args()
    path = Path("/tmp/neurostudio-bench.session")
    try:
        info = write_session(path, int(args.gb * 1e9))
        mb = info["bytes"] / 1e6
        print(f"wrote {mb:.0f} MB, {info['steps']} steps, {info['records']} records in "
              f"{info['seconds']:.1f} s: {info['records'] / info['seconds']:.0f} records/s, "
              f"{mb / info['seconds']:.0f} MB/s")
        rate = scalar_throughput(Path("/tmp/neurostudio-bench-scalars.session"))
        print(f"scalar() alone: {rate:.0f} records/s")

        def open_it():
            with SessionReader(path) as r:
                r.graph, r.settings, r.last_step, r.scalar_names(), r.tensor_names()

        t0 = time.perf_counter()
        open_it()
        first_open = (time.perf_counter() - t0) * 1000
        open_med, open_p90 = median_ms(open_it, 30)
        print(f"open: first {first_open:.1f} ms, median {open_med:.1f} ms, p90 {open_p90:.1f} ms "
              f"(target {OPEN_TARGET_MS:.0f} ms: {open_med / OPEN_TARGET_MS:.3f} of target)")

        rng = random.Random(0)
        with SessionReader(path) as r:
            last = r.last_step
            step_med, step_p90 = median_ms(lambda: (r.tensors_at(rng.randrange(last + 1)),
                                                    r.scalars_at(rng.randrange(last + 1))), 300)
            n_t = len(r.tensors_at(last))
            nbytes = sum(a.nbytes for _, a in r.tensors_at(last).values())
            print(f"one step (tensors_at + scalars_at: {n_t} arrays, {nbytes / 1e6:.2f} MB, "
                  f"{len(r.scalars_at(last))} scalars): median {step_med:.2f} ms, p90 "
                  f"{step_p90:.2f} ms (target {STEP_TARGET_MS:.0f} ms: "
                  f"{step_med / STEP_TARGET_MS:.3f} of target)")
            sc_med, _ = median_ms(lambda: r.scalar(rng.choice(SCALARS)), 30)
            print(f"one whole scalar series ({last + 1} points): median {sc_med:.2f} ms")
            cp_med, _ = median_ms(lambda: r.checkpoint(rng.choice(r.checkpoint_steps())), 10)
            print(f"one checkpoint (10 x 128x128 float32): median {cp_med:.2f} ms")
    finally:
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
