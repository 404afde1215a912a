"""The graph document: nodes, edges, dataset and training settings, as plain data.

This is the single source of truth for a network. The editor changes it (through undo
commands), the engine reads it. It loads in stages (parse, check the format and version,
build, validate) and never executes code from the file.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .blocks import Block, BlockTree, blocks_from
from .errors import GraphError

FORMAT_NAME = "neurostudio.graph"
FORMAT_VERSION = 2   # 2: blocks (version 1 documents load as they were, with none)
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")

# What a graph file may make us spend (a stranger's file is bounded before it is built):
MAX_FILE_BYTES = 8 << 20    # the JSON text (a 10,000-node graph is ~2 MB; parsing costs up to ~25x)
MAX_DEPTH = 32              # nesting of objects and lists (a document needs about 5)
MAX_NODES = 10_000          # shape analysis takes ~2 ms a node cold: 20 s at the limit
MAX_EDGES = 50_000


def excerpt(value, limit: int = 40) -> str:
    """A value from a file, quoted for a message: printable and cut short, so an error never
    carries more than a short excerpt of what a file holds."""
    text = "".join(c if c.isprintable() else "?" for c in str(value)[:limit + 1])
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _depth_problem(data: Any) -> bool:
    """True if ``data`` nests deeper than MAX_DEPTH (checked without recursion). Only
    containers are visited: a 10,000-node document holds ~100,000 values, most of them
    scalars."""
    containers = (dict, list, tuple)
    stack = [(data, 1)] if isinstance(data, containers) else []
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        deeper = depth + 1
        for v in (value.values() if isinstance(value, dict) else value):
            if isinstance(v, containers):
                stack.append((v, deeper))
    return False


@dataclass
class Node:
    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)   # relative to its block's frame, if it has one
    block: str | None = None                # the innermost block it belongs to

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "params": copy.deepcopy(self.params),
                "pos": [float(self.pos[0]), float(self.pos[1])]}


@dataclass(frozen=True)
class Edge:
    src: str       # node id
    src_port: str
    dst: str
    dst_port: str

    @property
    def label(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"

    def to_dict(self) -> dict:
        return {"from": f"{self.src}.{self.src_port}", "to": f"{self.dst}.{self.dst_port}"}


@dataclass
class GraphDocument:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)   # {"name": ..., "params": {...}}
    training: dict[str, Any] = field(default_factory=dict)
    name: str = "untitled"
    description: str = ""
    blocks: list[Block] = field(default_factory=list)
    # id -> index into ``nodes``; checked on every hit and rebuilt on a miss, so callers may
    # change ``nodes`` freely (a 10,000-node graph cannot afford a scan per lookup)
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    # -- lookup -------------------------------------------------------------------
    def _find(self, node_id: str) -> Node | None:
        nodes = self.nodes
        i = self._index.get(node_id)
        if i is not None and i < len(nodes) and nodes[i].id == node_id:
            return nodes[i]
        self._index = {n.id: k for k, n in enumerate(nodes)}
        i = self._index.get(node_id)
        return nodes[i] if i is not None else None

    def node(self, node_id: str) -> Node:
        n = self._find(node_id)
        if n is None:
            raise KeyError(node_id)
        return n

    def has_node(self, node_id: str) -> bool:
        return self._find(node_id) is not None

    def block(self, block_id: str) -> Block:
        for b in self.blocks:
            if b.id == block_id:
                return b
        raise KeyError(block_id)

    def has_block(self, block_id: str) -> bool:
        return any(b.id == block_id for b in self.blocks)

    def tree(self) -> BlockTree:
        """Who contains whom (a fresh index: rebuild after changing nodes or blocks)."""
        return BlockTree(self)

    def incoming(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def outgoing(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def new_id(self, prefix: str) -> str:
        """A fresh stable id like ``conv3`` (never reuses an id in the document)."""
        base = re.sub(r"[^A-Za-z0-9_]", "", prefix.lower()) or "n"
        if not base[0].isalpha():
            base = "n" + base
        taken = {n.id for n in self.nodes} | {b.id for b in self.blocks}
        i = 1
        while f"{base}{i}" in taken:
            i += 1
        return f"{base}{i}"

    # -- plain data ---------------------------------------------------------------
    def to_dict(self) -> dict:
        members: dict[str, list[str]] = {b.id: [] for b in self.blocks}
        for n in self.nodes:
            if n.block in members:
                members[n.block].append(n.id)
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
            "blocks": [b.to_dict(members[b.id]) for b in self.blocks],
            "dataset": copy.deepcopy(self.dataset),
            "training": copy.deepcopy(self.training),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def copy(self) -> "GraphDocument":
        return GraphDocument.from_dict(self.to_dict(), validate=False)

    def __eq__(self, other) -> bool:
        return isinstance(other, GraphDocument) and self.to_dict() == other.to_dict()

    @classmethod
    def from_dict(cls, data: Any, validate: bool = True, source: str = "the graph") -> "GraphDocument":
        """Build a document from parsed JSON. Raises GraphError with one sentence."""
        with _no_gc():
            return cls._from_dict(data, validate, source)

    @classmethod
    def _from_dict(cls, data: Any, validate: bool, source: str) -> "GraphDocument":
        if not isinstance(data, dict):
            raise GraphError(f"{source} is not a graph document: expected a JSON object at the top level.")
        if _depth_problem(data):
            raise GraphError(f"{source} nests its values more than {MAX_DEPTH} levels deep; "
                             f"a graph document needs far fewer.")
        fmt = data.get("format")
        if fmt != FORMAT_NAME:
            raise GraphError(f"{source} is not a Neurostudio graph: its format is {excerpt(fmt)}, "
                             f"expected {FORMAT_NAME!r}.")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise GraphError(f"{source} has no valid format version (got {excerpt(version) if isinstance(version, (str, list, dict)) else repr(version)}).")
        if version > FORMAT_VERSION:
            raise GraphError(f"{source} uses graph format version {version}, newer than this "
                             f"Neurostudio understands (up to {FORMAT_VERSION}); please update Neurostudio.")
        if version < 1:
            raise GraphError(f"{source} has an unknown graph format version {version}.")
        data = _migrate(data, version)
        nodes_raw = data.get("nodes")
        edges_raw = data.get("edges", [])
        if not isinstance(nodes_raw, list):
            raise GraphError(f"{source} has no list of nodes.")
        if not isinstance(edges_raw, list):
            raise GraphError(f"{source} has an edges entry that is not a list.")
        if len(nodes_raw) > MAX_NODES or len(edges_raw) > MAX_EDGES:
            raise GraphError(f"{source} has {len(nodes_raw)} nodes and {len(edges_raw)} edges; a graph "
                             f"may have at most {MAX_NODES} nodes and {MAX_EDGES} edges.")
        nodes = [_node_from(raw, i) for i, raw in enumerate(nodes_raw)]
        edges = [_edge_from(raw, i) for i, raw in enumerate(edges_raw)]
        blocks = blocks_from(data.get("blocks", []), nodes, source)
        dataset = data.get("dataset") or {}
        training = data.get("training") or {}
        if not isinstance(dataset, dict):
            raise GraphError(f"{source} has a dataset entry that is not an object.")
        if not isinstance(training, dict):
            raise GraphError(f"{source} has a training entry that is not an object.")
        name = data.get("name", "untitled")
        description = data.get("description", "")
        doc = cls(nodes=nodes, edges=edges, dataset=dataset, training=training,
                  name=name if isinstance(name, str) else "untitled",
                  description=description if isinstance(description, str) else "", blocks=blocks)
        if validate:
            from .validate import validate_document
            validate_document(doc)
        return doc

    @classmethod
    def from_json(cls, text: str, source: str = "the graph", validate: bool = True) -> "GraphDocument":
        return cls.from_dict(parse_json(text, source), validate=validate, source=source)


def parse_json(text: str, source: str = "the graph") -> Any:
    """JSON text that carries a graph (a document, a clipboard fragment, a recovery file),
    parsed within the document limits: GraphError, one sentence, for text that is too long,
    nested too deep, not JSON, or holds NaN / Infinity."""
    if len(text) > MAX_FILE_BYTES:
        raise GraphError(f"{source} is {len(text)} characters long; a graph document may be "
                         f"at most {MAX_FILE_BYTES} (8 MiB).")
    try:
        with _no_gc():
            return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise GraphError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}.") from None
    except RecursionError:
        raise GraphError(f"{source} nests its values more than {MAX_DEPTH} levels deep; "
                         f"a graph document needs far fewer.") from None
    except ValueError as exc:  # a number with thousands of digits, NaN or Infinity
        reason = str(exc)
        if "integer string conversion" in reason:
            reason = "a number has more than 4300 digits"
        elif len(reason) > 80:
            reason = reason[:80].rsplit(" ", 1)[0] + "…"
        raise GraphError(f"{source} is not valid JSON: {reason}.") from None


@contextlib.contextmanager
def _no_gc():
    """Parsing and building a big document allocates ~10^5 small objects (and no cycles): the
    cyclic collector's passes over them took half the time of opening a 10,000-node graph."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _migrate(data: dict, version: int) -> dict:
    """Upgrade ``data`` one version at a time to FORMAT_VERSION (each step: k -> k + 1)."""
    if version == 1:  # 1 -> 2: blocks arrive; a version 1 graph has none, positions stay absolute
        data = {**data, "version": 2, "blocks": []}
        version = 2
    return data


def _node_from(raw: Any, index: int) -> Node:
    if not isinstance(raw, dict):
        raise GraphError(f"Node #{index + 1} is not an object.")
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not _ID.fullmatch(node_id):
        raise GraphError(f"Node #{index + 1} has an invalid id {excerpt(node_id)}: ids are up to 100 letters, "
                         f"digits and underscores, starting with a letter.",
                         node=node_id[:100] if isinstance(node_id, str) else None)
    ntype = raw.get("type")
    if not isinstance(ntype, str):
        raise GraphError(f"Node '{node_id}' has no layer type.", node=node_id)
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise GraphError(f"Node '{node_id}' has params that are not an object.", node=node_id)
    pos = raw.get("pos", _ORIGIN)
    if not (isinstance(pos, (list, tuple)) and len(pos) == 2 and _coordinate(pos[0]) and _coordinate(pos[1])):
        raise GraphError(f"Node '{node_id}' has an invalid position {excerpt(pos)}: expected [x, y].", node=node_id)
    return Node(id=node_id, type=ntype, params=dict(params), pos=(float(pos[0]), float(pos[1])))


_ORIGIN = (0, 0)


def _coordinate(v) -> bool:
    return (type(v) is float or type(v) is int) and -1e9 < v < 1e9


def _split_end(text: Any, what: str, index: int) -> tuple[str, str]:
    if not isinstance(text, str) or text.count(".") != 1 or len(text) > 201:
        raise GraphError(f"Edge #{index + 1} has an invalid '{what}' end {excerpt(text)}: expected \"node.port\".",
                         edge=str(text)[:200])
    node, port = text.split(".")
    return node, port


def _edge_from(raw: Any, index: int) -> Edge:
    if not isinstance(raw, dict):
        raise GraphError(f"Edge #{index + 1} is not an object.")
    src, sport = _split_end(raw.get("from"), "from", index)
    dst, dport = _split_end(raw.get("to"), "to", index)
    return Edge(src, sport, dst, dport)


def load_graph(path: str | Path, validate: bool = True) -> GraphDocument:
    """Read and validate a graph file; every problem is a GraphError with one sentence.

    ``validate=False`` still checks the format, version and the shape of every entry, but
    leaves the graph's own problems to ``analyse()``, which lists them all (the check CLI)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise GraphError(f"Graph file {path} is {path.stat().st_size} bytes; a graph document "
                             f"may be at most {MAX_FILE_BYTES} (8 MiB).")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraphError(f"Graph file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise GraphError(f"Graph file {path} is not a text file.") from None
    except OSError as exc:
        raise GraphError(f"Graph file {path} cannot be read: {exc.strerror}.") from None
    return GraphDocument.from_json(text, source=f"Graph file {path.name}", validate=validate)


def save_graph(doc: GraphDocument, path: str | Path) -> None:
    """Write atomically: a crash mid-save never leaves a half-written document."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(doc.to_json() + "\n", encoding="utf-8")
    tmp.replace(path)
