"""Editor scale: a generated ~1,000-node DenseNet opens, lays out, and pans smoothly.

Reports: document load (parse + validate), auto-layout, scene build (items + edge routes),
shape analysis, and the frame time of rendering the canvas while panning (median and p95),
at a readable zoom and zoomed out. Target: load + layout <= 1 s.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/editor_scale.py [--layers 140]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def densenet_dict(layers: int, growth: int = 4, per_block: int = 12) -> dict:
    nodes, edges = [], []

    def node(nid, type_, **params):
        nodes.append({"id": nid, "type": type_, "params": params, "pos": [0, 0]})
        return nid

    def link(a, b):
        edges.append({"from": f"{a}.out", "to": f"{b}.in"})

    prev = node("x", "Input", shape=[8, 8, 8])
    prev_c = 16
    stem = node("stem", "Conv2d", channels=prev_c, kernel=3)
    link(prev, stem)
    prev = stem
    for i in range(layers):
        chain = [node(f"bn{i}a", "BatchNorm2d"), node(f"relu{i}a", "ReLU"),
                 node(f"conv{i}a", "Conv2d", channels=4 * growth, kernel=1),
                 node(f"bn{i}b", "BatchNorm2d"), node(f"relu{i}b", "ReLU"),
                 node(f"conv{i}b", "Conv2d", channels=growth, kernel=3)]
        link(prev, chain[0])
        for a, b in zip(chain, chain[1:]):
            link(a, b)
        cat = node(f"cat{i}", "Concat")
        link(prev, cat)
        link(chain[-1], cat)
        prev, prev_c = cat, prev_c + growth
        if (i + 1) % per_block == 0 and i + 1 < layers:  # transition halves the channels
            prev_c //= 2
            t = node(f"trans{i}", "Conv2d", channels=prev_c, kernel=1)
            link(prev, t)
            prev = t
    for nid, type_, params in (("gap", "GlobalAvgPool", {}), ("fc", "Dense", {"units": 10}),
                               ("loss", "CrossEntropy", {})):
        node(nid, type_, **params)
        link(prev, nid)
        prev = nid
    return {"format": "neurostudio.graph", "version": 1, "name": f"DenseNet x{layers}",
            "nodes": nodes, "edges": edges, "dataset": {"name": "shapes", "params": {}}, "training": {}}


def frame_times(app, view, frames: int, step: int):
    """Scroll, then repaint the viewport synchronously: the real paint path, item caches
    included (rendering into a QImage with view.render() would bypass them)."""
    bar = view.horizontalScrollBar()
    times = []
    for i in range(frames):
        t0 = time.perf_counter()
        bar.setValue(bar.value() + (step if (i // 40) % 2 == 0 else -step))
        view.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=140, help="dense layers (7 nodes each)")
    ap.add_argument("--frames", type=int, default=120)
    args = ap.parse_args()

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from engine.graph.document import GraphDocument
    from visualizer.editor.layout import layered_layout
    from visualizer.editor.model import DocumentModel
    from visualizer.editor.scene import EditorScene
    from visualizer.editor.view import EditorView
    from visualizer.theme import LIGHT

    app = QApplication.instance() or QApplication([])
    data = densenet_dict(args.layers)
    t0 = time.perf_counter()
    doc = GraphDocument.from_dict(data)
    t1 = time.perf_counter()
    for nid, pos in layered_layout(doc).items():
        doc.node(nid).pos = pos
    t2 = time.perf_counter()
    model = DocumentModel(doc)
    analysis = model.flush_analysis()
    t3 = time.perf_counter()
    scene = EditorScene(model, LIGHT)
    view = EditorView(scene)
    view.resize(1200, 800)
    view.show()
    app.processEvents()
    t4 = time.perf_counter()
    assert analysis.ok, analysis.problems[:3]
    print(f"graph: {len(doc.nodes)} nodes, {len(doc.edges)} edges, {analysis.total_params:,} params")
    print(f"load (parse + validate): {(t1 - t0) * 1000:7.1f} ms")
    print(f"auto-layout:             {(t2 - t1) * 1000:7.1f} ms")
    print(f"load + layout:           {(t2 - t0) * 1000:7.1f} ms   (target <= 1000 ms)")
    print(f"shape analysis (cold):   {(t3 - t2) * 1000:7.1f} ms")
    print(f"scene build + routing:   {(t4 - t3) * 1000:7.1f} ms")
    t5 = time.perf_counter()
    model.schedule_analysis()
    model.flush_analysis()
    print(f"shape analysis (warm):   {(time.perf_counter() - t5) * 1000:7.1f} ms  (re-run after an edit)")
    app.processEvents()
    view.set_zoom(0.6)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
    view.setSceneRect(scene.itemsBoundingRect())
    view.centerOn(scene.node_items["x"])
    med, p95 = frame_times(app, view, args.frames, 40)
    print(f"pan at zoom 0.6:         median {med:5.1f} ms, p95 {p95:5.1f} ms per frame")
    view.set_zoom(0.15)
    med, p95 = frame_times(app, view, args.frames, 40)
    print(f"pan at zoom 0.15:        median {med:5.1f} ms, p95 {p95:5.1f} ms per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
