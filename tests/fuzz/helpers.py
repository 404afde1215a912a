"""What every fuzz target must hold: a typed error of one sentence, or a result; memory
traced while it runs stays under a bound; no file content runs as code."""
from __future__ import annotations

import contextlib
import os
import pickle
import tracemalloc
from pathlib import Path

MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / "neurostudio-fuzz-pickle-ran"


def check_sentence(exc: BaseException) -> None:
    text = str(exc)
    assert text, f"{type(exc).__name__} without a message"
    assert "\n" not in text and "Traceback" not in text, text
    assert text.endswith("."), text
    assert len(text) < 700, f"{len(text)} characters: {text[:200]}…"


@contextlib.contextmanager
def bounded(limit_bytes: int):
    """Trace Python and numpy allocations; fail if the peak passes ``limit_bytes``."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"peak {peak / 2**20:.1f} MiB, bound {limit_bytes / 2**20:.1f} MiB"


def only(errors, fn, *args, **kwargs):
    """Call ``fn``; a result, or one of ``errors`` with one sentence. Anything else fails."""
    try:
        return fn(*args, **kwargs)
    except errors as exc:
        check_sentence(exc)
        return exc


class _Payload:
    """Unpickling this writes MARKER: if the file exists afterwards, file content ran."""

    def __reduce__(self):
        return (open, (str(MARKER), "w"))


PICKLE = pickle.dumps(_Payload())


def no_code_ran() -> None:
    assert not MARKER.exists(), "a pickle payload from a file was unpickled"
