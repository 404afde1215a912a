"""Typed errors for graph documents: one human sentence, pinned to a node or an edge."""
from __future__ import annotations


class GraphError(Exception):
    """A graph document is invalid. ``str(err)`` is one sentence a user can read.

    ``node`` is the id of the node at fault (or None); ``edge`` is ``"a.out -> b.in"``
    when an edge is at fault.
    """

    def __init__(self, message: str, node: str | None = None, edge: str | None = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.edge = edge

    def __str__(self) -> str:
        return self.message


class ShapeError(GraphError):
    """Shape inference failed at ``node``."""
