"""Trainer (no probes, no recording) against a hand-written plain torch loop.

Same compiled model, same data tensors on the same device, same optimizer and batch size.
Rounds are interleaved in a balanced order (ABBA...: each mode follows each other mode
equally often) and the medians of steps/s are compared. Target: ratio >= 0.97.

    .venv/bin/python bench/trainer_overhead.py [--rounds 24] [--seconds 0.6]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.data import ArrayDataset, load_dataset  # noqa: E402
from engine.graph.compile import compile_graph  # noqa: E402
from engine.templates import load_template  # noqa: E402
from engine.train import Trainer  # noqa: E402


def no_validation(data: ArrayDataset) -> ArrayDataset:
    # Both loops only train: validation is not part of the per-step cost compared here.
    empty_x, empty_y = data.x_train[:0], data.y_train[:0]
    return ArrayDataset(data.info, data.x_train, data.y_train, empty_x, empty_y)


def plain_loop(doc, x, y, batch_size, lr, seed):
    """What a person writes by hand: randperm per epoch, index, forward, backward, step."""
    torch.manual_seed(seed)
    compiled = compile_graph(doc, x.device)
    model, loss_fn = compiled.model, compiled.loss
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    state = {"perm": None, "pos": n}

    def steps(count):
        for _ in range(count):
            if state["pos"] + batch_size > n:
                state["perm"], state["pos"] = torch.randperm(n, generator=gen).to(x.device), 0
            idx = state["perm"][state["pos"]:state["pos"] + batch_size]
            state["pos"] += batch_size
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x.index_select(0, idx)), y.index_select(0, idx))
            loss.backward()
            opt.step()
        loss.item()  # wait for the device once per round, as the trainer's last step does
    return steps


def our_trainer(doc, data, batch_size, lr, seed):
    trainer = Trainer(doc, no_validation(data), {"batch_size": batch_size, "lr": lr, "seed": seed,
                                                 "optimizer": "adam", "device": "cpu", "steps": 1})

    def steps(count):
        trainer.total_steps = trainer.step + count
        trainer.run()
    return steps


def measure(name, doc, data, batch_size, rounds, seconds):
    lr, seed = 1e-3, 0
    trainer_steps = our_trainer(doc, data, batch_size, lr, seed)
    x = torch.from_numpy(np.ascontiguousarray(data.x_train))
    y = torch.from_numpy(np.ascontiguousarray(data.y_train))
    modes = {"plain": plain_loop(doc, x, y, batch_size, lr, seed), "trainer": trainer_steps}
    for run in modes.values():  # warm-up, and a step count that takes about ``seconds``
        run(5)
    t0 = time.perf_counter()
    modes["plain"](50)
    # Enough steps per round that run()'s fixed start/finish cost (events, the last
    # progress) is not what is measured: the bar is about the per-step loop.
    count = max(100, int(50 * seconds / (time.perf_counter() - t0)))
    rates = {m: [] for m in modes}
    order = ("plain", "trainer")
    for r in range(rounds):
        for mode in (order if r % 2 == 0 else order[::-1]):
            t0 = time.perf_counter()
            modes[mode](count)
            rates[mode].append(count / (time.perf_counter() - t0))
    med = {m: statistics.median(v) for m, v in rates.items()}
    ratio = med["trainer"] / med["plain"]
    print(f"{name:<6} batch {batch_size:>3}, {count} steps/round, {rounds} rounds: "
          f"plain {med['plain']:7.1f} steps/s, trainer {med['trainer']:7.1f} steps/s, ratio {ratio:.3f}")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=0.6, help="approximate length of one round")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default; the app's worker uses all cores but one)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu, "
          f"load average {os.getloadavg()[0]:.1f}")
    lenet = load_template("lenet")
    shapes = load_dataset({"name": "shapes", "params": {"samples": 2000}}, seed=0)
    mlp = load_template("playground_mlp")
    spiral = load_dataset({"name": "spiral", "params": {}}, seed=0)
    ratios = [measure("LeNet", lenet, shapes, 64, args.rounds, args.seconds),
              measure("MLP", mlp, spiral, 32, args.rounds, args.seconds)]
    worst = min(ratios)
    print(f"worst ratio {worst:.3f} (target >= 0.97): {'PASS' if worst >= 0.97 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
