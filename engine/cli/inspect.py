"""``python -m engine inspect RUN.session [--json]``: what a recorded session holds."""
from __future__ import annotations

import json
import sys
from collections import Counter

from engine.session import SessionError, SessionReader


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="RUN.session", help="The session file to summarise.")
    parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")


def summarise(reader: SessionReader) -> dict:
    graph = reader.graph if isinstance(reader.graph, dict) else {}
    nodes = graph.get("nodes") if isinstance(graph.get("nodes"), list) else []
    types = Counter(str(n.get("type", "?")) for n in nodes if isinstance(n, dict))
    counts = reader.record_counts()
    events = reader.events()
    meta = reader.meta
    return {
        "path": str(reader.path),
        "graph": {"name": graph.get("name", ""), "nodes": len(nodes), "layer_types": dict(types)},
        "title": meta.get("title"),
        "created": meta.get("created"),
        "parent": reader.parent,
        "last_step": reader.last_step,
        "scalars": counts["scalar"],
        "tensors": counts["tensor"],
        "checkpoints": reader.checkpoint_steps(),
        "has_probe_batch": reader.probe_batch() is not None,
        "events": [{"step": e.step, "wall": e.wall, "kind": e.kind, "message": e.message,
                    "data": e.data} for e in events],
        "size_bytes": reader.size_bytes,
    }


def _clean(value, limit: int = 120) -> str:
    """Text from the file as the terminal should see it: printable (no escape sequences that
    would steer the terminal) and cut short."""
    text = "".join(c if c.isprintable() else "?" for c in str(value)[:limit + 1])
    return text[:limit] + ("…" if len(text) > limit else "")


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def print_text(s: dict) -> None:
    g = s["graph"]
    types = _clean(", ".join(f"{t} x{n}" if n > 1 else t for t, n in sorted(g["layer_types"].items())), 400)
    print(f"Session  {s['path']}  ({_mib(s['size_bytes'])})")
    if s["title"]:
        print(f"Title    {_clean(s['title'])}")
    print(f"Graph    {_clean(g['name']) or '(unnamed)'}: {g['nodes']} nodes ({types or 'none'})")
    if s["parent"]:
        print(f"Forked   from {_clean(s['parent'].get('path'))} at step {_clean(s['parent'].get('step'))}")
    print(f"Steps    up to {s['last_step']}" if s["last_step"] >= 0 else "Steps    none yet")
    for label, key in (("Scalars", "scalars"), ("Tensors", "tensors")):
        print(f"{label}  {len(s[key])} series")
        for name, n in sorted(s[key].items()):
            print(f"  {_clean(name, 60):<40} {n:>8} records")
    cps = s["checkpoints"]
    print(f"Checkpoints  {len(cps)}" + (f" (steps {', '.join(map(str, cps[:20]))}"
                                        f"{', ...' if len(cps) > 20 else ''})" if cps else ""))
    print(f"Probe batch  {'yes' if s['has_probe_batch'] else 'no'}")
    print(f"Events   {len(s['events'])}")
    for e in s["events"]:
        print(f"  step {e['step']:>8}  {_clean(e['kind'], 20):<12} {_clean(e['message'], 200)}")


def run(args) -> int:
    try:
        with SessionReader(args.session) as reader:
            summary = summarise(reader)
    except SessionError as err:
        print(err, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_text(summary)
    return 0
