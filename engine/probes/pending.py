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


class Ready:
    """A value that is already on the host."""

    def __init__(self, values: list[float]):
        self._values = values

    def ready(self) -> bool:
        return True

    def values(self) -> list[float]:
        return self._values


class DeviceFetch:
    """One 1-D tensor on an accelerator, copied to pinned host memory without a sync."""

    def __init__(self, vec: torch.Tensor):
        self.host = torch.empty(vec.shape, dtype=vec.dtype, pin_memory=True)
        self.host.copy_(vec, non_blocking=True)
        self.event = torch.cuda.Event()
        self.event.record()

    def ready(self) -> bool:
        return self.event.query()

    def values(self) -> list[float]:
        self.event.synchronize()  # only when asked to wait (the end of a run, a NaN)
        return self.host.tolist()


def fetch(vec: torch.Tensor):
    """``vec`` (1-D) on its way to the host: Ready on the CPU, DeviceFetch on CUDA."""
    if vec.device.type == "cuda":
        return DeviceFetch(vec)
    return Ready(vec.tolist())


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
