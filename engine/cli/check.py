"""``python -m engine check GRAPH.json``: every node's output shape, weights and FLOPs, or
every problem of the graph, one line each, pinned to its node; then the dataset, loaded as
training loads it (a relative path from the graph's folder, under the path rule of
engine/data/paths.py), and every way it does not fit the graph, with the fix where there is
one (engine/graph/data_check.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..graph.document import GraphDocument, load_graph
from ..graph.errors import GraphError

HELP = "Check a graph document: shapes, params and FLOPs per node, and its dataset against it."


def add_arguments(parser) -> None:
    parser.add_argument("graph", metavar="GRAPH.json", help="The graph document to check.")
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
    parser.add_argument("--no-data", action="store_true",
                        help="Check the graph only; do not load its dataset.")
    parser.add_argument("--allow-data", action="append", metavar="DIR", default=[],
                        help="also read data files inside DIR (repeatable); without it a graph's "
                        "dataset path must lie in the graph's own folder")


def run(args) -> int:
    try:
        doc = load_graph(args.graph, validate=False)
    except GraphError as err:
        print(str(err), file=sys.stderr)
        return 1
    from ..graph.shapes import analyse  # after loading: a broken file is reported without importing torch
    result = analyse(doc)
    report = build_report(doc, result)
    data_problems = []
    from ..data.paths import DataAccess
    access = DataAccess(Path(args.graph).resolve().parent, tuple(Path(d) for d in args.allow_data))
    if not args.no_data:
        report["dataset"], data_problems = check_dataset(doc, result, access)
        report["problems"] += [{"node": p.node, "edge": None, "message": str(p), "fix": _fix(p.fix)}
                               for p in data_problems]
        report["ok"] = report["ok"] and not data_problems
    weights = check_init_weights(doc, result, access)
    if weights:
        report["problems"].append({"node": None, "edge": None, "message": weights, "fix": None})
        report["ok"] = False
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report["ok"] else 1
    if not result.problems:  # a sound graph: its table and what its data hold, then any mismatch
        print(format_table(report))
        if report.get("dataset"):
            print(format_dataset(report["dataset"]))
    for p in report["problems"]:
        fix = f" (fix: {p['fix']['label']})" if p.get("fix") else ""
        print((f"node {p['node']}: " if p["node"] else "graph: ") + p["message"] + fix)
    return 0 if report["ok"] else 1


def check_init_weights(doc: GraphDocument, result, access) -> str | None:
    """The sentence training would stop with on the graph's ``init_weights`` file (outside
    the allowed folders, unreadable, or not fitting the graph), or None. Loaded into the
    compiled graph as training loads it; a graph with problems is not compiled."""
    path = doc.training.get("init_weights") if isinstance(doc.training, dict) else None
    if not path or result.problems:
        return None
    from ..graph.compile import compile_graph
    from ..train.errors import TrainError
    from ..train.init_weights import load_initial_weights
    try:
        load_initial_weights(compile_graph(doc, "cpu").model, doc, str(path), access)
    except TrainError as err:
        return str(err)
    return None


def check_dataset(doc: GraphDocument, result, access) -> tuple[dict | None, list]:
    """(what the dataset holds as plain data, or None when there is none or it cannot be read;
    its mismatches with the analysed graph). A file is loaded whole, as training loads it."""
    from ..data.base import DataError
    from ..data.preview import preview_file
    from ..data.registry import describe, resolve_params
    from ..graph.data_check import check_data
    ref = doc.dataset if isinstance(doc.dataset, dict) else {}
    info = error = summary = None
    try:
        if isinstance(ref.get("path"), str):
            val = doc.training.get("val_fraction", 0.2)
            preview = preview_file(ref, access, val if isinstance(val, float) and 0 <= val < 1 else 0.2)
            info = preview.info
            summary = {"path": preview.path, "format": preview.format, "samples": preview.samples,
                       "train": preview.train, "val": preview.val, "normalised": preview.normalised,
                       "class_counts": list(preview.class_counts), "summary": preview.summary()}
        elif isinstance(ref.get("name"), str):
            info = describe(ref["name"], ref.get("params"))
            summary = {"path": None, "format": "built-in",
                       "samples": resolve_params(ref["name"], ref.get("params")).get("samples"),
                       "summary": f"built-in, generated from the run's seed: {info.description or info.name}"}
    except DataError as err:
        error = str(err)
    if info is not None:
        summary = {"name": info.name, **summary, "input_shape": list(info.input_shape),
                   "input_dtype": info.input_dtype, "target_kind": info.target_kind,
                   "target_shape": list(info.target_shape), "classes": list(info.class_names)}
    return summary, check_data(doc, result, info, error)


def format_dataset(d: dict) -> str:
    if d.get("format") == "built-in":
        return f"Dataset '{d['name']}': {d['summary'].rstrip('.')}."
    return f"Dataset {d['path']} ({d['format']}): {d['summary']}"


def _fix(fix) -> dict | None:
    return None if fix is None else {"node": fix.node, "param": fix.param, "value": fix.value, "label": fix.label}


def build_report(doc: GraphDocument, result) -> dict:
    """The check as plain data: one entry per node in document order, and every problem."""
    nodes = []
    for n in doc.nodes:
        info = result.nodes.get(n.id)
        nodes.append({
            "id": n.id, "type": n.type,
            "out_shape": None if info is None or info.out_shape is None else list(info.out_shape),
            "in_shapes": [] if info is None else [list(s) for s in info.in_shapes],
            "params": None if info is None else info.n_params,
            "flops": None if info is None else info.flops,
        })
    return {
        "name": doc.name, "ok": result.ok, "nodes": nodes,
        "total_params": result.total_params, "total_flops": result.total_flops,
        "problems": [{"node": p.node, "edge": p.edge, "message": str(p)} for p in result.problems],
    }


def format_table(report: dict) -> str:
    header = ("node", "type", "output", "params", "FLOPs")
    rows = [(n["id"], n["type"], _shape(n), f"{n['params']:,}", human(n["flops"])) for n in report["nodes"]]
    rows.append(("total", "", "", f"{report['total_params']:,}", human(report["total_flops"])))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row):  # text columns left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([f"{report['name']}: {len(report['nodes'])} nodes", line(header), rule,
                      *map(line, rows[:-1]), rule, line(rows[-1]),
                      "FLOPs are multiply-adds per sample."])


def _shape(node: dict) -> str:
    from ..graph.catalogue import fmt_shape
    shape = node["out_shape"]
    if shape is None:
        return "?"
    return "scalar loss" if not shape else fmt_shape(tuple(shape))


def human(n: int | None) -> str:
    """1234567 -> '1.23M': enough digits to compare layers at a glance."""
    if n is None:
        return "?"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return str(n)
