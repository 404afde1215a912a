"""Building a network on the canvas with real events: palette drops, port drags,
node drags and rubber-band selection."""
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from engine.graph.document import GraphDocument
from visualizer.editor import edits
from visualizer.editor.port_item import PortItem


def drop_from_palette(window, type_name, view_pos: QPoint):
    """Drop exactly what the palette tree would put in a drag."""
    item = window.palette.items[type_name]
    mime = window.palette.tree.mimeData([item])
    event = QDropEvent(QPointF(view_pos), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.view.dropEvent(event)
    return window.model.doc.nodes[-1].id


def view_pos(window, scene_point):
    return window.view.mapFromScene(scene_point)


def drag(window, start_scene, end_scene, qtbot, steps=6):
    vp = window.view.viewport()
    a, b = view_pos(window, start_scene), view_pos(window, end_scene)
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)


def empty_window(window):
    window.model.set_document(GraphDocument(name="t"))
    window.view.resetTransform()
    window.view.setSceneRect(-500, -500, 3000, 2000)
    window.view.centerOn(600, 100)


def test_build_a_network_by_drops_and_port_drags(window, qtbot):
    empty_window(window)
    ids = [drop_from_palette(window, t, view_pos(window, QPointF(100 + 260 * i, 100)))
           for i, t in enumerate(["Input", "Dense", "ReLU", "CrossEntropy"])]
    doc = window.model.doc
    assert [n.type for n in doc.nodes] == ["Input", "Dense", "ReLU", "CrossEntropy"]
    # dropped where the cursor was (the node is centred on the drop point)
    x, y = doc.node(ids[1]).pos
    assert abs(x + 92 - 360) < 2 and abs(y + 33 - 100) < 2
    items = window.scene.node_items
    for a, b in zip(ids, ids[1:]):
        start = items[a].outputs["out"].scenePos()
        end = items[b].inputs["in"].scenePos()
        drag(window, start, end + QPointF(6, 4), qtbot)  # near the port is close enough
    assert [(e.src, e.dst) for e in doc.edges] == list(zip(ids, ids[1:]))
    # The shapes are sound, but the check before Train wants a dataset, and then the
    # 64 outputs of the Dense cannot score the 2 classes of the spiral: one sentence each,
    # pinned to the one node that must change, Train disabled, and a one-click fix.
    analysis = window.model.flush_analysis()
    assert [(p.node, str(p)) for p in analysis.problems] == [
        (ids[0], "The graph has no dataset: choose one under Data & training.")]
    assert not window.actions["train"].isEnabled()
    assert "no dataset" in window.actions["train"].toolTip()
    edits.set_dataset(window.model, {"name": "spiral", "params": {}})
    analysis = window.model.flush_analysis()
    expected = f"Dense '{ids[1]}' gives 64 class scores, but Dataset 'spiral' has 2 classes (ids 0..1)."
    assert [(p.node, str(p)) for p in analysis.problems] == [(ids[1], expected)]
    assert [nid for nid, it in items.items() if it.problem] == [ids[1]]  # only the offending node is red
    assert not window.actions["train"].isEnabled()
    [fix] = window.problems.fix_buttons
    assert fix.text() == "Fix: set its units to 2"
    fix.click()
    assert window.model.doc.node(ids[1]).params["units"] == 2
    assert window.model.flush_analysis().ok and window.actions["train"].isEnabled()
    window.model.undo_stack.undo()  # the fix was one undo step
    assert "units" not in window.model.doc.node(ids[1]).params  # back to the default, 64
    window.model.undo_stack.undo()  # and so was choosing the dataset
    window.model.flush_analysis()
    assert "(N, 64)" in items[ids[1]].shape_text
    edge_items = window.scene.edge_items
    assert [it.label for e in doc.edges for it in edge_items[e]] == ["(N, 2)", "(N, 64)", "(N, 64)"]
    # every link drag was one undoable step
    stack = window.model.undo_stack
    stack.undo()
    assert len(doc.edges) == 2 and len(edge_items) == 2
    stack.redo()
    assert len(edge_items) == 3


def test_compatible_ports_light_up_while_dragging(window, qtbot):
    empty_window(window)
    ids = [drop_from_palette(window, t, view_pos(window, QPointF(100 + 260 * i, 100)))
           for i, t in enumerate(["Input", "Dense", "ReLU"])]
    items = window.scene.node_items
    drag(window, items[ids[0]].outputs["out"].scenePos(), items[ids[1]].inputs["in"].scenePos(), qtbot)
    vp = window.view.viewport()
    start = view_pos(window, items[ids[0]].outputs["out"].scenePos())
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, start)
    QTest.mouseMove(vp, start + QPoint(40, 30))
    states = {(p.node_id, p.name, p.is_input): p.state for p in window.scene.all_ports()}
    assert states[(ids[2], "in", True)] == PortItem.COMPATIBLE
    assert states[(ids[1], "in", True)] == PortItem.DIMMED      # already fed, not multi
    assert states[(ids[1], "out", False)] == PortItem.DIMMED    # output to output
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, start + QPoint(40, 30))
    assert len(window.model.doc.edges) == 1                     # released on nothing
    assert all(p.state == PortItem.NORMAL for p in window.scene.all_ports())


def test_dragging_a_fed_input_reroutes_or_removes_its_edge(window, qtbot):
    empty_window(window)
    ids = [drop_from_palette(window, t, view_pos(window, QPointF(100 + 260 * i, 100 + 120 * (i == 2))))
           for i, t in enumerate(["Input", "Dense", "ReLU"])]
    items = window.scene.node_items
    drag(window, items[ids[0]].outputs["out"].scenePos(), items[ids[1]].inputs["in"].scenePos(), qtbot)
    # pick the edge up at Dense's input and drop it on ReLU's input: one undo step
    drag(window, items[ids[1]].inputs["in"].scenePos(), items[ids[2]].inputs["in"].scenePos(), qtbot)
    assert [(e.src, e.dst) for e in window.model.doc.edges] == [(ids[0], ids[2])]
    window.model.undo_stack.undo()
    assert [(e.src, e.dst) for e in window.model.doc.edges] == [(ids[0], ids[1])]
    # and dropped on empty canvas, it is removed
    drag(window, items[ids[1]].inputs["in"].scenePos(), QPointF(500, 500), qtbot)
    assert window.model.doc.edges == []


def test_multi_node_drag_is_one_undo_step(window, qtbot):
    empty_window(window)
    ids = [drop_from_palette(window, t, view_pos(window, QPointF(100 + 260 * i, 100)))
           for i, t in enumerate(["Input", "Dense", "ReLU"])]
    window.scene.select_nodes(ids[:2])
    before = {i: window.model.doc.node(i).pos for i in ids}
    count = window.model.undo_stack.count()
    body = window.scene.node_items[ids[1]].scenePos() + QPointF(90, 50)
    drag(window, body, body + QPointF(40, 60), qtbot)
    after = {i: window.model.doc.node(i).pos for i in ids}
    assert window.model.undo_stack.count() == count + 1
    for i in ids[:2]:
        assert after[i] == (before[i][0] + 40, before[i][1] + 60)
    assert after[ids[2]] == before[ids[2]]
    window.model.undo_stack.undo()
    assert {i: window.model.doc.node(i).pos for i in ids} == before
    assert window.scene.node_items[ids[0]].pos() == QPointF(*before[ids[0]])


def test_rubber_band_selects_nodes_inside(window, qtbot):
    empty_window(window)
    ids = [drop_from_palette(window, t, view_pos(window, QPointF(100 + 260 * i, 100)))
           for i, t in enumerate(["Input", "Dense", "ReLU"])]
    drag(window, QPointF(-60, 20), QPointF(500, 200), qtbot)
    assert window.scene.selected_node_ids() == ids[:2]
    assert window.inspector.node_id is None  # two selected: nothing to inspect
    window.select_all()
    assert window.scene.selected_node_ids() == ids
