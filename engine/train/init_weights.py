"""Start a run from a weights file instead of a fresh initialisation: a safetensors file (or
a state dict, read with weights_only) whose tensors are named as the graph's exported
PyTorch code names them, which is what File > Export > Network Weights and an imported
module's weights are. Read under the same path rule as data (engine/data/paths.py)."""
from __future__ import annotations

import numpy as np
import torch

from ..data.base import DataError
from ..data.paths import DataAccess
from .errors import TrainError


def load_initial_weights(model: torch.nn.Module, doc, path: str, access=None) -> str:
    """Load ``path`` into ``model`` (the compiled graph of ``doc``); return where they came
    from, for the record. TrainError (one sentence) when the file cannot be read, is not
    allowed, or does not fit the graph."""
    from ..interop.code_export import export_code
    from ..interop.errors import InteropError
    from ..interop.weights import load_weights_file
    try:
        full = DataAccess.of(access).resolve(path, "Weights file")
        tensors = load_weights_file(full)
        code = export_code(doc)
    except (DataError, InteropError) as err:
        raise TrainError(str(err), kind="settings") from None
    own = model.state_dict()
    by_exported = {code.exported_key(k): k for k in own}
    missing = sorted(n for n in by_exported if n not in tensors)
    extra = sorted(n for n in tensors if n not in by_exported)
    if missing or extra:
        what = f"lacks {', '.join(missing[:3])}" if missing else f"has tensors the graph does not: {', '.join(extra[:3])}"
        raise TrainError(f"The weights in {full.name} do not fit the graph '{doc.name}': the file {what}.",
                         kind="settings")
    with torch.no_grad():
        for name, key in by_exported.items():
            arr = torch.as_tensor(np.asarray(tensors[name]) if not torch.is_tensor(tensors[name]) else tensors[name])
            if tuple(arr.shape) != tuple(own[key].shape):
                raise TrainError(f"The weights in {full.name}: '{name}' has shape {tuple(arr.shape)}, the graph's "
                                 f"is {tuple(own[key].shape)}.", kind="settings")
            own[key].copy_(arr.to(own[key].dtype))
    return f"the weights in {full.name}"
