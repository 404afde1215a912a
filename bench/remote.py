"""The remote engine and data-parallel training, measured side by side.

1. Live records per second: the same recorded LeNet run (every probe every few steps, so
   records are many) trained by a local worker into a local file, and by an engine
   (`python -m engine serve`, a separate process on loopback) into a client's mirror.
   Rate = records in the session / seconds from the first commit of a step to the moment
   every record is readable here (the local file closed, or the mirror complete).
2. Bulk transfer: a late client copies the finished run from the engine (a snapshot of its
   file): records and MB per second across the link.
3. DDP: `torchrun -m engine train lenet --distributed` with 2 CPU processes (gloo) against
   1, the same batch per process: samples per second of training (the run's own clock).

Rounds interleave the modes in a balanced order (ABBA), medians are compared.

    .venv/bin/python bench/remote.py [--rounds 4] [--steps 60] [--ddp-rounds 3] [--ddp-steps 60]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.remote.remote_run import RemoteRun  # noqa: E402
from engine.templates import load_template  # noqa: E402
from engine.worker import TERMINAL, WorkerHandle  # noqa: E402

TOKEN = "bench-token-" + "b" * 24
PROBES = {"stats_every": 1, "heavy_every": 4, "capture_mode": "inline"}


def records(path) -> tuple[int, int]:
    """(rows, bytes) of records in a session file."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        n = sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("scalars", "tensors", "events", "checkpoint_tensors"))
        size = sum(db.execute(f"SELECT ifnull(sum(length(data)), 0) FROM {t}").fetchone()[0]
                   for t in ("tensors", "checkpoint_tensors"))
        return n, size
    finally:
        db.close()


def local_round(folder: Path, steps: int, seed: int) -> float:
    path = folder / f"local-{seed}.session"
    handle = WorkerHandle({"graph": load_template("lenet").to_dict(), "record": str(path), "probes": PROBES,
                           "overrides": {"steps": steps, "seed": seed, "device": "cpu"}})
    handle.start()
    first = None
    while handle.state not in TERMINAL:
        for msg in handle.poll():
            if msg["kind"] == "committed" and msg["step"] >= 1 and first is None:
                first = time.perf_counter()
        time.sleep(0.005)
    handle.join(30)
    end = time.perf_counter()
    handle.close()
    return records(path)[0] / (end - first)


def remote_round(folder: Path, address: str, steps: int, seed: int) -> tuple[float, str]:
    run = RemoteRun(address, TOKEN, folder / f"mirror-{seed}.session")
    run_id = run.start(load_template("lenet").to_dict(), "bench", probes=PROBES,
                       overrides={"steps": steps, "seed": seed, "device": "cpu"})
    first = None
    while run.state not in TERMINAL:
        for msg in run.poll(5):
            if msg["kind"] == "committed" and msg["step"] >= 1 and first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    assert run.state == "finished", run.message
    return records(run.mirror_path)[0] / (end - first), run_id


def bulk_round(folder: Path, address: str, run_id: str, i: int) -> tuple[float, float]:
    run = RemoteRun(address, TOKEN, folder / f"late-{i}.session")
    t0 = time.perf_counter()
    run.attach(run_id)
    while run.state not in TERMINAL:
        run.poll(5)
    seconds = time.perf_counter() - t0
    n, size = records(run.mirror_path)
    return n / seconds, size / seconds / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddp_round(procs: int, steps: int, seed: int) -> float:
    # one thread per process in both modes (torchrun's default for several processes): one
    # process on one core against two on two, as a node with a GPU per process would scale
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(procs),
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "engine", "train", "lenet",
           "--distributed", "--steps", str(steps), "--seed", str(seed), "--device", "cpu", "--json",
           "--set", "val_every=100000"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    batch = load_template("lenet").training["batch_size"]
    return summary["steps"] * batch * procs / summary["seconds"]


def balanced(modes: list, rounds: int) -> list:
    """ABBA...: each mode before and after the other equally often."""
    order = []
    for r in range(rounds):
        order += modes if r % 2 == 0 else modes[::-1]
    return order


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--ddp-rounds", type=int, default=3)
    ap.add_argument("--ddp-steps", type=int, default=60)
    args = ap.parse_args()
    out = []

    def say(line=""):
        print(line, flush=True)
        out.append(line)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "token").write_text(TOKEN)
        server = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", "--runs-dir",
                                   str(folder / "engine"), "--token-file", str(folder / "token")],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        address = server.stdout.readline().split(" on ")[1].split(";")[0]
        try:
            rates = {"local": [], "remote": []}
            run_ids = []
            for i, mode in enumerate(balanced(["local", "remote"], args.rounds)):
                if mode == "local":
                    rates["local"].append(local_round(folder, args.steps, i))
                else:
                    rate, run_id = remote_round(folder, address, args.steps, i)
                    rates["remote"].append(rate)
                    run_ids.append(run_id)
            bulk = [bulk_round(folder, address, run_ids[-1], i) for i in range(args.rounds)]
            sample = records(folder / "engine" / f"{run_ids[-1]}.session")
        finally:
            server.terminate()
            server.wait(30)
        ddp = {1: [], 2: []}
        for i, procs in enumerate(balanced([1, 2], args.ddp_rounds)):
            ddp[procs].append(ddp_round(procs, args.ddp_steps, i))

    loc, rem = statistics.median(rates["local"]), statistics.median(rates["remote"])
    say(f"bench/remote.py on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}); LeNet on shapes, {args.steps} steps, probes {PROBES}")
    say(f"one run: {sample[0]:,} records, {sample[1] / 1e6:.1f} MB of arrays")
    say()
    say("| measure | local | remote (loopback) | remote / local |")
    say("|---|---|---|---|")
    say(f"| live: records/s, first commit to all readable (median of {args.rounds}) | {loc:,.0f} | "
        f"{rem:,.0f} | {rem / loc:.2f} |")
    b_rec, b_mb = statistics.median(r for r, _ in bulk), statistics.median(m for _, m in bulk)
    say(f"| bulk: a finished run copied by a late client (median of {args.rounds}) | — | "
        f"{b_rec:,.0f} records/s, {b_mb:.0f} MB/s | — |")
    say()
    d1, d2 = statistics.median(ddp[1]), statistics.median(ddp[2])
    say("| DDP, LeNet, CPU gloo, batch 64 per process | 1 process | 2 processes | 2 / 1 |")
    say("|---|---|---|---|")
    say(f"| training samples/s (median of {args.ddp_rounds}) | {d1:,.0f} | {d2:,.0f} | {d2 / d1:.2f} |")
    say()
    say("rounds: local " + ", ".join(f"{r:,.0f}" for r in rates["local"]) + "; remote "
        + ", ".join(f"{r:,.0f}" for r in rates["remote"]) + "; DDP 1 " + ", ".join(f"{r:,.0f}" for r in ddp[1])
        + "; DDP 2 " + ", ".join(f"{r:,.0f}" for r in ddp[2]))
    results = ROOT / "bench" / "results" / "remote.txt"
    results.write_text("\n".join(out) + "\n")
    print(f"written to {results}")


if __name__ == "__main__":
    main()
