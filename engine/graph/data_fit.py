"""Fitting a graph to its dataset: the check before Train's one-click fixes (data_check.py),
applied in rounds on a copy of the document. The input's shape comes first, since every
later shape follows from it; the next round sees the new shapes and fixes what follows (the
dtype, an Embedding's vocabulary, the output units). The result is the list of changes, to
preview and then to apply to the real document as one undo step, and the problems that no
fix repairs (a Dense fed images needs a Flatten: that is for the user to decide)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..data.base import DatasetInfo
from .catalogue import CATALOGUE, fmt_shape
from .data_check import check_data
from .document import GraphDocument
from .errors import GraphError

MAX_ROUNDS = 6  # each round fixes what the previous one's shapes reveal; a few suffice


@dataclass(frozen=True)
class Change:
    node: str
    param: str
    old: object
    new: object
    label: str   # "Input 'x'"

    def text(self) -> str:
        """"Input 'x': shape (N, 2) → (N, 1, 28, 28)"."""
        return f"{self.label}: {self.param} {_value(self.param, self.old)} → {_value(self.param, self.new)}"


@dataclass
class FitPlan:
    changes: list[Change] = field(default_factory=list)
    remaining: list[GraphError] = field(default_factory=list)   # what no fix repairs

    @property
    def fits(self) -> bool:
        return not self.remaining


def plan_fit(doc: GraphDocument, dataset: dict, info: DatasetInfo) -> FitPlan:
    """The changes that make ``doc`` with ``dataset`` (described by ``info``) fit, and what
    is left after them. ``doc`` itself is not changed."""
    from .shapes import analyse  # torch: only once a plan is asked for
    work = doc.copy()
    work.dataset = dict(dataset)
    changes: dict[tuple[str, str], Change] = {}
    problems: list[GraphError] = []
    for round_ in range(MAX_ROUNDS + 1):
        analysis = analyse(work)
        data = check_data(work, analysis, info, None)
        problems = [*analysis.problems, *data]
        fixes = [p.fix for p in data if p.fix is not None and work.has_node(p.fix.node)]
        fixes = [f for f in fixes if _current(work, f.node, f.param) != f.value]
        if not fixes or round_ == MAX_ROUNDS:
            break
        for fix in fixes:
            node = work.node(fix.node)
            key = (fix.node, fix.param)
            old = changes[key].old if key in changes else _current(work, fix.node, fix.param)
            node.params = {**node.params, fix.param: fix.value}
            changes[key] = Change(fix.node, fix.param, old, fix.value, f"{node.type} '{node.id}'")
    kept = [c for c in changes.values() if c.old != c.new]
    return FitPlan(kept, problems)


def _current(doc: GraphDocument, node_id: str, param: str):
    node = doc.node(node_id)
    if param in node.params:
        return node.params[param]
    spec = CATALOGUE.get(node.type)
    return spec.defaults().get(param) if spec is not None else None


def _value(param: str, value) -> str:
    if param == "shape" and isinstance(value, (list, tuple)):
        return fmt_shape(tuple(value))
    return str(value)
