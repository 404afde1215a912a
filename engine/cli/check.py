"""``python -m engine check GRAPH.json``: every node's output shape, weights and FLOPs, or
every problem of the graph, one line each, pinned to its node."""
from __future__ import annotations

import json
import sys

from ..graph.document import GraphDocument, load_graph
from ..graph.errors import GraphError

HELP = "Check a graph document: shapes, params and FLOPs per node."


def add_arguments(parser) -> None:
    parser.add_argument("graph", metavar="GRAPH.json", help="The graph document to check.")
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")


def run(args) -> int:
    try:
        doc = load_graph(args.graph, validate=False)
    except GraphError as err:
        print(str(err), file=sys.stderr)
        return 1
    from ..graph.shapes import analyse  # after loading: a broken file is reported without importing torch
    result = analyse(doc)
    report = build_report(doc, result)
    if args.json:
        print(json.dumps(report, indent=2))
    elif result.problems:
        for p in report["problems"]:
            print(f"node {p['node']}: {p['message']}" if p["node"] else f"graph: {p['message']}")
    else:
        print(format_table(report))
    return 0 if result.ok else 1


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
