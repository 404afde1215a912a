"""``python -m engine export RUN.session --scalars OUT.csv``: data out of a session.

The scalar CSV is wide: one row per step, columns ``step``, ``wall`` (the earliest wall
time recorded at that step) and one column per scalar series; a cell is empty where the
series has no value at that step, and ``nan`` where the recorded value was NaN.
"""
from __future__ import annotations

import csv
import sys

import numpy as np

from engine.session import SessionError, SessionReader


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="RUN.session", help="The session file to read.")
    parser.add_argument("--scalars", metavar="OUT.csv", help="Write every scalar series as a wide CSV.")


def write_scalars_csv(reader: SessionReader, out_path: str) -> int:
    """Write the wide CSV; return the number of rows (steps)."""
    names = reader.scalar_names()
    series = {name: reader.scalar(name, with_wall=True) for name in names}
    steps = np.unique(np.concatenate([s[0] for s in series.values()] or [np.zeros(0, np.int64)]))
    wall = np.full(len(steps), np.inf)
    columns = []
    for name in names:
        s, v, w = series[name]
        idx = np.searchsorted(steps, s)
        np.minimum.at(wall, idx, w)
        col = np.full(len(steps), None, dtype=object)
        col[idx] = [repr(float(x)) if x == x else "nan" for x in v]
        columns.append(col)
    with open(out_path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["step", "wall", *names])
        for i, step in enumerate(steps):
            out.writerow([int(step), repr(float(wall[i])),
                          *("" if c[i] is None else c[i] for c in columns)])
    return len(steps)


def run(args) -> int:
    if not args.scalars:
        print("Nothing to export: give --scalars OUT.csv.", file=sys.stderr)
        return 2
    try:
        with SessionReader(args.session) as reader:
            rows = write_scalars_csv(reader, args.scalars)
    except SessionError as err:
        print(err, file=sys.stderr)
        return 1
    except OSError as err:
        print(f"Could not write {args.scalars}: {err.strerror or err}.", file=sys.stderr)
        return 1
    print(f"Wrote {rows} steps to {args.scalars}.")
    return 0
