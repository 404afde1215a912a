"""Where to train: CUDA, then Apple MPS, then CPU, unless the user asks for one."""
from __future__ import annotations

import torch

from .errors import TrainError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.insert(0, "cuda")
    if _mps_available():
        found.insert(0 if "cuda" not in found else 1, "mps")
    return found


def select_device(requested: str | None = "auto") -> torch.device:
    """The torch device for ``requested`` ("auto", "cpu", "cuda", "cuda:1", "mps").
    Raises TrainError with one sentence when that device is not usable here."""
    req = (requested or "auto").strip().lower()
    if req == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = req.partition(":")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA GPU is visible")
            raise TrainError(f"Device 'cuda' was requested but {why}; use device 'auto' or 'cpu'.",
                             kind="device")
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise TrainError(f"Device '{req}' does not exist: this machine has "
                                 f"{torch.cuda.device_count()} CUDA device(s).", kind="device")
            return torch.device("cuda", int(index))
        return torch.device("cuda")
    if kind == "mps":
        if not _mps_available():
            raise TrainError("Device 'mps' was requested but Apple's Metal (MPS) backend is not "
                             "available here; use device 'auto' or 'cpu'.", kind="device")
        return torch.device("mps")
    raise TrainError(f"Device '{requested}' is unknown: use auto, cpu, cuda or mps.", kind="device")


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so wall-clock timings mean something on GPUs."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class Ready:
    """Host values that are already there (see :func:`fetch`)."""

    def __init__(self, values: list):
        self._values = values

    def ready(self) -> bool:
        return True

    def values(self) -> list:
        return self._values


class DeviceFetch:
    """A 1-D tensor on a CUDA device on its way to the host: one non-blocking copy into
    pinned memory and an event. :meth:`ready` polls the event (never waits);
    :meth:`values` waits only when asked to (the end of a run). Pinned buffers are kept
    for reuse: allocating page-locked memory is slow and may stall the device."""

    _free: dict = {}   # (numel, dtype) -> pinned buffers whose values were read

    def __init__(self, vec: torch.Tensor):
        key = (vec.numel(), vec.dtype)
        spare = DeviceFetch._free.get(key)
        self.host = spare.pop() if spare else torch.empty(vec.shape, dtype=vec.dtype, pin_memory=True)
        self.key = key
        self.host.copy_(vec, non_blocking=True)
        self.event = torch.cuda.Event()
        self.event.record()
        self._values = None

    def ready(self) -> bool:
        return self._values is not None or self.event.query()

    def values(self) -> list:
        if self._values is None:
            self.event.synchronize()
            self._values = self.host.tolist()
            DeviceFetch._free.setdefault(self.key, []).append(self.host)
            self.host = None
        return self._values


def fetch(vec: torch.Tensor):
    """Values of a 1-D tensor for the host without making the host wait for the device:
    :class:`Ready` on the CPU (and MPS, which has no such copy), :class:`DeviceFetch` on CUDA."""
    if vec.device.type == "cuda":
        return DeviceFetch(vec)
    return Ready(vec.tolist())


def fetch_scalars(values: list[torch.Tensor]):
    """:func:`fetch` for a few 0-d tensors on one device: on the CPU each is read at once
    (an ``item()`` apiece costs a training loop less than gathering them first)."""
    if values[0].device.type == "cpu":
        return Ready([v.item() for v in values])
    return fetch(torch.stack([v.float() for v in values]))


def configure_threads(requested: int | None) -> int:
    """Set torch's CPU thread count for this process and return it.

    Default: all cores but one. Measured here (2 cores): with a GUI and other processes
    busy, torch's 2 spinning OpenMP threads made a small MLP run 60x slower than with 1.
    Called by the worker and the CLI, never by the Trainer (it is process-wide state)."""
    import os
    n = int(requested) if requested else max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(n)
    return n
