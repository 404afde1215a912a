"""Soak: one long live run in the Watch workspace with every view of its grid open, the
window's memory and event-loop latency sampled as it goes. Not run in CI.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python bench/soak.py \
        [--minutes 60] [--template anbn_lstm] [--out bench/results/soak.txt]

Every SAMPLE seconds it records the window process's resident memory (RSS, from
/proc/self/statm) and the heartbeat lateness of that interval (a 5 ms timer: p95, p99, max),
plus the run's step and the session file's size. The run restarts when it ends, so the
window keeps watching a live run for the whole soak. The result is a table (the memory
curve) and a verdict: memory bounded (the last quarter's RSS within 10 % of the second
quarter's), latency within the live-view bars (p95 <= 16 ms, p99 <= 50 ms)."""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SAMPLE_S = 10.0
HEARTBEAT_MS = 5


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _size_mb(path) -> float:
    """The session file's size; 0 while a restarted run has not created its file yet (a
    stat at that instant ended the first hour-long soak at 47 minutes)."""
    try:
        return Path(path).stat().st_size / 1e6 if path else 0.0
    except FileNotFoundError:
        return 0.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--template", default="anbn_lstm")
    p.add_argument("--node", default="lstm")
    p.add_argument("--out", default=str(ROOT / "bench/results/soak.txt"))
    args = p.parse_args(argv)
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

    from bench_window import bench_window
    from visualizer.editor import edits

    app, window = bench_window("soak-")
    window.open_template(args.template)
    edits.set_training(window.model, "steps", 1_000_000)
    window.model.undo_stack.setClean()
    window.scene.select_nodes([args.node])
    window.start_training()
    shown = window.grid.titles()

    clock = QElapsedTimer()
    clock.start()
    late: list[float] = []
    last = [None]

    def beat():
        now = clock.nsecsElapsed() / 1e6
        if last[0] is not None:
            late.append(max(0.0, now - last[0] - HEARTBEAT_MS))
        last[0] = now

    heart = QTimer()
    heart.setTimerType(Qt.PreciseTimer)
    heart.setInterval(HEARTBEAT_MS)
    heart.timeout.connect(beat)
    heart.start()
    rows = []
    restarts = 0
    start = time.monotonic()
    end = start + args.minutes * 60
    while time.monotonic() < end:
        loop = QEventLoop()
        QTimer.singleShot(int(SAMPLE_S * 1000), loop.quit)
        loop.exec()
        run = window.controller
        if not run.running:  # keep a live run on screen for the whole soak
            restarts += 1
            window.start_training()
            window.model.undo_stack.setClean()
        gc.collect()
        sample, late[:] = list(late), []
        size = _size_mb(window.session_path)
        # what each view's frames cost in this sample (its update and the repaint it caused)
        costs = {title: max(window.hub.costs.get(title, [0.0]), default=0.0) for title in shown}
        window.hub.costs.clear()
        rows.append((time.monotonic() - start, rss_mb(), float(np.percentile(sample, 95)) if sample else 0.0,
                     float(np.percentile(sample, 99)) if sample else 0.0, max(sample, default=0.0),
                     run.last_progress.get("step", 0), size, costs))
        print(f"{rows[-1][0]:7.0f} s  RSS {rows[-1][1]:7.1f} MB  p95 {rows[-1][2]:5.1f}  p99 {rows[-1][3]:5.1f} ms  "
              f"step {rows[-1][5]:>8}  " + " ".join(f"{t[:8]} {c:.0f}" for t, c in costs.items()), flush=True)
        # the table so far, on disk: a soak cut short still leaves its curve
        report(args, app, shown, restarts, rows, Path(args.out).with_suffix(".partial.txt"))
    heart.stop()
    window.controller.stop()
    window.close()
    ok = report(args, app, shown, restarts, rows, Path(args.out))
    print(Path(args.out).read_text())
    Path(args.out).with_suffix(".partial.txt").unlink(missing_ok=True)
    return 0 if ok else 1


def report(args, app, shown, restarts, rows, out: Path) -> bool:
    """Write the memory curve and the verdicts; True if both bars are met."""
    rss = np.array([r[1] for r in rows])
    q = max(1, len(rss) // 4)
    second, last_q = float(np.median(rss[q:2 * q])), float(np.median(rss[-q:]))
    bounded = last_q <= second * 1.10
    p95s, p99s = [r[2] for r in rows], [r[3] for r in rows]
    lat_ok = float(np.median(p95s)) <= 16 and float(np.median(p99s)) <= 50
    lines = [f"Soak: {args.minutes:g} min live run of {args.template} in the Watch workspace "
             f"({app.platformName()}, 1600 x 1000, views: {', '.join(shown)}), {time.strftime('%Y-%m-%d')}",
             f"samples every {SAMPLE_S:g} s; the run restarted {restarts} times to stay live",
             "heartbeat lateness p95/p99/max; then the costliest frame of each view in the sample (ms: its "
             "update and the repaint it caused)",
             "", f"{'t s':>7} {'RSS MB':>8} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>8} {'step':>9} {'session MB':>11}"
             + "".join(f" {title[:12]:>12}" for title in shown)]
    for t, r, a, b, m, step, size, costs in rows:
        lines.append(f"{t:7.0f} {r:8.1f} {a:7.1f} {b:7.1f} {m:8.1f} {step:>9} {size:11.1f}"
                     + "".join(f" {costs.get(title, 0.0):12.1f}" for title in shown))
    lines += ["", f"RSS: first {rss[0]:.1f} MB, median of the second quarter {second:.1f} MB, of the last "
              f"quarter {last_q:.1f} MB, max {rss.max():.1f} MB: {'bounded' if bounded else 'GROWING'}",
              f"latency per sample: median p95 {np.median(p95s):.1f} ms, median p99 {np.median(p99s):.1f} ms, "
              f"worst p99 {max(p99s):.1f} ms: {'within the bars' if lat_ok else 'OVER THE BARS'}"]
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return bounded and lat_ok


if __name__ == "__main__":
    sys.exit(main())
