"""Lessons: the course's claims, each a set of templates, a short text for a student, the
views to open and a check that reproduces the claim from a recorded run.

``list_lessons()`` and ``load_lesson(id)`` are what the app's Lessons panel reads;
``engine.lessons.checks.run_check(id, workdir)`` trains the lesson's templates headlessly
and measures the claim from the session files (tests/engine/test_lessons.py,
bench/lessons.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..graph.document import GraphDocument, load_graph
from ..graph.errors import GraphError
from ..templates import load_template
from .catalogue import LESSONS, VIEWS, Lesson

__all__ = ["LESSONS", "VIEWS", "Lesson", "LessonError", "LoadedLesson", "lessons_dir",
           "list_lessons", "load_lesson", "load_lesson_template"]


class LessonError(GraphError):
    """An unknown lesson or a lesson whose files are missing; str() says which."""


@dataclass(frozen=True)
class LoadedLesson:
    lesson: Lesson
    text: str                             # markdown for the student
    documents: dict[str, GraphDocument]   # slug -> document, in the lesson's order

    @property
    def id(self) -> str:
        return self.lesson.id

    @property
    def title(self) -> str:
        return self.lesson.title

    @property
    def views(self) -> tuple[str, ...]:
        return self.lesson.views

    @property
    def select(self) -> str:
        return self.lesson.select


def lessons_dir() -> Path:
    """assets/lessons at the repository root, or NEUROSTUDIO_LESSONS for packagers."""
    override = os.environ.get("NEUROSTUDIO_LESSONS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent.parent / "assets" / "lessons"


def list_lessons() -> list[Lesson]:
    """Every lesson in course order (no file is read)."""
    return list(LESSONS)


def _lesson(lesson_id: str) -> Lesson:
    for lesson in LESSONS:
        if lesson.id == lesson_id:
            return lesson
    known = ", ".join(x.id for x in LESSONS)
    raise LessonError(f"There is no lesson named '{lesson_id}' (lessons: {known}).")


def load_lesson_template(slug: str) -> GraphDocument:
    """A lesson template (assets/lessons/templates/<slug>.json) or else a built-in one."""
    path = lessons_dir() / "templates" / f"{slug}.json"
    if slug.replace("_", "").isalnum() and path.is_file():
        return load_graph(path)
    return load_template(slug)


def load_lesson(lesson_id: str) -> LoadedLesson:
    """The lesson with its text and validated template documents. Raises LessonError for
    an unknown id or a missing text, GraphError for a broken template."""
    lesson = _lesson(lesson_id)
    path = lessons_dir() / f"{lesson.id}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise LessonError(f"Lesson '{lesson.id}' has no text: {path} cannot be read.") from None
    docs = {slug: load_lesson_template(slug) for slug in lesson.templates}
    return LoadedLesson(lesson, text, docs)
