"""Every kind of edit, undone and redone, checked against the document itself."""
from engine.graph.document import GraphDocument
from visualizer.editor import edits
from visualizer.editor.model import DocumentModel


def snapshot(model):
    return model.doc.to_dict()


def build(model):
    x = edits.add_node(model, "Input", (0, 0))
    edits.set_param(model, x, "shape", [4])
    d = edits.add_node(model, "Dense", (300, 0))
    r = edits.add_node(model, "ReLU", (600, 0))
    loss = edits.add_node(model, "CrossEntropy", (900, 0))
    edits.connect(model, x, "out", d, "in")
    edits.connect(model, d, "out", r, "in")
    edits.connect(model, r, "out", loss, "in")
    return x, d, r, loss


def undo_redo_roundtrip(model, before, after):
    stack = model.undo_stack
    stack.undo()
    assert snapshot(model) == before
    stack.redo()
    assert snapshot(model) == after


def test_build_network_and_analysis(qapp):
    model = DocumentModel(GraphDocument())
    x, d, r, loss = build(model)
    assert [n.type for n in model.doc.nodes] == ["Input", "Dense", "ReLU", "CrossEntropy"]
    assert [(e.src, e.dst) for e in model.doc.edges] == [(x, d), (d, r), (r, loss)]
    analysis = model.flush_analysis()
    # sound shapes; the one problem left is the check before Train asking for a dataset
    assert [(p.node, str(p)) for p in analysis.problems] == [
        (x, "The graph has no dataset: choose one under Data & training.")]
    assert analysis.nodes[d].out_shape == (64,)
    assert analysis.nodes[d].n_params == 4 * 64 + 64


def test_every_edit_undoes_and_redoes(qapp):
    model = DocumentModel(GraphDocument())
    stack = model.undo_stack
    states = [snapshot(model)]
    x, d, r, loss = build(model)
    # walk the whole history back to empty and forward again
    history = []
    while stack.canUndo():
        history.append(snapshot(model))
        stack.undo()
    assert snapshot(model) == states[0]
    for expected in reversed(history):
        stack.redo()
    assert snapshot(model) == history[0]

    kinds = [
        lambda: edits.set_param(model, d, "units", 10),
        lambda: edits.move_nodes(model, {d: (310, 20), r: (620, 20)}),
        lambda: edits.set_training(model, "lr", 0.05),
        lambda: edits.set_dataset(model, {"name": "spiral", "params": {"noise": 0.2}}),
        lambda: edits.delete(model, [d]),                      # takes its two edges along
        lambda: edits.paste(model, edits.fragment(model.doc, [x, r]), (30, 30)),
        lambda: edits.auto_layout(model),
    ]
    for edit in kinds:
        before = snapshot(model)
        count = stack.count()
        edit()
        after = snapshot(model)
        assert after != before
        assert stack.count() == count + 1, "each edit is one undo step"
        undo_redo_roundtrip(model, before, after)


def test_delete_restores_edge_order_of_merge_inputs(qapp):
    model = DocumentModel(GraphDocument())
    a = edits.add_node(model, "Input", (0, 0))
    b = edits.add_node(model, "ReLU", (300, 0))
    c = edits.add_node(model, "Tanh", (300, 100))
    cat = edits.add_node(model, "Concat", (600, 0))
    edits.connect(model, a, "out", b, "in")
    edits.connect(model, a, "out", c, "in")
    edits.connect(model, c, "out", cat, "in")
    edits.connect(model, b, "out", cat, "in")
    before = snapshot(model)
    edits.delete(model, [c])
    assert [(e.src, e.dst) for e in model.doc.edges] == [(a, b), (b, cat)]
    model.undo_stack.undo()
    assert snapshot(model) == before  # Concat still takes c first, then b


def test_param_edits_merge_into_one_step(qapp):
    model = DocumentModel(GraphDocument())
    d = edits.add_node(model, "Dense", (0, 0))
    count = model.undo_stack.count()
    for units in (65, 66, 67):
        edits.set_param(model, d, "units", units)
    assert model.undo_stack.count() == count + 1
    model.undo_stack.undo()
    assert model.doc.node(d).params == {}


def test_connect_refuses_what_the_document_cannot_hold(qapp):
    model = DocumentModel(GraphDocument())
    x, d, r, loss = build(model)
    doc = model.doc
    assert "already connected" in edits.connect_problem(doc, x, "out", r, "in")
    assert "cycle" in edits.connect_problem(doc, r, "out", d, "in") or \
        "already connected" in edits.connect_problem(doc, r, "out", d, "in")
    cat = edits.add_node(model, "Concat", (0, 0))
    assert edits.connect_problem(doc, x, "out", cat, "in") is None
    edits.connect(model, x, "out", cat, "in")
    assert edits.connect_problem(doc, d, "out", cat, "in") is None  # multi input
    assert "cycle" in edits.connect_problem(doc, cat, "out", x, "in") or \
        "no input" in edits.connect_problem(doc, cat, "out", x, "in")
    assert edits.connect_problem(doc, r, "out", r, "in") == "a node cannot feed itself"
    assert edits.connect(model, x, "out", r, "in") is None


def test_cycle_is_refused(qapp):
    model = DocumentModel(GraphDocument())
    a = edits.add_node(model, "ReLU", (0, 0))
    b = edits.add_node(model, "Tanh", (0, 0))
    edits.connect(model, a, "out", b, "in")
    assert edits.connect_problem(model.doc, b, "out", a, "in") == "the connection would make a cycle"
