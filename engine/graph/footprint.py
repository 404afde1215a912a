"""How much memory training a graph needs, known from shape inference alone (torch's meta
device: nothing is allocated), so that a graph too big for the machine is refused with a
sentence before the trainer allocates it. A conv of 2 x 65536 channels once made `train`
try to allocate 154 GB and die with a raw RuntimeError, although `check` knew the sizes.
"""
from __future__ import annotations

import os

from .document import GraphDocument
from .errors import GraphError

_BYTES = 4  # float32 weights, gradients, optimizer state and activations
# Tensors of optimizer state per weight, besides the weight and its gradient.
_OPTIMIZER_SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}


def training_bytes(doc: GraphDocument, batch_size: int, optimizer: str) -> tuple[int, int, int] | None:
    """(total, weights part, activations part) in bytes, a lower estimate: the weights with
    their gradients and optimizer state, and every node's output for one batch kept for the
    backward pass with its gradient. None when shape inference fails (training will say why)."""
    from .shapes import analyse
    result = analyse(doc)
    if result.problems:
        return None
    params = result.total_params
    weights = params * _BYTES * (2 + _OPTIMIZER_SLOTS.get(optimizer, 2))
    elements = 0
    for info in result.nodes.values():
        if info.out_shape:
            n = 1
            for d in info.out_shape:
                n *= int(d)
            elements += n
    activations = 2 * elements * int(batch_size) * _BYTES
    return weights + activations, weights, activations


def device_bytes(device: str | None) -> int | None:
    """The memory of the device training would use ("auto", "cpu", "cuda[:i]", "mps"):
    the GPU's own for CUDA, the machine's for the rest; None if unknown."""
    name = (device or "auto").lower()
    if name.startswith(("cuda", "auto")):
        import torch
        if torch.cuda.is_available():
            index = int(name.partition(":")[2] or 0) if name.startswith("cuda") else 0
            if index < torch.cuda.device_count():
                return int(torch.cuda.get_device_properties(index).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_training_memory(doc: GraphDocument, settings: dict) -> None:
    """Raise GraphError if training ``doc`` with the resolved ``settings`` needs more memory
    than the device has."""
    found = training_bytes(doc, settings.get("batch_size", 64), settings.get("optimizer", "adam"))
    have = device_bytes(settings.get("device"))
    if found is None or have is None or found[0] <= have:
        return
    need, weights, activations = found
    raise GraphError(f"Graph '{doc.name[:60]}' needs about {_gb(need)} to train ({_gb(weights)} for its "
                     f"weights with their gradients and optimizer state, {_gb(activations)} for the "
                     f"activations of a batch of {settings.get('batch_size', 64)}), more than the "
                     f"{_gb(have)} of memory on this machine; make the layers smaller.")


def _gb(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.0f} MB"
