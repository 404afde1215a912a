"""Benchmark: analyse() on a 1,000-node DenseNet-like graph, cold and after a one-node edit.

    .venv/bin/python bench/shape_inference.py [--repeats 5] [--nodes 1000]

Cold = an empty shape cache (the first analysis after opening a file); warm = the analysis the
editor runs after one param edit (the memo cache holds the unchanged nodes). Target: cold
<= 0.5 s. Prints the medians and writes them to bench/results/shape_inference.txt.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine.graph import shapes  # noqa: E402
from engine.graph.document import Edge, GraphDocument, Node  # noqa: E402

GROWTH, LAYERS_PER_BLOCK, TRANSITION_CHANNELS = 8, 6, 32


def dense_graph(n_nodes: int, transitions: bool = True) -> GraphDocument:
    """Input -> (BN, ReLU, 3x3 conv, Concat) layers -> loss, with a 1x1 transition every six
    layers (a real DenseNet: shapes repeat per block) or none (channels grow to ~2,000 and
    every node's shape is new: the memo cache never helps, the worst case)."""
    doc = GraphDocument(name=f"dense{n_nodes}", dataset={"name": "shapes_color", "params": {}})

    def add(type_, inputs, **params):
        nid = f"n{len(doc.nodes)}"
        doc.nodes.append(Node(nid, type_, params, (200.0 * len(doc.nodes), 0.0)))
        doc.edges.extend(Edge(src, "out", nid, "in") for src in inputs)
        return nid

    cur = add("Input", [], shape=[TRANSITION_CHANNELS, 8, 8])
    layer = 0
    while len(doc.nodes) < n_nodes - 4:
        bn = add("BatchNorm2d", [cur])
        act = add("ReLU", [bn])
        conv = add("Conv2d", [act], channels=GROWTH, kernel=3)
        cur = add("Concat", [cur, conv])
        layer += 1
        if transitions and layer % LAYERS_PER_BLOCK == 0 and len(doc.nodes) < n_nodes - 7:
            cur = add("Conv2d", [add("ReLU", [add("BatchNorm2d", [cur])])], channels=TRANSITION_CHANNELS, kernel=1)
    while len(doc.nodes) < n_nodes - 3:
        cur = add("ReLU", [cur])
    add("CrossEntropy", [add("Dense", [add("GlobalAvgPool", [cur])], units=10)])
    return doc


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(doc: GraphDocument, repeats: int) -> tuple[list[float], list[float]]:
    result = shapes.analyse(doc)  # also warms torch's own lazy initialisation
    assert result.ok, result.problems[:3]
    # an edit in the middle of the graph: shapes change downstream (to the next transition)
    convs = [n for n in doc.nodes if n.type == "Conv2d" and n.params["kernel"] == 3]
    target = convs[len(convs) // 2]
    cold, warm = [], []
    for i in range(repeats):
        shapes._cache.clear()
        cold.append(timed(lambda: shapes.analyse(doc)))
        target.params["channels"] = GROWTH + 1 + i % 2  # a value the cache has not seen this round
        warm.append(timed(lambda: shapes.analyse(doc)))
        target.params["channels"] = GROWTH
        shapes.analyse(doc)
    return cold, warm


def _ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:.0f} ms (min {min(xs) * 1e3:.0f}, max {max(xs) * 1e3:.0f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "shape_inference.txt"))
    args = ap.parse_args(argv)

    lines = [f"analyse() on {args.nodes}-node DenseNet-like graphs, {args.repeats} runs each",
             f"machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
             f"threads, Python {platform.python_version()}, torch {torch.__version__}; "
             f"load average at start {os.getloadavg()[0]:.1f}"]
    for label, transitions in (("DenseNet blocks (transition every 6 layers)", True),
                               ("no transitions: every node's shape distinct (worst case)", False)):
        doc = dense_graph(args.nodes, transitions)
        cold, warm = measure(doc, args.repeats)
        verdict = "met" if statistics.median(cold) <= 0.5 else "MISSED"
        lines += [f"{label}: {len(doc.nodes)} nodes, {len(doc.edges)} edges",
                  f"  cold (empty cache): {_ms(cold)}; target <= 500 ms: {verdict}",
                  f"  warm (one conv's channels edited): {_ms(warm)}"]
        print("\n".join(lines[-3:]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
