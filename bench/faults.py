"""Fault injection at scale (issue 22): for LeNet and the LSTM, the worker of a recorded
run is SIGKILLed at >= 20 random instants (some counted from its start, so before the file
exists or during set-up, most from its first commit) and SIGSTOPped at >= 20 more (five per
run, a reader opening the live file at each, then a final SIGKILL). Every reopened session
must hold every step reported committed, with no step missing and every record decoding.
tests/engine/test_faults.py runs a few of these instants in CI.

    .venv/bin/python bench/faults.py [--kills 20] [--stops 20] [--seed S]

Appends its figures to bench/results/faults.txt.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine.fault_runs import MODELS, kill_at, stop_at  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILL instants per model")
    parser.add_argument("--stops", type=int, default=20, help="SIGSTOP instants per model (5 per run)")
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = [f"# {time.strftime('%Y-%m-%d %H:%M')} · bench/faults.py --kills {args.kills} --stops {args.stops} "
             f"--seed {args.seed}"]
    failures = 0
    t_all = time.perf_counter()
    for model in MODELS:
        folder = Path(tempfile.mkdtemp(prefix=f"faults-{model}-"))
        outcomes, errors = [], []
        for k in range(args.kills):
            from_start = k < max(1, args.kills // 5)
            delay = rng.uniform(0.0, 8.0) if from_start else rng.uniform(0.0, 4.0)
            try:
                outcomes.append(kill_at(model, folder, delay, from_start=from_start))
            except AssertionError as exc:
                errors.append(f"SIGKILL at {delay:.2f} s: {exc}")
            print(f"{model} kill {k + 1}/{args.kills}: {outcomes[-1] if outcomes else errors[-1]}", flush=True)
        stops = []
        for run in range((args.stops + 4) // 5):
            delays = [rng.uniform(0.0, 1.5) for _ in range(5)]
            try:
                stops.append(stop_at(model, folder, delays, rng.uniform(0.0, 1.0)))
            except AssertionError as exc:
                errors.append(f"SIGSTOP run at {[round(d, 2) for d in delays]}: {exc}\n{traceback.format_exc()}")
            print(f"{model} stop run {run + 1}: {stops[-1] if stops else errors[-1]}", flush=True)
        failures += len(errors)
        early = [o for o in outcomes if o.committed < 0]
        opens = [ms for o in stops for ms in o.open_ms]
        lines += [
            f"{model}: {len(outcomes)} SIGKILL instants checked ({len(early)} before the first commit), "
            f"{len(opens)} SIGSTOP instants checked in {len(stops)} runs (each ended by a SIGKILL)",
            f"  steps reported committed at the kill: {sorted(o.committed for o in outcomes)}",
            f"  array records decoded per reopened file: median {statistics.median([o.records for o in outcomes + stops] or [0]):.0f}",
            f"  reader open + full check of the live file while the worker was stopped: median "
            f"{statistics.median(opens or [0]):.0f} ms, max {max(opens or [0]):.0f} ms (never blocked)",
            f"  failures: {len(errors)}" + "".join(f"\n    {e}" for e in errors),
        ]
    lines.append(f"total {time.perf_counter() - t_all:.0f} s; "
                 + ("every committed step was there, nothing half-written." if not failures
                    else f"{failures} FAILURES."))
    text = "\n".join(lines) + "\n"
    print(text)
    with (ROOT / "bench" / "results" / "faults.txt").open("a") as f:
        f.write(text + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
