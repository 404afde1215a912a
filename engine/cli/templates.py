"""``python -m engine templates``: the built-in templates, one line each."""
from __future__ import annotations

import json

from ..templates import list_templates

HELP = "List the built-in templates."


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="Print the list as JSON.")


def run(args) -> int:
    items = list_templates()
    if args.json:
        print(json.dumps([{"slug": t.slug, "name": t.name, "summary": t.summary,
                           "description": t.description, "path": str(t.path)} for t in items], indent=2))
        return 0
    if not items:
        print("No templates found.")
        return 0
    width = max(len(t.slug) for t in items)
    for t in items:
        print(f"{t.slug.ljust(width)}  {t.name}: {t.summary}")
    return 0
