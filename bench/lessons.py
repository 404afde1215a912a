"""Run every lesson's check (train its templates headlessly, record, measure the claim from
the recordings) and report the wall time of each on this machine.

    .venv/bin/python bench/lessons.py [--seed N] [LESSON_ID ...]

Writes bench/results/lessons.txt (all lessons, the templates' own seeds) or prints only
(a selection, or another seed: a robustness check).
"""
from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.lessons import list_lessons  # noqa: E402
from engine.lessons.checks import run_check  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "lessons.txt"


def main(argv: list[str]) -> int:
    seed = None
    if argv[:1] == ["--seed"]:
        seed, argv = int(argv[1]), argv[2:]
    wanted = argv or [x.id for x in list_lessons()]
    lines = [f"# Lesson checks: wall time on this machine ({platform.machine()}, {os.cpu_count()} cores, "
             f"torch {torch.__version__}, 1 torch thread per check), {time.strftime('%Y-%m-%d')}"
             + (f", seed {seed}" if seed is not None else ""), ""]
    total, ok = 0.0, True
    for lesson_id in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            out = run_check(lesson_id, tmp, seed=seed)
        total += out.seconds
        ok &= not out.failed
        lines.append(f"{lesson_id:28s} {out.seconds:6.1f} s   {'all claims hold' if not out.failed else 'FAILED'}")
        for text, holds in out.claims:
            lines.append(f"    [{'x' if holds else ' '}] {text}")
        lines.append("    " + ", ".join(f"{k}={v:.4g}" for k, v in out.metrics.items()))
        print("\n".join(lines[-len(out.claims) - 2:]), flush=True)
    lines += ["", f"{'total':28s} {total:6.1f} s"]
    print(lines[-1])
    if not argv and seed is None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
