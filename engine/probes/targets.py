"""Which probe applies to which node: read from the layer catalogue (each LayerType's
``probes``), never guessed from module classes."""
from __future__ import annotations

import torch
from torch import nn

from ..graph.catalogue import CATALOGUE
from ..graph.validate import topological_order
from . import loops

RECURRENT_PREFIX = {"lstm_gates": "lstm", "gru_gates": "gru", "convlstm_gates": "convlstm"}


class Targets:
    """The probe targets of one compiled graph (``compiled`` from engine.graph.compile)."""

    def __init__(self, compiled, doc, device=None):
        self.compiled = compiled
        self.model: nn.Module = compiled.model
        types = {n.id: n.type for n in doc.nodes}
        self.order = [n for n in topological_order(doc) if n in compiled.modules]
        self._types = {n: types[n] for n in self.order}
        probes = {n: CATALOGUE[types[n]].probes for n in self.order}
        self.activation = [n for n in self.order if "activation" in probes[n]]
        # node -> the measured node whose output is its only input, for pure layers (an
        # activation or a pooling right after a measured layer, itself maybe recomputed):
        # the helper recomputes their outputs, in graph order, from the first one's copy,
        # which the training loop then need not copy too (where outputs are copied at all:
        # see replayable below; a LeNet with a Dropout would skip 2.1 of its 3.7 MB)
        self.derived: dict[str, str] = {}
        for n in self.activation:
            inputs = doc.incoming(n)
            if (CATALOGUE[types[n]].pure and len(inputs) == 1 and inputs[0].src in probes
                    and "activation" in probes[inputs[0].src]):
                self.derived[n] = inputs[0].src
        # A training step's layer outputs are a function of its input batch and the weights
        # before its update when no layer draws random numbers: the helper process can then
        # recompute them all from a copy of the batch (engine.probes.helper), bit for bit
        # where both run torch with the same number of threads.
        self.replayable = not any(CATALOGUE[types[n.id]].random for n in doc.nodes)
        self.dead_units = {n for n in self.order if "dead_units" in probes[n]}
        self.saturation = {n for n in self.order if "saturation" in probes[n]}
        self.weight_hist = [n for n in self.order if "weights" in probes[n]]
        self.feature_maps = [n for n in self.order if "feature_maps" in probes[n]]
        self.filters = [n for n in self.order if "filters" in probes[n]][:1]  # the first conv layer
        self.recurrent = [n for n in self.order if "recurrent" in probes[n]]
        self.binary = [n for n in self.order if "binary" in probes[n]]  # BWN/XNOR layers (.binary)
        self.gates = {n: next((RECURRENT_PREFIX[p] for p in probes[n] if p in RECURRENT_PREFIX), None)
                      for n in self.recurrent}
        self._params = {n: [p for p in self.module(n).parameters() if p.requires_grad]
                        for n in self.order}
        self.param_layers = [n for n in self.order if self._params[n]]
        if device is None:
            first = next(self.model.parameters(), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)

    def module(self, node: str) -> nn.Module:
        return self.compiled.module_of(node)

    def type_of(self, node: str) -> str:
        return self._types[node]

    def params(self, node: str) -> list[torch.Tensor]:
        return self._params[node]

    def fused(self, node: str) -> nn.RNNBase | None:
        """The fused torch RNN/LSTM/GRU inside a recurrent node, or None for a loop layer."""
        module = self.module(node)
        if loops.is_loop(module):
            return None
        rnn = getattr(module, "rnn", None)
        if not isinstance(rnn, nn.RNNBase):
            raise TypeError(f"recurrent node {node!r} ({self.type_of(node)}) holds neither a fused "
                            f"torch RNN at .rnn nor a known loop module")
        return rnn
