"""The window's application state without a window: documents, the runs bound to them,
the timeline and the selection, driven as the window drives them. No Qt is imported."""
import subprocess
import sys
from pathlib import Path

from engine.graph.document import GraphDocument
from visualizer.state import AppState, Binding, OpenDocument


def recorder(state: AppState) -> list:
    seen = []
    state.document_changed.connect(lambda e: seen.append(("document", e.key)))
    state.binding_changed.connect(lambda b: seen.append(("binding", None if b is None else b.session_path.name)))
    state.selection_changed.connect(lambda ids: seen.append(("selection", ids)))
    return seen


def imported(module: str, prefixes: tuple) -> str:
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2]).stdout.strip()


def test_state_and_its_parts_import_no_qt():
    assert imported("visualizer.state", ("PySide6", "pyqtgraph", "torch")) == "[]"
    assert imported("visualizer.workbench.fit", ("PySide6", "pyqtgraph")) == "[]"


def test_a_run_stays_with_its_document_and_comes_back_when_it_is_reopened():
    state = AppState()
    seen = recorder(state)
    a = OpenDocument.from_template(GraphDocument(name="A"), "lenet")
    state.open(a)
    run_a = Binding(a.key, Path("a.session"), "live", run="worker A")
    state.add_run(run_a)
    assert state.binding is run_a
    state.timeline.set_head(120)
    state.timeline.seek(40)  # the user scrubbed back
    state.select(["c1"])

    b = OpenDocument.from_template(GraphDocument(name="B"), "anbn_lstm")
    state.open(b)
    assert state.document is b and state.binding is None and state.selection == ()
    assert state.background_runs() == [run_a] and run_a.shown_step == 40
    # a run started for B binds to B; A's stays in the background
    run_b = Binding(b.key, Path("b.session"), "live", run="worker B")
    state.add_run(run_b)
    assert state.binding is run_b and state.background_runs() == [run_a]

    # the same template opened again is the same document: its run comes back bound
    state.open(OpenDocument.from_template(GraphDocument(name="A"), "lenet"))
    assert state.binding is run_a
    assert ("binding", None) in seen and seen[-2:] == [("selection", ()), ("binding", "a.session")]

    # a run that finished while its document was elsewhere is still there; a replayed session
    # is its own document, read-only, and never takes over a live run's binding
    s = OpenDocument.from_session(GraphDocument(name="A"), "a.session")
    state.open(s, Binding(s.key, Path("a.session"), "replay"))
    assert s.read_only and state.binding.mode == "replay" and state.runs[a.key] is run_a


def test_a_binding_never_belongs_to_another_document():
    state = AppState()
    a = OpenDocument.new(GraphDocument(name="A"))
    b = OpenDocument.new(GraphDocument(name="B"))
    assert a.key != b.key
    state.open(a)
    state.open(b)
    state.add_run(Binding(a.key, Path("a.session"), "live"))  # A's run, started before the switch
    assert state.binding is None  # B stays unbound
    state.open(a)
    assert state.binding.session_path == Path("a.session")


def test_saving_under_a_new_name_keeps_the_run_with_the_document(tmp_path):
    state = AppState()
    a = OpenDocument.from_template(GraphDocument(name="A"), "lenet")
    state.open(a)
    run = Binding(a.key, Path("a.session"), "live")
    state.add_run(run)
    saved = OpenDocument(f"file:{tmp_path / 'mine.json'}", a.doc, str(tmp_path / "mine.json"))
    state.rekey(saved)
    assert run.doc_key == saved.key and state.runs == {saved.key: run}
    state.open(OpenDocument.new(GraphDocument()))
    state.open(OpenDocument.from_file(a.doc, tmp_path / "mine.json"))
    assert state.binding is run


def test_timeline_follows_the_head_only_while_live():
    state = AppState()
    t = state.timeline
    t.reset(0, live=True)
    t.set_head(10)
    assert (t.step, t.live, t.at_head) == (10, True, True)
    t.seek(4)
    assert (t.step, t.live, t.at_head) == (4, False, False)
    t.set_head(20)
    assert t.step == 4  # scrubbed back: new commits do not pull the view forward
    t.seek(20)
    assert t.live and t.at_head
    t.reset(50, live=False, step=30)
    assert (t.step, t.head, t.live) == (30, 50, False)
