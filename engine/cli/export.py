"""``python -m engine export SOURCE ...``: a session's data, or a network, out in standard
formats. SOURCE is a session file, a graph document (.json) or a template slug.

    export RUN.session --scalars OUT.csv          the scalars as a wide CSV
    export RUN.session --tensorboard DIR          the scalars as TensorBoard event files
    export RUN.session --weights OUT.safetensors  a checkpoint's weights (--step N: the last
                                                  checkpoint at or before step N)
    export SOURCE --to pytorch OUT.py [--weights OUT.safetensors]
    export SOURCE --to onnx OUT.onnx              (checked with onnxruntime)

The network of a session is the graph it trained, with its checkpoint's weights; a graph or
template comes with freshly initialised weights (its training seed), or with those of a
session that trained the same network (``--from RUN.session [--step N]``). Weights files
name each tensor as the exported PyTorch code does, so ``model.load_state_dict`` takes them.

The scalar CSV is wide: one row per step, columns ``step``, ``wall`` (the earliest wall
time recorded at that step) and one column per scalar series; a cell is empty where the
series has no value at that step, and ``nan`` where the recorded value was NaN.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from engine.interop.errors import InteropError
from engine.session import SessionError, SessionReader

FORMATS = ("pytorch", "onnx")


def add_arguments(parser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="A session file, a graph document (.json) or a template slug.")
    parser.add_argument("--scalars", metavar="OUT.csv", help="Write every scalar series as a wide CSV.")
    parser.add_argument("--tensorboard", metavar="DIR",
                        help="Write every scalar series as TensorBoard event files under DIR.")
    parser.add_argument("--to", nargs=2, metavar=("FORMAT", "OUT"),
                        help="Export the network: 'pytorch OUT.py' (a standalone nn.Module) or "
                             "'onnx OUT.onnx'.")
    parser.add_argument("--weights", metavar="OUT.safetensors",
                        help="Write the network's weights as safetensors, named as in the exported code.")
    parser.add_argument("--from", dest="from_session", metavar="RUN.session",
                        help="Take the weights of a graph or template from this session's checkpoint.")
    parser.add_argument("--step", type=int, metavar="N",
                        help="Use the last checkpoint at or before step N (default: the last one).")
    parser.add_argument("--opset", type=int, metavar="N", help="ONNX opset version (default 18).")


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


def is_session_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _source_kind(ref: str) -> str:
    """"session", "graph" or "template"; anything unclear is read as a session, whose reader
    says what is wrong with it."""
    path = Path(ref)
    if path.exists():
        if is_session_file(path):
            return "session"
        if path.suffix == ".json":
            return "graph"
        try:
            return "graph" if path.read_text(encoding="utf-8", errors="replace").lstrip()[:1] == "{" else "session"
        except OSError:
            return "session"
    if path.suffix == ".json":
        return "graph"
    if "/" not in ref and "\\" not in ref and path.suffix == "":
        return "template"
    return "session"


def _usage_problem(args, kind: str) -> str | None:
    if not (args.scalars or args.tensorboard or args.to or args.weights):
        return "Nothing to export: give --scalars, --tensorboard, --to FORMAT OUT or --weights."
    if (args.scalars or args.tensorboard) and kind != "session":
        return f"--scalars and --tensorboard read a recorded session; {args.source} is not a session file."
    if args.from_session and kind == "session":
        return "--from takes the weights from another session; a session's own weights are used already."
    if args.step is not None and kind != "session" and not args.from_session:
        return "--step picks a session checkpoint: give a session file or --from RUN.session."
    if args.to and args.to[0] not in FORMATS:
        return f"Unknown export format '{args.to[0]}': use {' or '.join(FORMATS)}."
    if args.opset is not None and not (args.to and args.to[0] == "onnx"):
        return "--opset applies to --to onnx only."
    return None


def run(args) -> int:
    kind = _source_kind(args.source)
    problem = _usage_problem(args, kind)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from ..graph.errors import GraphError
    try:
        if args.scalars or args.tensorboard:
            _export_session_data(args)
        if args.to or args.weights:
            _export_network(args, kind)
    except (GraphError, SessionError, InteropError) as err:
        print(err, file=sys.stderr)
        return 1
    except OSError as err:
        print(f"Could not write {err.filename or 'the output'}: {err.strerror or err}.", file=sys.stderr)
        return 1
    return 0


def _export_session_data(args) -> None:
    with SessionReader(args.source) as reader:
        if args.scalars:
            rows = write_scalars_csv(reader, args.scalars)
            print(f"Wrote {rows} steps to {args.scalars}.")
        if args.tensorboard:
            from ..interop.tensorboard import write_tensorboard
            count = write_tensorboard(reader, args.tensorboard)
            print(f"Wrote {count} scalar values to TensorBoard files under {args.tensorboard}.")


def _export_network(args, kind: str) -> None:
    from ..interop import weights as w
    if args.to and args.to[0] == "onnx":
        from ..interop.onnx_export import onnx_missing
        missing = onnx_missing()
        if missing:  # before any slow work
            raise InteropError(missing)
    if kind == "session":
        doc, weights = w.session_weights(args.source, args.step)
    else:
        doc = _load_doc(args.source, kind)
        if args.from_session:
            _, weights = w.session_weights(args.from_session, args.step)
            w.check_fit(doc, weights)
        else:
            weights = w.fresh_weights(doc)
    if args.to and args.to[0] == "pytorch":
        from ..interop.code_export import write_pytorch
        code = write_pytorch(doc, args.to[1], weights, args.weights)
        print(f"Wrote PyTorch code for '{doc.name}' to {args.to[1]} (class {code.class_name}).")
        if args.weights:
            print(f"Wrote {len(weights.weights)} weight tensors from {weights.origin} to {args.weights}.")
        return
    if args.to and args.to[0] == "onnx":
        from ..interop.onnx_export import OPSET, export_onnx
        result = export_onnx(doc, args.to[1], weights, opset=args.opset or OPSET)
        check = (f"onnxruntime matches torch to {result.max_abs_diff:.1g}" if result.max_abs_diff is not None
                 else result.note)
        print(f"Wrote ONNX (opset {result.opset}) for '{doc.name}' with {weights.origin} to {result.path}; "
              f"{check}.")
    if args.weights:
        from ..interop.code_export import export_weights
        export_weights(doc, weights, args.weights)
        print(f"Wrote {len(weights.weights)} weight tensors from {weights.origin} to {args.weights}.")


def _load_doc(ref: str, kind: str):
    if kind == "template":
        from ..templates import load_template
        return load_template(ref)
    from ..graph.document import load_graph
    return load_graph(ref)
