"""Documents, sessions and views opened and closed many times leave nothing behind: each
old graph document and session reader is collected, and the window's own objects do not
grow. (pyqtgraph keeps the same kind of test for its items: tests/test_ref_cycles.py.)"""
from __future__ import annotations

import gc
import weakref

from engine.train import Trainer
from engine.train.recorder import SessionRecorder, open_writer
from tests.engine.test_trainer import mlp_doc


def record(path):
    doc = mlp_doc(units=8, training={"steps": 12, "val_every": 6})
    trainer = Trainer(doc)
    recorder = SessionRecorder(open_writer(path, doc, trainer.settings, trainer.dataset.info))
    trainer.callbacks.append(recorder)
    trainer.run()
    recorder.close()


def test_documents_opened_and_closed_are_collected(window, qtbot):
    refs = []
    for i in range(12):
        window.open_template(("playground_mlp", "lenet", "anbn_lstm")[i % 3])
        window.set_workspace(("build", "watch")[i % 2])
        refs.append(weakref.ref(window.model.doc))
    qtbot.wait(50)
    gc.collect()
    assert [r for r in refs[:-1] if r() is not None] == []


def test_sessions_replayed_one_after_another_are_closed_and_collected(window, qtbot, tmp_path):
    paths = [tmp_path / f"run{i}.session" for i in range(3)]
    for p in paths:
        record(p)
    readers = []
    window.open_session(str(paths[0]))
    baseline = None
    for i in range(15):
        assert window.open_session(str(paths[i % 3]))
        window.timeline.seek(i % 12)
        window.hub.render_now()
        readers.append(weakref.ref(window.reader))
        if i == 4:
            gc.collect()
            baseline = len(gc.get_objects())
    gc.collect()
    assert [r for r in readers[:-1] if r() is not None] == []
    # the window's object count settles instead of growing with every session opened
    assert len(gc.get_objects()) < baseline * 1.05
