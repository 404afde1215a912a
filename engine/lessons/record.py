"""Run one graph document headlessly and record it to a session file, probes included:
what a lesson's check (and a student pressing Train) produces."""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import torch

from ..graph.document import GraphDocument
from ..probes import ProbeSet, ProbeSettings
from ..session import SessionWriter
from ..train.callbacks import Callback
from ..train.trainer import Trainer

# Step counts, not wall-time rates, and no time budget: a lesson's recording must not
# depend on how busy the machine is.
LESSON_PROBES = ProbeSettings(stats_every=10, stats_budget=1.0, heavy_every=50, heavy_budget=1.0,
                              diagnostics=False)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run with ``n`` torch threads, restoring the previous number afterwards. Lesson
    networks are tiny: one thread is faster for them and does not stall on a busy machine."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class EventRecorder(Callback):
    """The trainer's events (start, nan, finish, ...) into the session; the ProbeSet
    records the numbers but not the events."""

    def __init__(self, writer):
        self.writer = writer

    def on_event(self, kind: str, step: int, message: str = "", data: dict | None = None) -> None:
        self.writer.event(kind, step, message, data)


def record_run(doc: GraphDocument, path, overrides: dict | None = None,
               probes: ProbeSettings | None = None, dataset=None) -> dict:
    """Train ``doc`` on the CPU, writing every record to ``path`` (replaced if it exists).
    ``probes`` sets the probe rates (default :data:`LESSON_PROBES`). Returns the
    trainer's summary, which is also stored as a "summary" event."""
    trainer = Trainer(doc, dataset=dataset, overrides={"device": "cpu", **(overrides or {})})
    info = dataclasses.asdict(trainer.dataset.info)
    writer = SessionWriter(Path(path), doc.to_dict(), trainer.settings, info, overwrite=True)
    try:
        trainer.callbacks += [EventRecorder(writer), ProbeSet(writer, probes or LESSON_PROBES, doc=doc)]
        summary = trainer.run()
        writer.event("summary", trainer.step, summary["message"], summary)
        writer.commit()
    finally:
        writer.close()
    return summary
