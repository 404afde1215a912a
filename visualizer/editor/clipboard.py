"""Copy and paste of graph fragments through the system clipboard (as JSON, so a fragment
can also be pasted into a text editor, or from one Neurostudio window into another)."""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from engine.graph.document import parse_json
from engine.graph.errors import GraphError

MIME_FRAGMENT = "application/x-neurostudio-fragment"
FRAGMENT_FORMAT = "neurostudio.fragment"


def put(fragment: dict) -> None:
    data = json.dumps({"format": FRAGMENT_FORMAT, **fragment}, indent=1)
    mime = QMimeData()
    mime.setData(MIME_FRAGMENT, data.encode("utf-8"))
    mime.setText(data)
    QGuiApplication.clipboard().setMimeData(mime)


def get() -> dict | None:
    """The fragment on the clipboard, or None when it holds something else."""
    mime = QGuiApplication.clipboard().mimeData()
    if mime is None:
        return None
    if mime.hasFormat(MIME_FRAGMENT):
        text = bytes(mime.data(MIME_FRAGMENT)).decode("utf-8", "replace")
    elif mime.hasText():
        text = mime.text()
    else:
        return None
    try:  # pasted text comes from anywhere: the document's size and depth limits apply
        data = parse_json(text, "The clipboard")
    except GraphError:
        return None
    if not isinstance(data, dict) or data.get("format") != FRAGMENT_FORMAT:
        return None
    if not isinstance(data.get("nodes"), list) or not isinstance(data.get("edges", []), list):
        return None
    ok_nodes = [n for n in data["nodes"] if isinstance(n, dict) and isinstance(n.get("id"), str)
                and isinstance(n.get("type"), str) and isinstance(n.get("params", {}), dict)]
    ok_edges = [e for e in data.get("edges", []) if isinstance(e, dict) and isinstance(e.get("from"), str)
                and isinstance(e.get("to"), str) and e["from"].count(".") == 1 and e["to"].count(".") == 1]
    return {"nodes": ok_nodes, "edges": ok_edges}
