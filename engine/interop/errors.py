"""The one error type of import and export."""
from __future__ import annotations


class InteropError(Exception):
    """An export or import cannot be done. ``str(err)`` is one sentence naming the thing at
    fault (a node, a line of the user's file, a weight) and the problem, fit to show a user
    as is. ``node`` is the graph node at fault where there is one; ``line`` the line of the
    user's Python file."""

    def __init__(self, message: str, node: str | None = None, line: int | None = None):
        super().__init__(message)
        self.node = node
        self.line = line
