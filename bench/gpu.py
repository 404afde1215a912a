"""GPU benchmark: training steps/s of a hand-written loop, the Trainer, the Trainer
recording to a session file as the worker does (SessionRecorder: loss and lr every step,
a commit every 0.2 s), and that recorded run with probes at their defaults and at equal
coverage (statistics every step, a heavy capture every 10 steps), and the defaults with
captures on a second CUDA stream instead of a helper process, with and without mixed
precision (bfloat16 where the GPU has it), on LeNet and ResNet-20 at batch 256 and the character LSTM at 64 sequences of 128;
host-device synchronisations per training step (torch.cuda.set_sync_debug_mode, counted
on the training thread only) on steps without a capture and on capture steps; peak GPU
memory. Writes a text report naming the device. Runs on any CUDA machine in a few
minutes; ``--device cpu --quick`` checks the script itself on a machine without one.

    python bench/gpu.py [--out bench/results/gpu.txt] [--rounds 4] [--block 0.6]
    python bench/gpu.py --device cpu --quick --out /tmp/gpu.txt
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.graph.compile import compile_graph  # noqa: E402
from engine.graph.document import load_graph  # noqa: E402
from engine.probes import ProbeSet, ProbeSettings  # noqa: E402
from engine.session import SessionWriter  # noqa: E402
from engine.train import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = {  # name: (template, batch size, sequence length for text)
    "lenet": ("lenet.json", 256, None),
    "resnet20": ("resnet.json", 256, None),
    "char_lstm": ("char_lstm.json", 64, 128),
}
EQUAL = dict(stats_every=1, dense=0, heavy_every=10)
STREAM = dict(capture_mode="stream")  # the defaults with captures on a second CUDA stream, not a helper process
MODES = ("loop", "trainer", "recorded", "defaults", "stream", "equal")


def load(name: str, quick: bool):
    template, batch, seq = MODELS[name]
    doc = load_graph(ROOT / "assets" / "templates" / template)
    if seq is not None:  # the character model on longer sequences
        doc.dataset = {**doc.dataset, "params": {**doc.dataset.get("params", {}), "seq_len": seq}}
        for node in doc.nodes:
            if node.type == "Input":
                node.params["shape"] = [seq]
    if quick:
        batch = min(batch, 32)
    data = load_dataset(doc.dataset, seed=0, val_fraction=0.2)
    return doc, data, batch


class HandLoop:
    """What a person writes by hand: the same compiled model, data on the device, optimizer."""

    def __init__(self, doc, data, batch, device, amp):
        s = dict(doc.training)
        ref = Trainer(doc, data, overrides={"steps": 1, "device": str(device), "batch_size": batch})
        self.x, self.y, self.loss_fn = ref.x_train, ref.y_train, ref.loss_fn
        self.model = compile_graph(doc, device).model
        self.model.load_state_dict(ref.model.state_dict())
        lr, wd = float(s.get("lr", 1e-3)), float(s.get("weight_decay", 0.0))
        if s.get("optimizer", "adam") == "sgd":
            self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=float(s.get("momentum", 0.0)),
                                       weight_decay=wd)
        else:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=lr, weight_decay=wd)
        self.clip, self.batch, self.device = s.get("clip_norm"), min(batch, len(self.x)), device
        self.amp = amp and device.type == "cuda"
        self.dtype = ref.amp_dtype
        self.scaler = torch.amp.GradScaler("cuda") if self.amp and self.dtype == torch.float16 else None
        self.gen = torch.Generator().manual_seed(0)
        self.perm, self.pos = None, len(self.x)

    def train_step(self):
        if self.pos + self.batch > len(self.x):
            self.perm, self.pos = torch.randperm(len(self.x), generator=self.gen).to(self.device), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.amp):
            loss = self.loss_fn(self.model(self.x.index_select(0, idx)), self.y.index_select(0, idx))
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()

    def close(self):
        pass


class Run:
    """The Trainer: bare, or recording as the worker does (a SessionRecorder, committing
    every 0.2 s), with or without probes (their training scalars left to the recorder)."""

    def __init__(self, doc, data, batch, device, amp, probes: dict | None, tmp: Path, recorded: bool = True):
        from engine.train.recorder import SessionRecorder
        self.writer = self.probes = self.recorder = None
        callbacks = []
        if recorded:
            tmp.mkdir(parents=True, exist_ok=True)
            self.writer = SessionWriter(tmp / "run.session", doc.to_dict(), dict(doc.training))
            self.recorder = SessionRecorder(self.writer, checkpoint_at_end=False, background=True)
            callbacks.append(self.recorder)
        if probes is not None:
            self.probes = ProbeSet(self.writer, ProbeSettings(**probes), basic_scalars=False)
            callbacks.append(self.probes)
        self.trainer = Trainer(doc, data, overrides={"steps": 10 ** 9, "device": str(device), "batch_size": batch,
                                                     "mixed_precision": amp, "val_every": 10 ** 9},
                               callbacks=callbacks)
        self.trainer._t_last = time.perf_counter()
        for cb in callbacks:
            cb.on_start(self.trainer)

    def wait_ready(self):
        """A helper process that is starting is ready (called once every run has started
        its own, so that they start together)."""
        if self.probes is not None:
            self.probes.wait_ready()

    def train_step(self):
        self.trainer.train_step()  # the recorder commits every 0.2 s

    def close(self):
        if self.probes is not None:
            self.probes.flush()
            self.probes.close()
        if self.writer is not None:
            self.recorder.flush()
            self.writer.close()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def drain(run, device) -> None:
    """Nothing of an earlier block still running: its captures and statistics are in."""
    if getattr(run, "probes", None) is not None:
        run.probes.flush()
    sync(device)


def timed(run, steps: int, device) -> float:
    """Steps per second over ``steps`` training steps. Captures beside training still in
    flight at the end are waited for before the next block, outside the timed region (as
    bench/probe_overhead.py does): waiting for them inside it would charge the block an
    idle wait that training never has (a capture overlaps the steps after it), up to one
    capture's time a block (2026-12-04, blocks of 0.25 s: char-LSTM 'defaults' took ~70 ms
    a block longer than 'recorded'; how much of that was the wait, the capture times now
    printed tell). What is left out instead is at most the overlap of one capture's tail
    with training, bounded by those same times."""
    drain(run, device)
    start = time.perf_counter()
    for _ in range(steps):
        run.train_step()
    sync(device)
    return steps / (time.perf_counter() - start)


class SyncCounter:
    """Synchronising CUDA calls made by the training thread (torch's sync debug mode
    warns on each; warnings from the capture thread are not counted)."""

    def __init__(self):
        self.count = 0
        self.main = threading.get_ident()

    def __enter__(self):
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("always")
        warnings.showwarning = self._show
        torch.cuda.set_sync_debug_mode("warn")
        return self

    def _show(self, message, category, filename, lineno, file=None, line=None):
        if threading.get_ident() == self.main and "synchroniz" in str(message):
            self.count += 1

    def __exit__(self, *exc):
        torch.cuda.set_sync_debug_mode("default")
        self._ctx.__exit__(*exc)


def count_syncs(run, steps: int) -> tuple[float, float, int]:
    """(mean syncs per step without a capture, per capture step, capture steps seen)."""
    plain, heavy = [], []
    with SyncCounter() as c:
        for _ in range(steps):
            before = c.count
            run.train_step()
            n = c.count - before
            p = getattr(run, "probes", None)
            (heavy if p is not None and p._last_heavy_step == run.trainer.step else plain).append(n)
    mean = (lambda v: sum(v) / len(v) if v else float("nan"))
    return mean(plain), mean(heavy), len(heavy)


def measure(name: str, device, amp: bool, rounds: int, block: float, quick: bool, tmp: Path) -> list[str]:
    doc, data, batch = load(name, quick)
    tag = f"{name}-{'amp' if amp else 'f32'}"
    runs = {"loop": HandLoop(doc, data, batch, device, amp),
            "trainer": Run(doc, data, batch, device, amp, None, tmp / f"{tag}-t", recorded=False),
            "recorded": Run(doc, data, batch, device, amp, None, tmp / f"{tag}-r"),
            "defaults": Run(doc, data, batch, device, amp, {}, tmp / f"{tag}-d"),
            "stream": Run(doc, data, batch, device, amp, STREAM, tmp / f"{tag}-s"),
            "equal": Run(doc, data, batch, device, amp, EQUAL, tmp / f"{tag}-e")}
    for run in runs.values():
        if isinstance(run, Run):
            run.wait_ready()
    peak = {}
    for mode, run in runs.items():  # warm-up (kernels, allocator, the probes' dense start) and memory
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        timed(run, 60 if not quick else 10, device)
        peak[mode] = torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda" else float("nan")
    t0 = time.perf_counter()
    timed(runs["trainer"], 20, device)
    steps = max(10, int(20 * block / max(1e-6, time.perf_counter() - t0)))
    rates = {m: [] for m in runs}
    for r in range(rounds):
        order = MODES if r % 2 == 0 else MODES[::-1]
        for mode in order:
            rates[mode].append(timed(runs[mode], steps, device))
    med = {m: statistics.median(v) for m, v in rates.items()}
    syncs = {}
    if device.type == "cuda":
        for mode in ("trainer", "recorded", "defaults", "stream", "equal"):
            syncs[mode] = count_syncs(runs[mode], 60)
    lines = []
    label = f"{name} b{batch}" + (" AMP" if amp else "")
    for mode in MODES:
        p = getattr(runs[mode], "probes", None)
        where = ""
        if p is not None:
            took = statistics.median(p.capture_seconds) * 1e3 if p.capture_seconds else float("nan")
            where = f" captures {p.capture_mode} ({took:.1f} ms each)"
        sc = ""
        if mode in syncs:
            plain, heavy, n = syncs[mode]
            sc = f"  syncs/step {plain:.2f} (capture steps {heavy:.1f}, {n} seen)"
        lines.append(f"{label:<17} {mode:<9} {med[mode]:8.1f} steps/s  x recorded {med[mode] / med['recorded']:.3f}"
                     f"  x trainer {med[mode] / med['trainer']:.3f}  x loop {med[mode] / med['loop']:.3f}"
                     f"  peak {peak[mode]:7.1f} MiB{sc}{where}")
    for run in runs.values():
        run.close()
    return lines


def profile(name: str, device, steps: int, tmp: Path) -> list[str]:
    """Where the probes' time goes on this device: milliseconds per step in each probe
    entry point (bench/probe_profile.py's labels), defaults and equal coverage."""
    from bench.probe_profile import WRAP, Timer, _resolve
    doc, data, batch = load(name, False)
    lines = []
    for label, settings in (("defaults", {}), ("equal", EQUAL)):
        run = Run(doc, data, batch, device, False, settings, tmp / f"profile-{name}-{label}")
        run.wait_ready()
        timed(run, 60, device)
        timer = Timer()
        root = {"probes": run.probes, "writer": run.writer}
        for path, method in WRAP:
            obj = _resolve(root, path)
            if obj is not None and callable(getattr(obj, method, None)):
                timer.wrap(obj, method, f"{path}.{method}")
        rate = timed(run, steps, device)
        top = sorted(timer.total.items(), key=lambda kv: -kv[1])[:8]
        lines.append(f"{name} {label}: {1e3 / rate:.3f} ms/step; " + ", ".join(
            f"{k} {1e3 * v / steps:.3f}" for k, v in top))
        run.close()
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "gpu.txt"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--block", type=float, default=0.6, help="seconds per timed block")
    ap.add_argument("--quick", action="store_true", help="small batches, short blocks (checking the script)")
    ap.add_argument("--only", help="comma-separated models: " + ",".join(MODELS))
    ap.add_argument("--budget", type=float, default=260, help="seconds after which remaining models are skipped")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.block = 2, 0.1
    device = torch.device(args.device)
    t_start = time.perf_counter()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        extra = (f"CUDA {torch.version.cuda}, bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}, "
                 f"{torch.cuda.get_device_properties(device).total_memory / 2 ** 30:.0f} GiB")
    else:
        name, extra = "CPU (script check only)", f"{torch.get_num_threads()} threads"
    lines = [f"# GPU benchmark ({time.strftime('%Y-%m-%d %H:%M')}) on {name}: {extra}; torch {torch.__version__}",
             f"# medians of {args.rounds} interleaved blocks of ~{args.block:g} s; ratios to the recorded Trainer "
             f"without probes (the probes' own cost), to the bare Trainer and to a hand-written loop; captures "
             f"in flight at a block's end waited for outside it; "
             f"host-device syncs counted on the training thread over 60 steps",
             f"# defaults: {ProbeSettings().to_dict()}", f"# equal coverage: {EQUAL}",
             f"# stream: the defaults with {STREAM} (a helper thread on a second CUDA stream)", ""]
    print("\n".join(lines), flush=True)
    keys = args.only.split(",") if args.only else list(MODELS)
    with tempfile.TemporaryDirectory() as tmp:
        for key in keys:
            for amp in (False, True):
                if amp and device.type != "cuda":
                    continue
                if time.perf_counter() - t_start > args.budget:
                    lines.append(f"{key} AMP={amp}: skipped, past the {args.budget:.0f} s budget")
                    continue
                try:
                    out = measure(key, device, amp, args.rounds, args.block, args.quick, Path(tmp))
                except Exception:  # one failing configuration must not lose the others
                    import traceback
                    out = [f"{key} AMP={amp}: FAILED", *("#  " + t for t in traceback.format_exc().splitlines())]
                print("\n".join(out), flush=True)
                lines += out
        if device.type == "cuda" and time.perf_counter() - t_start < args.budget:
            lines.append("")
            lines.append("# where the probes' time goes (ms per training step in each probe entry point):")
            try:
                out = profile("lenet", device, 300, Path(tmp))
            except Exception:
                import traceback
                out = ["profile FAILED", *("#  " + t for t in traceback.format_exc().splitlines())]
            print("\n".join(out), flush=True)
            lines += out
    lines.append(f"# {time.perf_counter() - t_start:.0f} s in all")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
