"""Probe overhead on the XNOR-Net template, with the binary probes (engine/probes/binary.py):
bench/probe_overhead.py's machinery (same modes, interleaved blocks in balanced order,
medians, ratios to the bare trainer and to a hand-written loop) on xnor_net, plus two modes
that take the binary probes out of the training process to show their own share:

- ``stats_nobin``: ``stats`` (statistics every step) without the per-step binary numbers
  (flips, cancelled fractions);
- ``both_nobin``: ``both`` (statistics every step, a capture every 10 steps) without them
  and without binary records in inline captures. Captures beside training (the helper
  process on the spare core) still take theirs: they cost the training loop nothing.

    .venv/bin/python bench/binary_probe_overhead.py [--rounds 14] [--block 1.5] [--threads 1]
        [--out bench/results/binary_probe_overhead.txt]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import probe_overhead as po  # noqa: E402

po.TEMPLATES["xnor"] = ("XNOR-Net", "xnor_net.json")
po.PROBED["stats_nobin"] = {**po.PROBED["stats"], "no_binary": True}
po.PROBED["both_nobin"] = {**po.PROBED["both"], "no_binary": True}
MODES = ["loop", "bare", "defaults", "stats", "stats_nobin", "heavy", "both", "both_nobin"]


class Run(po.Run):
    """probe_overhead.Run; a ``no_binary`` setting switches the binary probes off once the
    probes have started (what a graph without binary probes would cost)."""

    def __init__(self, doc, data, settings, tmp):
        settings = dict(settings) if settings is not None else None
        strip = bool(settings.pop("no_binary", False)) if settings is not None else False
        super().__init__(doc, data, settings, tmp)
        if strip:
            self.probes.binary.detach()
            self.probes.binary = None
            self.probes.targets.binary = []


po.Run = Run


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = {"--only": "xnor", "--modes": ",".join(MODES), "--rounds": "16", "--block": "1.5",
                "--out": str(Path(__file__).resolve().parent / "results" / "binary_probe_overhead.txt")}
    for flag, value in defaults.items():
        if flag not in argv:
            argv += [flag, value]
    return po.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
