"""Values computed now and read later, so that measuring a step never makes the training
loop wait: on a CUDA device the numbers cross to the host in one non-blocking copy into
pinned memory and are read once the copy's event has completed (polled, never waited on,
on the steps that follow); on the CPU a big reduction can run on a spare core
(:class:`SideThread`) while the next step trains.
"""
from __future__ import annotations

import queue
import threading

import torch

from ..train.device import DeviceFetch, Ready, fetch  # noqa: F401  (re-exported for the probes)


class Job:
    """A function running on a :class:`SideThread`; its result once done."""

    def __init__(self, fn):
        self.fn = fn
        self.done = threading.Event()
        self.result = None
        self.error: BaseException | None = None

    def ready(self) -> bool:
        return self.done.is_set()

    def values(self):
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class SideThread:
    """One daemon thread running jobs in order. torch releases the GIL inside its kernels,
    so big reductions here run in parallel with the training thread on another core."""

    def __init__(self, name: str = "probe-statistics"):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn) -> Job:
        job = Job(fn)
        self._jobs.put(job)
        return job

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                with torch.no_grad():
                    job.result = job.fn()
            except BaseException as exc:  # reported to whoever reads the result
                job.error = exc
            job.done.set()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)
