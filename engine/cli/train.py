"""``python -m engine train GRAPH.json|TEMPLATE [--steps N | --epochs E] [--seed S]
[--device D] [--record RUN.session] [--json]``: train headlessly, with a progress bar on
stderr and a summary at the end (with --json, the last stdout line is a JSON object).
``--fork PARENT.session[:STEP]`` starts from the parent's checkpoint at or before STEP
(its graph and settings; edit settings with ``--set KEY=VALUE``); see engine/train/fork.py.
With --record, probe rates are set the same way (``--set heavy_every=20 --set stats_every=1``,
any engine.probes.ProbeSettings name) or with ``--probe NAME=VALUE``; see docs/probes.md."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

HELP = "Train a graph document headlessly."


def add_arguments(parser) -> None:
    parser.add_argument("graph", nargs="?", help="a graph file (.json) or a template slug such as "
                        "playground_mlp (omit with --fork)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="train this many steps")
    budget.add_argument("--epochs", type=int, help="train this many passes over the training split")
    parser.add_argument("--seed", type=int, help="seed for weights, data order and generated data")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the graph's setting)")
    parser.add_argument("--record", metavar="RUN.session", help="record the run into this session file")
    parser.add_argument("--json", action="store_true", help="end stdout with a JSON summary line")
    parser.add_argument("--fork", metavar="PARENT.session[:STEP]",
                        help="start from the parent run's checkpoint at or before STEP (default: its last)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="edit a training setting, e.g. --set clip_norm=1.0, or a probe rate, e.g. "
                             "--set heavy_every=20 (repeatable)")
    parser.add_argument("--probe", action="append", metavar="NAME=VALUE", default=[],
                        help="a probe setting for the recorded run: stats_every, heavy_every, dense, "
                             "capture_mode (auto, inline, process, stream), probe_size, ... (repeatable)")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel training under torchrun (DDP: NCCL on CUDA, gloo on CPU); "
                             "the batch_size setting is per process; rank 0 records (docs/remote.md)")
    parser.add_argument("--allow-data", action="append", metavar="DIR", default=[],
                        help="also read data files inside DIR (repeatable); without it a graph's "
                        "dataset path must lie in the graph's own folder (docs/security.md)")


def _load_doc(ref: str):
    from ..graph.document import load_graph
    path = Path(ref)
    if path.suffix == ".json" or path.exists() or "/" in ref or "\\" in ref:
        return load_graph(path), path.resolve().parent
    from ..templates import load_template
    return load_template(ref), None


def _duration(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def _make_progress_bar(stream):
    from ..train import Callback
    from ..train.callbacks import step_after

    class ProgressBar(Callback):
        """One line redrawn in place (a new line every few seconds when not a terminal)."""

        def __init__(self):
            self.tty = stream.isatty()
            self.every = 0.1 if self.tty else 5.0
            self.last = 0.0
            self.t0 = None
            self.drawn = False

        def on_start(self, trainer):
            self.t0, self.s0 = time.perf_counter(), trainer.step

        def on_step_end(self, trainer, step, metrics):
            now = time.perf_counter()
            left = self.every - (now - self.last)
            if left <= 0 or step == trainer.total_steps:
                self.last, left = now, self.every
                self.draw(trainer, now)
            # called again when the next line is due (or at the last step), not every step
            self.quiet_until = min(step_after(step, left, metrics["step_time"]), trainer.total_steps)

        def draw(self, trainer, now):
            done = trainer.step - self.s0
            elapsed = now - self.t0
            rate = done * trainer.batch_size / elapsed if elapsed > 0 else 0.0
            eta = (trainer.total_steps - trainer.step) * trainer.batch_size / rate if rate else None
            frac = trainer.step / max(1, trainer.total_steps)
            bar = "#" * int(frac * 24)
            loss = "?" if trainer.recent_loss is None else f"{trainer.recent_loss:.4g}"
            line = (f"step {trainer.step}/{trainer.total_steps} [{bar:<24}] loss {loss}  "
                    f"{rate:,.0f} samples/s  ETA {_duration(eta)}")
            stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
            stream.flush()
            self.drawn = True

        def on_end(self, trainer, summary):
            if self.drawn and self.tty:
                stream.write("\n")
                stream.flush()

    return ProgressBar()


def _summary_text(s: dict) -> str:
    parts = [s["message"].rstrip("."), f"{s['steps']} steps in {s['seconds']:.1f} s on {s['device']}"]
    if s["train_loss"] is not None:
        parts.append(f"train loss {s['train_loss']:.4g}")
    if s["val_loss"] is not None:
        parts.append(f"validation loss {s['val_loss']:.4g}")
    if s["val_accuracy"] is not None:
        parts.append(f"validation accuracy {100 * s['val_accuracy']:.1f} %")
    return "; ".join(parts) + "."


def _split_edits(sets, probes) -> tuple[list, dict]:
    """``--set`` items that name a probe setting go to the probes (with every ``--probe``)."""
    from ..probes.settings import ProbeSettings, parse_probe_edits
    names = set(ProbeSettings().to_dict())
    training = [item for item in sets if str(item).partition("=")[0].strip() not in names]
    probe_items = [item for item in sets if str(item).partition("=")[0].strip() in names] + list(probes)
    return training, parse_probe_edits(probe_items)


def _capture_words(probes) -> str:
    counts = {mode: n for mode, n in probes.captured.items() if n}
    where = {"inline": "inline", "process": "in a helper process", "stream": "on a second CUDA stream"}
    if not counts:
        return "no heavy captures"
    return "heavy captures " + ", ".join(f"{n} {where[m]}" for m, n in counts.items())


def _json_safe(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run(args) -> int:
    from ..data import DataError
    from ..graph.errors import GraphError
    from ..session import SessionError
    from ..train import Trainer, TrainError
    from ..train.recorder import SessionRecorder, open_writer

    overrides = {}
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.epochs is not None:
        overrides.update(epochs=args.epochs, steps=None)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.device:
        overrides["device"] = args.device
    recorder = probes = fork = group = summary = None
    from ..probes.settings import ProbeSettingsError
    try:
        from ..train.fork import load_fork, parse_fork_ref, parse_setting_edits
        training_edits, probe_edits = _split_edits(args.set, args.probe)
        if probe_edits and not args.record:
            raise TrainError("Probe settings apply to a recorded run: add --record RUN.session.")
        overrides = {**parse_setting_edits(training_edits), **overrides}
        if args.fork:
            if args.graph:
                raise TrainError("Give either a graph or --fork, not both: a fork trains its parent's graph.")
            fork = load_fork(*parse_fork_ref(args.fork))
            doc, base_dir, overrides = fork.document(), fork.path.resolve().parent, fork.overrides(overrides)
        elif not args.graph:
            raise TrainError("Name a graph file or template to train (or --fork PARENT.session).")
        else:
            doc, base_dir = _load_doc(args.graph)
        from ..train.device import configure_threads
        from ..train.settings import resolve_settings
        settings = resolve_settings(doc.training, overrides)
        configure_threads(settings["threads"])
        from ..data.paths import DataAccess
        from ..graph.footprint import check_training_memory
        check_training_memory(doc, settings)  # before the trainer allocates the weights
        access = DataAccess(base_dir, tuple(Path(d) for d in args.allow_data))
        if args.distributed:  # every rank trains; rank 0 alone shows progress and records
            from ..train.distributed import DistributedTrainer, join_group
            group = join_group(settings["device"])
            trainer = DistributedTrainer(group, doc, overrides=overrides, base_dir=access,
                                         callbacks=[_make_progress_bar(sys.stderr)] if group.leader else [])
        else:
            trainer = Trainer(doc, overrides=overrides, callbacks=[_make_progress_bar(sys.stderr)],
                              base_dir=access)
        if fork is not None:
            fork.apply(trainer)
        if args.record and (group is None or group.leader):
            writer = open_writer(args.record, doc, trainer.settings, trainer.dataset.info,
                                 parent=fork.parent if fork is not None else None)
            recorder = SessionRecorder(writer, background=True)
            trainer.callbacks.insert(0, recorder)
            from ..probes import ProbeSet, ProbeSettings  # activations, gates, gradients through time
            probes = ProbeSet(writer, ProbeSettings(**probe_edits), basic_scalars=False)
            trainer.callbacks.insert(1, probes)
            if fork is not None:
                fork.record_start(recorder, trainer)
        summary = trainer.run()
    except (GraphError, DataError, TrainError, ProbeSettingsError, SessionError) as exc:  # a full disk
        print(str(exc), file=sys.stderr)
        code = 1
    except Exception as exc:
        from ..train.trainer import _is_oom, oom_message
        if not _is_oom(exc):
            raise
        print(oom_message(overrides.get("device"), overrides.get("batch_size")), file=sys.stderr)
        code = 1
    finally:
        if recorder is not None:
            try:
                recorder.close()
            except SessionError:
                pass  # the write that failed during the run was reported above
        if group is not None:
            group.close(finished=summary is not None)
    if summary is not None:
        code = 1 if summary["status"] == "failed" else 0
        if group is None or group.leader:
            _report(args, summary, probes)
    if group is not None:
        _end_rank(code)
    return code


def _report(args, summary: dict, probes) -> None:
    print(_summary_text(summary), file=sys.stderr)
    if args.record:
        print(f"Recorded to {args.record} ({_capture_words(probes)}).", file=sys.stderr)
    if args.json:
        keys = ("status", "message", "steps", "epochs", "train_loss", "val_loss", "val_accuracy",
                "seconds", "device")
        print(json.dumps({k: _json_safe(summary[k]) for k in keys}))


def _end_rank(code: int):
    """End a distributed rank here, without freeing its trainer. A rank that had trained,
    closed its session and left the group has hung inside torch as its DDP module (which
    holds the gloo process group) was freed: twice in ~15 loaded CI runs of
    tests/engine/test_distributed.py, never alone. Everything is written by now, so the
    process ends without running destructors."""
    import os
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
