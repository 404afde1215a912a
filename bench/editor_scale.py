"""Editor scale: a 10,000-node ResNet-style document with blocks opens, expands and pans fluidly.

Bars (issue 21), measured under a real X server:
  - opening the document (parse + validate + model + scene + view) and painting its first
    frame: <= 1 s;
  - expanding one block (the command, new items, the repaint): <= 100 ms;
  - pan and zoom frames: p95 <= 16 ms, with the top level folded, one stage open, and every
    block open (items near the screen at a readable zoom, the map zoomed far out).
A pan frame is one scroll and the event-loop pass that follows it: Qt moves the pixels and
paints the strip that came into view, and items for what came near the screen are made. A
zoom frame is one 10 % wheel step and its pass, which repaints the whole viewport.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python bench/editor_scale.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/editor_scale.py --stages 4 --blocks 20   # quick
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resnet_blocks_dict(stages: int = 16, blocks: int = 89, width: int = 8, open_all: bool = False) -> dict:
    """Input, stem, ``stages`` stages of ``blocks`` basic blocks (7 layers each), head: about
    7 x stages x blocks nodes. Stages and basic blocks are blocks, folded unless ``open_all``."""
    nodes, edges, out = [], [], []

    def node(nid, type_, **params):
        nodes.append({"id": nid, "type": type_, "params": params, "pos": [0, 0]})
        return nid

    def link(a, b):
        edges.append({"from": f"{a}.out", "to": f"{b}.in"})

    prev = node("x", "Input", shape=[1, 28, 28])
    stem = node("stem", "Conv2d", channels=width, kernel=3)
    link(prev, stem)
    prev = stem
    for s in range(stages):
        out.append({"id": f"stage{s}", "name": f"Stage {s + 1}", "nodes": [], "collapsed": not open_all})
        for b in range(blocks):
            p = f"s{s}b{b}_"
            chain = [node(p + "conv1", "Conv2d", channels=width, kernel=3), node(p + "bn1", "BatchNorm2d"),
                     node(p + "relu1", "ReLU"), node(p + "conv2", "Conv2d", channels=width, kernel=3),
                     node(p + "bn2", "BatchNorm2d"), node(p + "add", "Add"), node(p + "relu2", "ReLU")]
            link(prev, chain[0])
            link(prev, chain[5])  # the identity shortcut
            for a, c in zip(chain, chain[1:]):
                link(a, c)
            out.append({"id": f"s{s}b{b}", "name": f"Basic block {s + 1}.{b + 1}", "parent": f"stage{s}",
                        "nodes": chain, "collapsed": not open_all})
            prev = chain[-1]
    for nid, type_, params in (("gap", "GlobalAvgPool", {}), ("fc", "Dense", {"units": 10}),
                               ("loss", "CrossEntropy", {})):
        node(nid, type_, **params)
        link(prev, nid)
        prev = nid
    return {"format": "neurostudio.graph", "version": 2, "name": f"ResNet-style x{stages * blocks}",
            "nodes": nodes, "edges": edges, "blocks": out, "dataset": {"name": "shapes", "params": {}},
            "training": {}}


def laid_out(data: dict) -> tuple[str, float]:
    """The document as a saved file would hold it (positions from the editor's layout)."""
    from engine.graph.document import GraphDocument
    from visualizer.editor.layout import apply_positions, layout_all
    doc = GraphDocument.from_dict(data, validate=False)
    t0 = time.perf_counter()
    apply_positions(doc, layout_all(doc))
    return doc.to_json(), time.perf_counter() - t0


GC_PAUSES: list[float] = []  # full collections during the measured frames and expands, in ms
MEASURING = [False]


def _gc_watch(phase, info) -> None:
    if info.get("generation") == 2 and MEASURING[0]:
        if phase == "start":
            _gc_watch.t0 = time.perf_counter()
        else:
            GC_PAUSES.append((time.perf_counter() - _gc_watch.t0) * 1000)


def pct(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def frames(app, view, n: int, step: int, zoom: bool = False) -> tuple[float, float]:
    """Pan by ``step`` px a frame (40 frames one way, then back), or zoom in and out by 10 %
    a frame (4 steps one way, then back)."""
    bar = view.horizontalScrollBar()
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        if zoom:
            view.set_zoom(view.zoom() * (1.1 if (i // 4) % 2 == 0 else 1 / 1.1))
        else:
            bar.setValue(bar.value() + (step if (i // 40) % 2 == 0 else -step))
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
    return pct(times)


def open_document(app, text: str, size):
    from engine.graph.document import GraphDocument
    from visualizer.editor.model import DocumentModel
    from visualizer.editor.scene import EditorScene
    from visualizer.editor.view import EditorView
    from visualizer.theme import LIGHT
    t0 = time.perf_counter()
    doc = GraphDocument.from_json(text)
    t1 = time.perf_counter()
    model = DocumentModel(doc)  # its shape analysis waits for the event loop, after this frame
    scene = EditorScene(model, LIGHT)
    view = EditorView(scene)
    view.resize(*size)
    view.show()
    view.zoom_to_fit()
    view.viewport().repaint()
    t2 = time.perf_counter()
    return model, scene, view, (t1 - t0) * 1000, (t2 - t0) * 1000


def report_pan(app, view, scene, label: str, zoom: float, n: int, centre=None) -> list[float]:
    view.set_zoom(zoom)
    if centre is not None:
        view.centerOn(centre)
    for _ in range(3):
        app.processEvents()
    med, p95 = frames(app, view, n, 40)
    zmed, zp95 = frames(app, view, n // 2, 0, zoom=True)
    items = len(scene.node_items) + len(scene.frame_items) + sum(len(v) for v in scene.edge_items.values())
    mode = "map" if scene.map_mode else f"{items} items"
    print(f"  {label:<34} zoom {zoom:4.2f}: pan median {med:5.1f} ms, p95 {p95:5.1f} ms;"
          f" zoom median {zmed:5.1f} ms, p95 {zp95:5.1f} ms  ({mode}, {scene.count():,} drawn)")
    return [p95, zp95]


def blocks_bench(app, args) -> int:
    from PySide6.QtCore import QPointF, Qt
    from visualizer import heap
    from visualizer.editor import block_edits
    size = (1600, 900)
    data = resnet_blocks_dict(args.stages, args.blocks)
    text, layout_s = laid_out(data)
    n_nodes, n_blocks = len(data["nodes"]), len(data["blocks"])
    print(f"graph: {n_nodes:,} nodes, {len(data['edges']):,} edges, {n_blocks:,} blocks "
          f"({args.stages} stages of {args.blocks} basic blocks), {len(text) / 1e6:.1f} MB of JSON")
    print(f"layout of every level (once, when the file was made): {layout_s * 1000:.0f} ms")
    # the app has a document open before this one (it starts on a template): warm up the same way
    from engine.templates import templates_dir
    warm = open_document(app, (templates_dir() / "resnet.json").read_text(), size)
    warm[2].close()
    warm[2].deleteLater()
    app.processEvents()
    opens = []
    for _ in range(args.repeats):
        model, scene, view, load_ms, first_ms = open_document(app, text, size)
        opens.append((load_ms, first_ms))
        if _ < args.repeats - 1:
            view.close()
            view.deleteLater()
            app.processEvents()
    load_ms = statistics.median(o[0] for o in opens)
    first_ms = statistics.median(o[1] for o in opens)
    first_max = max(o[1] for o in opens)
    print(f"open: parse + validate {load_ms:.0f} ms; to the first frame painted {first_ms:.0f} ms "
          f"(median of {args.repeats}; the first {opens[0][1]:.0f} ms, the slowest {first_max:.0f} ms; bar <= 1000 ms)")
    t0 = time.perf_counter()
    analysis = model.flush_analysis()
    print(f"shape analysis after the first frame (cold): {(time.perf_counter() - t0) * 1000:.0f} ms, "
          f"{'ok' if analysis.ok else analysis.problems[:1]}")
    t0 = time.perf_counter()
    heap.settle_document(n_nodes)  # the window does this once a big document is drawn
    print(f"heap settled after it (once, a big document only): {(time.perf_counter() - t0) * 1000:.0f} ms")
    MEASURING[0] = True
    app.processEvents()
    p95s = report_pan(app, view, scene, "top level folded", view.zoom(), args.frames)

    # expanding: double-click a stage, then a basic block in it; fold them again
    expand = []
    view.set_zoom(0.6)
    for s in range(0, args.stages, max(1, args.stages // 6)):
        for block in (f"stage{s}", f"s{s}b{args.blocks // 2}"):
            r = scene.geo.abs_rect(block)
            view.centerOn(QPointF((r[0] + r[2]) / 2, (r[1] + r[3]) / 2))
            app.processEvents()
            t0 = time.perf_counter()
            block_edits.set_collapsed(model, block, False)
            app.processEvents()
            view.viewport().repaint()
            expand.append((time.perf_counter() - t0) * 1000)
        for block in (f"s{s}b{args.blocks // 2}", f"stage{s}"):
            block_edits.set_collapsed(model, block, True)
        app.processEvents()
    med, worst = statistics.median(expand), max(expand)
    print(f"expand one block (stage or basic block, {len(expand)} tries): median {med:.0f} ms, "
          f"worst {worst:.0f} ms (bar <= 100 ms)")

    mid = args.stages // 2
    block_edits.set_collapsed(model, f"stage{mid}", False)
    block_edits.set_collapsed(model, f"s{mid}b0", False)
    app.processEvents()
    r = scene.geo.abs_rect(f"s{mid}b0")
    start = QPointF(r[0] + 400, (r[1] + r[3]) / 2)
    p95s += report_pan(app, view, scene, f"stage {mid + 1} open", 0.6, args.frames, start)
    p95s += report_pan(app, view, scene, f"stage {mid + 1} open", 0.36, args.frames, start)
    view.close()
    view.deleteLater()
    app.processEvents()

    MEASURING[0] = False
    everything = resnet_blocks_dict(args.stages, args.blocks, open_all=True)
    text_all, _ = laid_out(everything)
    model, scene, view, _, first_all = open_document(app, text_all, size)
    model.flush_analysis()
    heap.settle_document(n_nodes)
    MEASURING[0] = True
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
    print(f"every block open: first frame {first_all:.0f} ms")
    r = scene.geo.abs_rect(f"s{mid}b{args.blocks // 2}")
    centre = QPointF((r[0] + r[2]) / 2, (r[1] + r[3]) / 2)
    p95s += report_pan(app, view, scene, "every block open", 0.6, args.frames, centre)
    p95s += report_pan(app, view, scene, "every block open", 0.36, args.frames, centre)
    p95s += report_pan(app, view, scene, "every block open (map)", 0.15, args.frames, centre)
    p95s += report_pan(app, view, scene, "every block open (map)", 0.05, args.frames, centre)
    print(f"worst pan/zoom p95: {max(p95s):.1f} ms (bar <= 16 ms)")
    print(f"full garbage collections while expanding, panning and zooming: {len(GC_PAUSES)}"
          + (f", longest {max(GC_PAUSES):.0f} ms" if GC_PAUSES else ""))
    ok = first_max <= 1000 and worst <= 100 and max(p95s) <= 16
    print("bars:", "met" if ok else "NOT met")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", type=int, default=16)
    ap.add_argument("--blocks", type=int, default=89, help="basic blocks per stage (7 nodes each)")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=5, help="openings of the document (median reported)")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])
    import visualizer.editor.scene  # noqa: F401  (the app has these loaded before any document)
    import visualizer.editor.view  # noqa: F401
    from visualizer import heap
    heap.settle()  # as the app does once its window is up (visualizer/app.py)
    import gc
    gc.callbacks.append(_gc_watch)
    print(f"Qt platform: {app.platformName()}, {os.cpu_count()} cores")
    return blocks_bench(app, args)


if __name__ == "__main__":
    sys.exit(main())
