"""The long fuzz run: every target of tests/fuzz/ with many more examples and a fresh
random seed (CI runs a fixed, derandomised few). Writes its case counts, time, seed and
any failure to bench/results/fuzz_long.txt (appending; the newest run first is not kept
apart: read the dates).

    .venv/bin/python bench/fuzz_long.py [--examples N] [--seed S]

A failure prints hypothesis' shrunk example with a @reproduce_failure line: make it a
regression test in tests/ (named for what it found), fix it, and note it in the results.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "fuzz_long.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000, help="examples per fuzz target")
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    args = parser.parse_args()
    env = dict(os.environ, NEUROSTUDIO_FUZZ="long", NEUROSTUDIO_FUZZ_EXAMPLES=str(args.examples),
               QT_QPA_PLATFORM="offscreen", OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/fuzz",
                           f"--hypothesis-seed={args.seed}", "--hypothesis-show-statistics",
                           "-o", "timeout=0"], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    rows, total = [], 0
    for block in re.split(r"^(?=tests/fuzz/\S+:$)", out, flags=re.M)[1:]:
        name = block.split(":\n", 1)[0]
        counts = [tuple(map(int, c)) for c in
                  re.findall(r"(\d+) passing, (\d+) failing, and (\d+) invalid", block)]
        passing, failing, invalid = (sum(c[i] for c in counts) for i in range(3))
        rows.append(f"  {name:<72} {passing:>6} passing {failing:>3} failing {invalid:>5} invalid")
        total += passing + failing
    summary = re.findall(r"^=* ?(\d+ (?:passed|failed).* in [0-9.]+s.*?) ?=*$", out, re.M)
    failures = re.findall(r"^FAILED (\S+)", out, re.M)
    report = [f"# {time.strftime('%Y-%m-%d %H:%M')} · bench/fuzz_long.py --examples {args.examples} "
              f"--seed {args.seed}",
              f"{total} cases in {seconds:.0f} s ({summary[-1] if summary else 'no summary'})", *rows,
              "failures: " + (", ".join(failures) if failures else "none"), ""]
    if failures:  # each distinct error line and how to reproduce it
        seen = []
        for line in out.splitlines():
            text = line.lstrip("E| \t")
            if (re.match(r"[A-Za-z_.]*(Error|Exception|Warning)\b", text) or "reproduce_failure" in text) \
                    and text not in seen:
                seen.append(text)
        report.insert(-1, "\n".join("    " + t[:300] for t in seen))
    text = "\n".join(report)
    print(text)
    with RESULTS.open("a") as f:
        f.write(text + "\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
