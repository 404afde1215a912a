"""Hooks that are on the layers only while a step is measured. A module with a forward hook
takes torch's slow call path on every forward, hooked for anything or not (measured ~5 µs a
layer on a GPU host), so the hooks go on for the measured steps and off after them."""
from __future__ import annotations

from collections.abc import Callable, Iterator


class LayerHooks:
    """``install()`` registers the hooks and yields their handles; ``on(True)`` installs them
    once, ``on(False)`` removes them. A registration that fails removes the ones before it."""

    def __init__(self, install: Callable[[], Iterator]):
        self._install = install
        self._handles: list = []

    def on(self, wanted: bool) -> None:
        if wanted and not self._handles:
            try:
                for handle in self._install():
                    self._handles.append(handle)
            except Exception:
                self.on(False)
                raise
        elif not wanted and self._handles:
            for handle in self._handles:
                handle.remove()
            self._handles.clear()
