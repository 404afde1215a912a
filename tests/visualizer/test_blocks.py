"""Blocks on the canvas: group and ungroup round-trip through save/load and undo/redo with
nothing moving on screen, folding makes and gives back room, a folded block is one box with
its ports, totals and the inner node's error, search opens what a node is folded in, the
views follow a block's chosen member, and a big graph holds items only near the screen."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QPointF

from engine.graph.document import GraphDocument
from visualizer.editor import block_edits, edits
from visualizer.editor.block_item import BlockItem, FrameItem
from visualizer.editor.canvas_bar import search_matches
from visualizer.editor.geometry import Geometry
from visualizer.editor.model import DocumentModel
from visualizer.editor.scene import EditorScene
from visualizer.editor.view import EditorView
from visualizer.theme import LIGHT

V1_RESNET = Path(__file__).parents[1] / "engine" / "data" / "resnet_v1.json"


def canvas(qtbot, doc: GraphDocument):
    model = DocumentModel(doc)
    scene = EditorScene(model, LIGHT)
    view = EditorView(scene)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    model.flush_analysis()
    scene.flush()
    return model, scene, view


def on_canvas(model) -> dict:
    """Where every node is drawn when every block is open (what must not move)."""
    geo = Geometry(model.doc, model.doc.tree(), collapsed={b.id: False for b in model.doc.blocks})
    return {n.id: geo.abs_rect(n.id) for n in model.doc.nodes}


def test_group_and_ungroup_round_trip_through_undo_and_a_file(qtbot, tmp_path):
    model, scene, _ = canvas(qtbot, GraphDocument.from_dict(json.loads(V1_RESNET.read_text())))
    flat, where = model.doc.to_dict(), on_canvas(model)
    block1 = block_edits.group(model, [n.id for n in model.doc.nodes if n.id.startswith("s1b1_")], "Basic 1")
    block2 = block_edits.group(model, [n.id for n in model.doc.nodes if n.id.startswith("s1b2_")])
    stage = block_edits.group(model, [block1, block2], "Stage 1")
    scene.flush()
    doc = model.doc
    assert [b.id for b in doc.blocks] == [block1, block2, stage] and doc.block(block1).parent == stage
    assert doc.block(block2).name == "Block 2" and doc.node("s1b2_add").block == block2
    assert on_canvas(model) == where  # nothing moved on screen
    assert {block1, block2, stage} <= set(scene.frame_items)
    grouped = doc.to_dict()
    path = tmp_path / "g.json"
    path.write_text(doc.to_json())
    again = GraphDocument.from_json(path.read_text())
    assert again.to_dict() == grouped
    block_edits.rename(model, stage, "First stage")
    assert scene.frame_items[stage].title == "First stage"
    model.undo_stack.undo()
    assert doc.block(stage).name == "Stage 1"
    for _ in range(3):
        model.undo_stack.undo()
    assert doc.to_dict() == flat and not scene.frame_items
    for _ in range(3):
        model.undo_stack.redo()
    assert doc.to_dict() == grouped
    # ungroup the stage, then its blocks: back to the flat graph, nothing moved
    assert set(block_edits.ungroup(model, stage)) == {block1, block2}
    block_edits.ungroup(model, block1)
    block_edits.ungroup(model, block2)
    assert model.doc.to_dict() == flat and on_canvas(model) == where
    model.undo_stack.undo()
    assert doc.node("s1b2_add").block == block2


def test_group_refuses_layers_of_different_levels(qtbot):
    model, _, _ = canvas(qtbot, GraphDocument.from_dict(json.loads(V1_RESNET.read_text())))
    block = block_edits.group(model, ["s1b1_conv1", "s1b1_bn1"])
    assert block_edits.group_problem(model, ["s1b1_conv1", "stem"]) == \
        "Select layers inside one block (or all outside blocks) to group them."
    assert block_edits.group_problem(model, []) == "Select the layers to group first."
    assert block_edits.group(model, ["s1b1_conv1", "stem"]) is None and len(model.doc.blocks) == 1
    assert block_edits.group(model, [block, "stem"]) is not None  # a block and a node of one level


def test_folding_pushes_neighbours_and_gives_the_room_back(qtbot):
    from engine.templates import load_template
    model, scene, view = canvas(qtbot, load_template("resnet"))
    doc = model.doc
    before = doc.to_dict()
    stage1 = scene.node_items["stage1"]
    assert isinstance(stage1, BlockItem) and stage1.layers == "21 layers"
    assert stage1.summary == "3.55k params · 2.84M FLOPs"  # the box's last line
    assert stage1.shape_text == "(N, 8, 28, 28)"
    assert list(stage1.inputs) == ["stem_relu.out"] and list(stage1.outputs) == ["s1b3_relu2.out"]
    x2 = doc.block("stage2").pos[0]
    assert block_edits.set_collapsed(model, "stage1", False)
    scene.flush()
    assert isinstance(scene.frame_items["stage1"], FrameItem) and "stage1" not in scene.node_items
    assert {"s1b1", "s1b2", "s1b3"} <= set(scene.node_items)
    frame = scene.frame_items["stage1"].rect_in_scene()
    assert doc.block("stage2").pos[0] > x2 and scene.node_items["stage2"].rect_in_scene().left() > frame.right()
    # the drawn edge into the open stage now reaches its first basic block's port
    assert any(k.src == "stem_block" and k.dst == "s1b1" for k in scene.edge_items)
    block_edits.set_collapsed(model, "stage1", True)
    assert doc.to_dict() == before  # everything back where it was
    model.undo_stack.undo()
    model.undo_stack.undo()
    assert doc.to_dict() == before and isinstance(scene.node_items["stage1"], BlockItem)
    model.undo_stack.redo()
    scene.flush()
    assert "stage1" in scene.frame_items


def test_an_error_inside_a_folded_block_marks_it_naming_the_inner_node(qtbot):
    from engine.templates import load_template
    model, scene, _ = canvas(qtbot, load_template("resnet"))
    edits.set_param(model, "s2b2_conv2", "channels", 5)  # the sum in s2b2 cannot add 5 to 16 channels
    analysis = model.flush_analysis()
    problem = next(str(p) for p in analysis.problems)
    assert "s2b2" in problem
    item = scene.node_items["stage2"]
    assert item.problem == problem and "s2b2" in item.toolTip()
    assert scene.node_items["stage1"].problem is None


def test_search_opens_the_blocks_around_a_node_and_selects_it(window, qtbot):
    window.open_template("resnet")
    doc, tree = window.model.doc, window.model.tree
    assert search_matches(doc, tree, "s2b3_bn")[:2] == ["s2b3_bn1", "s2b3_bn2"]
    assert search_matches(doc, tree, "Stage 2")[0] == "stage2"
    window.canvas_pane.search.setText("s2b3_conv2")
    window.canvas_pane.search.returnPressed.emit()
    assert not doc.block("stage2").collapsed and not doc.block("s2b3").collapsed
    assert window.scene.selected_units() == ["s2b3_conv2"]
    item = window.scene.node_items["s2b3_conv2"]
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.contains(item.sceneBoundingRect().center())
    assert window.canvas_pane.crumb_names() == ["Graph", "Stage 2", "Basic block 2.3"]
    window.canvas_pane.search.setText("no such layer")
    window.canvas_pane.search.returnPressed.emit()
    assert window.canvas_pane.message.text() == "No layer or block matches 'no such layer'."
    window.model.undo_stack.undo()  # one step opened both blocks
    assert doc.block("stage2").collapsed and doc.block("s2b3").collapsed


def test_a_selected_block_lists_its_probed_members_and_the_views_follow_one(window, qtbot):
    window.open_template("resnet")
    window.scene.select_nodes(["stage3"])
    assert window.state.selection == ("stage3",)
    assert window.inspector.heading.text() == "Block  ·  stage3"
    members = [window.inspector.members.item(i).text() for i in range(window.inspector.members.count())]
    assert members[0] == "s3b1_conv1  (Conv2d)" and len(members) == 23
    assert window.state.selected_node == "s3b1_conv1" and all(v.node_id == "s3b1_conv1" for v in window.hub.views)
    window.inspector.members.setCurrentRow(2)
    assert window.state.selected_node == "s3b1_relu1" and all(v.node_id == "s3b1_relu1" for v in window.hub.views)
    # the strip above the canvas offers the same choice in every workspace
    box = window.canvas_pane.member_box
    assert not box.isHidden() and box.count() == 23 and box.currentData() == "s3b1_relu1"
    box.setCurrentIndex(box.findData("s3b2_conv2"))
    assert window.state.selected_node == "s3b2_conv2"
    assert window.inspector.members.currentItem().text() == "s3b2_conv2  (Conv2d)"
    window.scene.select_nodes(["gap"])
    assert box.isHidden()
    # Ctrl+G and F2 on the canvas
    window.scene.select_nodes(["gap", "logits"])
    block = window.group_selection()
    assert window.model.doc.node("gap").block == block
    window.dialogs.answers["text"] = ["Head"]
    window.scene.select_nodes([block])
    assert window.rename_selected_block() and window.model.doc.block(block).name == "Head"
    window.ungroup_selection()
    assert window.model.doc.node("gap").block is None


def big_doc(stages: int, blocks: int) -> GraphDocument:
    """A ResNet-style graph: stages of basic blocks (7 nodes each), all folded."""
    nodes, edges, out = [{"id": "x", "type": "Input", "params": {"shape": [2, 8, 8]}}], [], []
    prev = "x"
    for s in range(stages):
        out.append({"id": f"st{s}", "name": f"Stage {s}", "nodes": []})
        for b in range(blocks):
            p = f"s{s}b{b}_"
            chain = [(p + "c1", "Conv2d", {"channels": 2, "kernel": 3}), (p + "n1", "BatchNorm2d", {}),
                     (p + "r1", "ReLU", {}), (p + "c2", "Conv2d", {"channels": 2, "kernel": 3}),
                     (p + "n2", "BatchNorm2d", {}), (p + "add", "Add", {}), (p + "r2", "ReLU", {})]
            nodes += [{"id": i, "type": t, "params": q} for i, t, q in chain]
            edges += [{"from": f"{prev}.out", "to": f"{p}c1.in"}, {"from": f"{prev}.out", "to": f"{p}add.in"}]
            edges += [{"from": f"{a[0]}.out", "to": f"{b_[0]}.in"} for a, b_ in zip(chain, chain[1:])]
            out.append({"id": f"s{s}b{b}", "parent": f"st{s}", "nodes": [c[0] for c in chain]})
            prev = p + "r2"
    nodes += [{"id": "gap", "type": "GlobalAvgPool", "params": {}}, {"id": "fc", "type": "Dense", "params": {"units": 3}},
              {"id": "loss", "type": "CrossEntropy", "params": {}}]
    edges += [{"from": f"{prev}.out", "to": "gap.in"}, {"from": "gap.out", "to": "fc.in"},
              {"from": "fc.out", "to": "loss.in"}]
    from visualizer.editor.layout import apply_positions, layout_all
    doc = GraphDocument.from_dict({"format": "neurostudio.graph", "version": 2, "nodes": nodes, "edges": edges,
                                   "blocks": out})
    apply_positions(doc, layout_all(doc))
    return doc


def test_a_big_graph_holds_items_only_near_the_screen(qtbot):
    model, scene, view = canvas(qtbot, big_doc(stages=4, blocks=40))  # 1,124 nodes
    assert len(scene.node_items) == 8 and not scene.frame_items  # x, 4 stages, gap, fc, loss
    for s in range(4):
        block_edits.set_collapsed(model, f"st{s}", False)
    for b in range(40):
        block_edits.set_collapsed(model, f"s0b{b}", False)
    scene.flush()
    drawn = scene.count()
    assert drawn > 400
    view.set_zoom(0.6)
    view.centerOn(scene.node_items["x"])
    scene.flush()
    assert 0 < len(scene.node_items) + len(scene.frame_items) < drawn / 2
    assert all(scene.geo.shown(u) for u in scene.node_items)
    view.set_zoom(0.1)  # far out: a map, no items
    assert scene.map_mode and not scene.node_items and not scene.edge_items
    view.set_zoom(0.6)
    scene.flush()
    assert not scene.map_mode and scene.node_items
    # a selection survives its item going away while panning
    some = next(u for u in scene.node_items if u.startswith("s0b"))
    scene.select_nodes([some])
    view.centerOn(QPointF(scene.nodes_rect().right(), scene.nodes_rect().bottom()))
    scene.flush()
    assert scene.selected_units() == [some]


def test_replay_and_compare_map_blocks_by_id(window, qtbot, tmp_path):
    from engine.session import SessionWriter
    from engine.templates import load_template
    from visualizer.editor.layout import needs_layout
    from visualizer.replay.actions import open_compare
    from visualizer.views.activations import ActivationsView
    paths = []
    for name, rename in (("a", None), ("b", "stage2")):
        doc = load_template("resnet")
        if rename:  # the second run's graph has no block 'stage2'
            doc.block(rename).id = "second_stage"
            for n in doc.nodes:
                n.block = "second_stage" if n.block == rename else n.block
            for b in doc.blocks:
                b.parent = "second_stage" if b.parent == rename else b.parent
        paths.append(tmp_path / f"{name}.session")
        SessionWriter(paths[-1], doc.to_dict(), {}, None).close()
    # a replay opens with the blocks open that the user had open, by id
    window.open_template("resnet")
    block_edits.set_collapsed(window.model, "stage2", False)
    window.model.undo_stack.setClean()
    assert window.open_session(str(paths[0]))
    doc = window.model.doc
    assert not doc.block("stage2").collapsed and doc.block("stage1").collapsed and not needs_layout(doc)
    assert "stage2" in window.scene.frame_items
    # compare: a block chosen in the shared box shows its first member in every run that has it
    cw = open_compare(window, paths, render_hidden=True)
    qtbot.addWidget(cw)
    cw.set_view(ActivationsView)
    box = cw.node_box
    box.setCurrentIndex(box.findData("block:stage3"))
    assert [c.view.node_id for c in cw.columns] == ["s3b1_conv1", "s3b1_conv1"]
    box.setCurrentIndex(box.findData("block:stage2"))
    assert [c.view.node_id for c in cw.columns] == ["s2b1_conv1", "s3b1_conv1"]  # b keeps its own
    assert box.itemText(box.findData("block:stage2")).endswith("(1 runs)")


def test_an_input_fed_from_a_folded_block_can_be_picked_up_and_re_routed(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    window.open_template("resnet")
    scene, view = window.scene, window.view
    gap = scene.node_items["gap"]  # fed by s3b3_relu2, folded inside stage 3
    port = gap.inputs["in"]
    start = view.mapFromScene(port.scenePos())
    target = scene.node_items["logits"].inputs["in"]  # taken: the drop re-routes nothing there
    vp = view.viewport()
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, start)
    QTest.mouseMove(vp, start + (view.mapFromScene(target.scenePos()) - start) / 2)
    empty = view.mapFromScene(gap.sceneBoundingRect().center() + QPointF(0, 400))
    QTest.mouseMove(vp, empty)
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, empty)
    assert not any(e.dst == "gap" for e in window.model.doc.edges)  # dropped on empty canvas: removed
    window.model.undo_stack.undo()
    assert any(e.src == "s3b3_relu2" and e.dst == "gap" for e in window.model.doc.edges)


def test_a_block_name_from_a_file_shows_as_text_not_markup(window, qtbot):
    window.open_template("resnet")
    assert block_edits.rename(window.model, "stage1", "<i>Stage</i> <img src='x'>")
    qtbot.wait(50)
    tip = window.scene.node_items["stage1"].toolTip()
    assert "&lt;i&gt;Stage&lt;/i&gt; &lt;img src='x'&gt;" in tip and "<img" not in tip
