"""Hooks that are on the layers only while a step is measured. A module with a forward hook
takes torch's slow call path on every forward, hooked for anything or not (measured ~5 µs a
layer on a GPU host), so the hooks go on for the measured steps and off after them.

:func:`tap` is the cheaper kind for what every step may measure: the layer's own
``forward`` wrapped on the instance, so that torch keeps its fast call path (a module
without hooks calls ``self.forward`` directly); on a small recurrent network a forward
hook cost ~25 µs a layer a step, the tap a few."""
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


class _Tap:
    # The instance's __dict__ directly: torch's Module.__setattr__ / __delattr__ look
    # through parameters, buffers and submodules first, several times the cost of a
    # measured step's statistics when the taps go on and off every few steps.
    def __init__(self, module, keep: Callable):
        self.module = module
        self._before = module.__dict__.get("forward")  # another tap's, if any
        inner = module.forward

        def forward(*args, **kwargs):
            out = inner(*args, **kwargs)
            keep(module, out)
            return out

        self._forward = module.__dict__["forward"] = forward

    def remove(self) -> None:
        own = self.module.__dict__
        if own.get("forward") is not self._forward:
            return
        if self._before is None:
            del own["forward"]
        else:
            own["forward"] = self._before


def tap(module, keep: Callable) -> _Tap:
    """Call ``keep(module, output)`` after each forward of ``module`` until the returned
    handle's ``remove()``."""
    return _Tap(module, keep)
