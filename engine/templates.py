"""The built-in templates: graph documents under ``assets/templates/<slug>.json``.

``assets/`` lives at the repository root, next to the ``engine`` package, which is where a
source checkout or an editable install finds it. A wheel would not carry it; templates then
come from the directory named by ``NEUROSTUDIO_TEMPLATES``, so packagers can place them.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .graph.document import GraphDocument, load_graph
from .graph.errors import GraphError


@dataclass(frozen=True)
class TemplateInfo:
    slug: str
    name: str
    description: str
    path: Path

    def __iter__(self):  # unpacks as (slug, name, description, path)
        return iter((self.slug, self.name, self.description, self.path))

    @property
    def summary(self) -> str:
        """The first sentence of the description."""
        return first_sentence(self.description)


def templates_dir() -> Path:
    override = os.environ.get("NEUROSTUDIO_TEMPLATES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "assets" / "templates"


def list_templates() -> list[TemplateInfo]:
    """Every template, sorted by slug. Reads only the name and description of each file."""
    out = []
    directory = templates_dir()
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        name = data.get("name") if isinstance(data.get("name"), str) else path.stem
        desc = data.get("description") if isinstance(data.get("description"), str) else ""
        out.append(TemplateInfo(path.stem, name, desc, path))
    return out


def load_template(slug: str) -> GraphDocument:
    """The template's document, validated. Raises GraphError for an unknown slug."""
    path = templates_dir() / f"{slug}.json"
    if not slug.replace("_", "").isalnum() or not path.is_file():
        known = ", ".join(t.slug for t in list_templates()) or "none"
        raise GraphError(f"There is no template named '{slug}' (templates: {known}).")
    return load_graph(path)


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    for i, ch in enumerate(text):
        # a sentence ends at ". " followed by a capital, so "e.g. x" and "5.5" do not split it
        if ch in ".!?" and i + 2 < len(text) and text[i + 1] == " " and text[i + 2].isupper():
            return text[:i + 1]
    return text
