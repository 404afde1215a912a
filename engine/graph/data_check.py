"""The check before Train: does the dataset fit the graph? Each mismatch is a sentence pinned
to the node that has to change, with a one-click fix where the right value is obvious (the
output units of a classifier are the dataset's number of classes).

Shapes come from the analysis (engine.graph.shapes), the dataset's shapes, classes and
vocabulary from its DatasetInfo, read without splitting or normalising anything."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from ..data.base import DataError, DatasetInfo
from ..data.paths import DataAccess
from .catalogue import CATALOGUE, fmt_shape
from .document import GraphDocument
from .errors import GraphError
from .shapes import KEEPS_SHAPE


@dataclass(frozen=True)
class Fix:
    """Set ``param`` of ``node`` to ``value``; ``label`` says so in a few words."""
    node: str
    param: str
    value: object
    label: str


class DataProblem(GraphError):
    """The dataset does not fit the graph at ``node``; ``fix`` repairs it, when obvious."""

    def __init__(self, message: str, node: str | None = None, fix: Fix | None = None):
        super().__init__(message, node=node)
        self.fix = fix


# -- the dataset's facts, cached per reference ----------------------------------------------------
_info_cache: dict[tuple, tuple[DatasetInfo | None, str | None]] = {}


def dataset_info(ref, access=None) -> tuple[DatasetInfo | None, str | None]:
    """(info, None) for a dataset reference, or (None, one sentence) when it cannot be read.
    ``access``: the document's folder or a DataAccess (engine/data/paths.py: which folders
    may be read). Built-ins are described from a few generated samples; files are read once
    per change of the file."""
    from ..data.files import load_file
    from ..data.registry import describe
    if not isinstance(ref, dict) or not ref:
        return None, None
    access = DataAccess.of(access)
    path = ref.get("path")
    try:
        key = _cache_key(ref, access)
    except DataError as err:  # outside every folder the document may read: refused, never read
        return None, str(err)
    hit = _info_cache.get(key)
    if hit is not None:
        return hit
    try:
        if isinstance(ref.get("name"), str) and "path" not in ref:
            result = (describe(ref["name"], ref.get("params")), None)
        elif isinstance(path, str):
            result = (load_file(ref, access)[2], None)
        else:
            result = (None, 'The dataset reference names no dataset: expected {"name": ...} or {"path": ...}.')
    except DataError as err:
        result = (None, str(err))
    if len(_info_cache) > 32:
        _info_cache.clear()
    _info_cache[key] = result
    return result


def remember_info(ref: dict, access, info: DatasetInfo) -> None:
    """Record what a file holds, read elsewhere (the data dialog reads it in a thread), so the
    next check does not read it again on the window's thread."""
    try:
        _info_cache[_cache_key(ref, DataAccess.of(access))] = (info, None)
    except DataError:
        pass  # a path the document may not read is refused by the next check anyway


def _cache_key(ref: dict, access) -> tuple:
    """What was read: the reference and, for a file, the file itself (resolved, with its
    size and time), not the folders allowed, so allowing another folder or saving the
    graph elsewhere reads nothing again. DataError when the path may not be read."""
    path, full, stamp = ref.get("path"), None, None
    if isinstance(path, str):
        full = access.resolve(path)
        try:
            st = os.stat(full)
            stamp = (st.st_mtime_ns, st.st_size)
            full = full.resolve()
        except OSError:
            stamp = None
    rest = {k: v for k, v in ref.items() if k != "path"}
    return json.dumps(rest, sort_keys=True, default=str), str(full), stamp


# -- the checks -----------------------------------------------------------------------------------
def _label(doc: GraphDocument, node_id: str) -> str:
    return f"{doc.node(node_id).type} '{node_id}'"


def check_data(doc: GraphDocument, analysis, info: DatasetInfo | None, error: str | None) -> list[DataProblem]:
    """Every way the dataset does not fit the analysed graph (empty when it fits)."""
    inputs = [n for n in doc.nodes if n.type in CATALOGUE and CATALOGUE[n.type].role == "input"]
    losses = [n for n in doc.nodes if n.type in CATALOGUE and CATALOGUE[n.type].role == "loss"]
    input_id = inputs[0].id if len(inputs) == 1 else None
    if not doc.dataset:
        return [DataProblem("The graph has no dataset: choose one under Data & training.", input_id)]
    if error:
        return [DataProblem(error, input_id)]
    if info is None or input_id is None:
        return []
    ds = f"Dataset '{info.name}'"
    out: list[DataProblem] = []
    facts = analysis.nodes.get(input_id)
    if facts is not None and tuple(facts.out_shape) != tuple(info.input_shape):
        out.append(DataProblem(
            f"{ds} gives samples of shape {fmt_shape(info.input_shape)}, but {_label(doc, input_id)} expects "
            f"{fmt_shape(facts.out_shape)}.", input_id,
            Fix(input_id, "shape", list(info.input_shape), f"set its shape to {fmt_shape(info.input_shape)}")))
        return out  # every later shape follows from the input's
    if facts is not None and facts.dtype != info.input_dtype:
        what = "token ids (long)" if info.input_dtype == "long" else "float values"
        out.append(DataProblem(f"{ds} gives {what}, but {_label(doc, input_id)} is set to {facts.dtype}.",
                               input_id, Fix(input_id, "dtype", info.input_dtype, f"set its dtype to {info.input_dtype}")))
    out += _vocabulary(doc, info, ds)
    if len(losses) == 1:
        out += _targets(doc, analysis, info, ds, losses[0])
    return out


def _vocabulary(doc: GraphDocument, info: DatasetInfo, ds: str) -> list[DataProblem]:
    """An Embedding must hold every token id the data uses."""
    if info.input_dtype != "long" or not info.class_names:
        return []
    n_ids = len(info.class_names)
    out = []
    for n in doc.nodes:
        if n.type == "Embedding":
            vocab = n.params.get("vocab", CATALOGUE["Embedding"].defaults()["vocab"])
            if vocab < n_ids:
                out.append(DataProblem(
                    f"{_label(doc, n.id)} holds {vocab} token ids, but {ds} uses {n_ids} symbols "
                    f"(ids 0..{n_ids - 1}).", n.id, Fix(n.id, "vocab", n_ids, f"set its vocab to {n_ids}")))
    return out


def _sizing_node(doc: GraphDocument, node_id: str) -> str:
    """The node whose params set the size of ``node_id``'s output: itself, or the first
    node upstream through layers that keep their input's shape (an activation, dropout)."""
    seen = set()
    while node_id not in seen:
        seen.add(node_id)
        params = {p.name for p in CATALOGUE[doc.node(node_id).type].params}
        if params & {"units", "channels"}:
            return node_id
        feeding = [e.src for e in doc.edges if e.dst == node_id]
        if len(feeding) != 1 or doc.node(node_id).type not in KEEPS_SHAPE:
            return node_id
        node_id = feeding[0]
    return node_id


def _size_fix(doc: GraphDocument, node_id: str, value: int) -> Fix | None:
    params = {p.name for p in CATALOGUE[doc.node(node_id).type].params}
    for name in ("units", "channels"):
        if name in params:
            return Fix(node_id, name, int(value), f"set its {name} to {value}")
    return None


def _targets(doc: GraphDocument, analysis, info: DatasetInfo, ds: str, loss) -> list[DataProblem]:
    facts = analysis.nodes.get(loss.id)
    feeding = [e.src for e in doc.edges if e.dst == loss.id]
    if facts is None or not facts.in_shapes or not feeding:
        return []
    src = _sizing_node(doc, feeding[0])
    got = tuple(int(d) for d in facts.in_shapes[0])
    target = tuple(info.target_shape)
    kind = CATALOGUE[loss.type].target
    if kind == "class":
        if info.target_kind != "class":
            return [DataProblem(f"{ds} gives value targets of shape {fmt_shape(target)}, but {_label(doc, loss.id)} "
                                "scores class ids; use a regression loss such as MSE.", loss.id)]
        if not got or got[:-1] != target:
            want = (*target, info.num_classes or got[-1] if got else 0)
            per = f"one class id per step {fmt_shape(target)}" if target else "one class id per sample"
            return [DataProblem(f"{ds} gives {per}, but {_label(doc, src)} gives {fmt_shape(got)}; "
                                f"expected {fmt_shape(want)}.", src)]
        if info.num_classes and got[-1] != info.num_classes:
            return [DataProblem(
                f"{_label(doc, src)} gives {got[-1]} class scores, but {ds} has {info.num_classes} classes "
                f"(ids 0..{info.num_classes - 1}).", src, _size_fix(doc, src, info.num_classes))]
        return []
    if info.target_kind == "class":
        if info.num_classes <= 2 and math.prod(got) == math.prod(target):
            return []  # binary cross-entropy: one logit against a 0/1 id
        return [DataProblem(f"{ds} gives class ids, but {_label(doc, loss.id)} expects values; use "
                            "CrossEntropy for classes.", loss.id)]
    if math.prod(got) != math.prod(target):
        fix = _size_fix(doc, src, math.prod(target)) if len(target) == 1 and len(got) == 1 else None
        return [DataProblem(f"{ds} gives targets of shape {fmt_shape(target)}, but {_label(doc, src)} gives "
                            f"{fmt_shape(got)}.", src, fix)]
    return []
