"""Peak memory of reading the outside review's hostile files (issue 22), each in a fresh
process (peak resident set size, VmHWM; Linux), with the session package as it was before the
fixes beside the current one where that can still be run. Writes its files under a temp
folder, deletes them, and appends the figures to bench/results/hostile_memory.txt.

    .venv/bin/python bench/hostile_memory.py
"""
from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GIB = 1 << 30
OLD_COMMIT = "cb5379b"   # the session package before issue 22's fixes
DATA_BEFORE = "fbb3a5f"  # engine/ before the loaders converted in blocks (F1, F2, F6)


def peak_mb(code: str, *args, pythonpath: str = str(ROOT)) -> tuple[float, str]:
    """Run ``code`` in a fresh Python; (its peak RSS in MB, its last output line)."""
    # VmHWM: the peak of this process image alone (ru_maxrss would include the parent's
    # resident size at the fork); cwd is the code's root, as sys.path[0] is the cwd for -c.
    wrapper = code + ("\nprint('PEAK', next(line.split()[1] for line in open('/proc/self/status') "
                      "if line.startswith('VmHWM')))")
    out = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": pythonpath}, cwd=pythonpath, timeout=600)
    lines = (out.stdout + out.stderr).strip().splitlines()
    peak = next((int(line.split()[1]) for line in lines if line.startswith("PEAK")), -1)
    said = next((line for line in reversed(lines) if not line.startswith("PEAK")), "")
    return peak / 1024, said[:160]


def session_with_records(path: Path, count: int, nbytes: int) -> None:
    """A session whose probe batch 'x' (and ``count`` - 1 tensor records) are zlib records
    of ``nbytes`` zeros each: ~1 MB on disk per GiB promised."""
    from engine.session import SessionWriter
    with SessionWriter(path, {}, {}) as w:
        w.probe_batch(np.zeros(4, np.float32), np.zeros(4, np.int64))
        for k in range(count - 1):
            w.tensor(f"big{k}", 0, np.zeros(1, np.float32))
    packed = zlib.compress(bytes(nbytes), 1)
    db = sqlite3.connect(path)
    db.execute("UPDATE probe SET shape = ?, compression = 'zlib', data = ? WHERE name = 'x'",
               (f"[{nbytes // 4}]", packed))
    db.execute("UPDATE tensors SET shape = ?, compression = 'zlib', data = ?", (f"[{nbytes // 4}]", packed))
    db.commit()
    db.close()


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="hostile-memory-"))
    old = folder / "old"
    (old / "engine" / "session").mkdir(parents=True)
    for name in ("__init__", "reader", "records", "errors", "schema", "tree", "writer", "notes"):
        text = subprocess.run(["git", "show", f"{OLD_COMMIT}:engine/session/{name}.py"], cwd=ROOT,
                              capture_output=True, text=True).stdout
        (old / "engine" / "session" / f"{name}.py").write_text(text)
    (old / "engine" / "__init__.py").write_text("")
    rows = []
    try:
        baseline, _ = peak_mb("import numpy, sqlite3, json, zlib")
        rows.append(("python + numpy + sqlite3, nothing read", baseline, None, ""))
        baseline, _ = peak_mb("import engine.data")
        rows.append(("import engine.data (torch), nothing read", baseline, None, ""))

        one = folder / "one.session"
        session_with_records(one, 1, GIB)
        read_probe = ("import sys\nfrom engine.session import SessionReader, SessionError\n"
                      "try:\n    r = SessionReader(sys.argv[1]); x, y = r.probe_batch(); print('read', x.nbytes)\n"
                      "except SessionError as e:\n    print(e)")
        new, said = peak_mb(read_probe, str(one))
        was, _ = peak_mb(read_probe, str(one), pythonpath=str(old))
        rows.append(("1 GiB zlib probe record (what inspect reads)", new, was, said))

        eight = folder / "eight.session"
        session_with_records(eight, 8, GIB)
        read_all = ("import sys\nfrom engine.session import SessionReader, SessionError\n"
                    "r = SessionReader(sys.argv[1]); held = []\n"
                    "try:\n    held.append(r.probe_batch())\n"
                    "    for k in range(7): held.append(r.tensor(f'big{k}', 0))\n    print('read all 8')\n"
                    "except SessionError as e:\n    print(e)")
        new, said = peak_mb(read_all, str(eight))   # before: 8 GiB and more (not re-run here)
        rows.append(("8 such records held at once (the window's views)", new, None, said))
        new, said = peak_mb("import sys\nfrom engine.session import SessionReader, SessionError\n"
                            "try:\n    SessionReader(sys.argv[1]).tensors_at(0)\nexcept SessionError as e:\n    print(e)",
                            str(eight))
        rows.append(("8 such records in one tensors_at call", new, None, said))
        one.unlink()
        eight.unlink()

        data = folder / "data"
        data.mkdir()
        (data / "i-idx3-ubyte").write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 4, 5, 5)
                                                          + bytes(1_200_000_000), 9))
        (data / "l-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes(4))
        load = ("import json, sys\nfrom engine.data import load_dataset, DataError\n"
                "try:\n    load_dataset(json.loads(sys.argv[1]), base_dir=sys.argv[2])\nexcept DataError as e:\n    print(e)")
        size = (data / "i-idx3-ubyte").stat().st_size
        new, said = peak_mb(load, '{"path": "i-idx3-ubyte", "labels": "l-idx1-ubyte"}', str(data))
        rows.append((f"gzip IDX of {size / 1e6:.1f} MB inflating to 1.2 GB", new, None, said))

        sys.path.insert(0, str(ROOT))
        from tests.engine.test_review_findings import _png_header
        from PIL import Image
        for cls in ("a", "b"):
            (data / "img" / cls).mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / "img" / cls / "0.png")
        (data / "img" / "a" / "big.png").write_bytes(_png_header(12000, 12000))
        new, said = peak_mb(load, '{"path": "img"}', str(data))
        rows.append(("image folder with a PNG declaring 12000x12000", new, None, said))

        # The review's F1, F2 and F6 (files within the per-file caps whose loading peaked far
        # above them), with engine/ as it was before their fix beside the current one.
        before = folder / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", DATA_BEFORE, "engine"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        n, side = 4000, 256
        (data / "f2-idx3-ubyte.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", n, side, side)
                                                               + bytes(n * side * side), 6))
        (data / "f2-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(n))
        with (data / "f1.csv").open("w") as f:
            for _ in range(4):
                f.write(",".join(["1"] * 5_000_000) + "\n")
        for cls in ("a", "b"):
            (data / "f6" / cls).mkdir(parents=True)
            for k in range(6):
                Image.fromarray(np.zeros((4096, 4096), np.uint8)).save(data / "f6" / cls / f"{k}.png")
        for what, ref in (
                (f"F2: gzip IDX {n}x{side}x{side} ({(data / 'f2-idx3-ubyte.gz').stat().st_size / 1e3:.0f} KB)",
                 '{"path": "f2-idx3-ubyte.gz", "labels": "f2-idx1-ubyte"}'),
                ("F1: CSV of 4 rows x 5,000,000 columns (40 MB)", '{"path": "f1.csv"}'),
                ("F6: 12 PNGs of 4096x4096 zeros (a folder)", '{"path": "f6"}')):
            new, said = peak_mb(load + "\nelse:\n    print('loaded')", ref, str(data))
            was, said_before = peak_mb(load + "\nelse:\n    print('loaded')", ref, str(data), pythonpath=str(before))
            rows.append((what, new, was, said if said == said_before else f"{said} (before: {said_before})"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [f"# {time.strftime('%Y-%m-%d %H:%M')} · bench/hostile_memory.py (peak RSS of a fresh process, MB; "
             f"'before' = engine/session at {OLD_COMMIT})"]
    for what, new, was, said in rows:
        before = f"  before {was:7.0f}" if was is not None else " " * 16
        lines.append(f"{what:<56} now {new:7.0f}{before}   {said}")
    text = "\n".join(lines) + "\n"
    print(text)
    with (ROOT / "bench" / "results" / "hostile_memory.txt").open("a") as f:
        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
