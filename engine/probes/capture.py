"""Heavy captures on the fixed probe batch: feature maps, recurrent internals, gradients
through time, predictions, activation and weight histograms and the first layer's filters.

Activation histograms are taken on the probe batch, not the training batch: the same
inputs every time, so a change in a histogram is a change in the network, not in the
batch (and the cost stays inside the capture's time budget).

One forward pass of the probe batch in eval mode (dropout off, batch-norm running
statistics, nothing updated). When the graph has recurrent layers the pass keeps its
autograd graph and one ``torch.autograd.grad`` of the training loss with respect to the
recurrent layers' outputs gives the direct terms ∂L/∂y_t; the optimizer's gradients
(``p.grad``) are never touched. Every hook is registered in ``try`` and removed in
``finally``; what is kept is detached and, on the way out, copied to the CPU.

Results are full-precision tensors keyed by record name (see docs/probes.md); the
recorder decides how they are rounded for the store.
"""
from __future__ import annotations

import torch

from ..graph.catalogue import CATALOGUE
from . import loops, recurrent
from .histograms import HistRange, histogram


class ProbeCapture:
    def __init__(self, targets, x: torch.Tensor, y: torch.Tensor, loss_fn, max_channels: int, bins: int):
        self.t = targets
        self.x, self.y = x, y
        self.loss_fn = loss_fn
        self.max_channels = max_channels
        self.bins = bins
        self.weight_ranges = {n: HistRange() for n in targets.weight_hist}
        self.act_ranges = {n: HistRange(CATALOGUE[targets.type_of(n)].output_range)
                           for n in targets.activation}

    def run(self) -> dict[str, torch.Tensor]:
        t, model = self.t, self.t.model
        feature: dict[str, torch.Tensor] = {}
        acts: dict[str, torch.Tensor] = {}
        seen: dict[str, tuple] = {}   # recurrent node -> (input, hx, output with graph)
        handles = []
        was_training = model.training
        try:
            for node in t.feature_maps:
                handles.append(t.module(node).register_forward_hook(self._keep(feature, node)))
            for node in t.activation:
                handles.append(t.module(node).register_forward_hook(self._keep(acts, node)))
            for node in t.recurrent:
                fused = t.fused(node)
                target = fused if fused is not None else t.module(node)
                handles.append(target.register_forward_hook(self._keep_rnn(seen, node)))
            model.eval()
            with torch.set_grad_enabled(bool(t.recurrent)):
                pred = model(self.x)
                grads = {}
                if seen:
                    nodes = list(seen)
                    loss = self.loss_fn(pred, self.y)
                    outs = [seen[n][2] for n in nodes]
                    got = torch.autograd.grad(loss, outs, allow_unused=True)
                    grads = {n: (torch.zeros_like(o) if g is None else g) for n, o, g in zip(nodes, outs, got)}
        finally:
            for h in handles:
                h.remove()
            model.train(was_training)
        out = {"predictions": pred.detach()}
        for node, fm in feature.items():
            out[f"feature_maps/{node}"] = fm[:, :self.max_channels]
        with torch.no_grad():
            for node, a in acts.items():
                out[f"act_hist/{node}"] = self._histogram(self.act_ranges[node], a)
            for node in t.recurrent:
                if node in seen:
                    out.update(self._recurrent(node, *seen[node], grads[node]))
            out.update(self._weights())
        return out

    @staticmethod
    def _keep(store, node):
        def hook(module, args, output):
            if torch.is_tensor(output):
                store[node] = output.detach()
        return hook

    @staticmethod
    def _keep_rnn(store, node):
        def hook(module, args, output):
            seq = output[0] if isinstance(output, tuple) else output
            hx = args[1] if len(args) > 1 else None
            store[node] = (args[0].detach(), hx, seq)
        return hook

    def _recurrent(self, node, x, hx, out, grad_out) -> dict[str, torch.Tensor]:
        fused = self.t.fused(node)
        if fused is not None:
            hx = tuple(h.detach() for h in hx) if isinstance(hx, tuple) else (
                None if hx is None else hx.detach())
            seq = out.detach()
            s = recurrent.internals(fused, x, seq, hx)
            g = recurrent.grad_h(fused, x, seq, grad_out, hx, s)
        else:
            module = self.t.module(node)
            direct = loops.full_direct(module, grad_out, x.shape[1])
            g, s = loops.grad_h(module, x, direct)
        rec = {f"rnn/{node}/h": s["h"], f"bptt/{node}/grad_h": g,
               f"bptt/{node}/grad_norm_t": g.transpose(0, 1).reshape(g.shape[1], -1).norm(dim=1)}
        prefix = self.t.gates.get(node)
        if prefix:
            for gate in ("i", "f", "g", "o", "c") if prefix != "gru" else ("r", "z", "n"):
                rec[f"{prefix}/{node}/{gate}"] = s[gate]
        return rec

    def _weights(self) -> dict[str, torch.Tensor]:
        out = {}
        for node in self.t.filters:
            w = getattr(self.t.module(node), "weight", None)
            if torch.is_tensor(w):
                out[f"filters/{node}"] = w.detach()[:self.max_channels]
        for node in self.t.weight_hist:
            flat = [p.detach().reshape(-1) for name, p in self.t.module(node).named_parameters()
                    if name.rsplit(".", 1)[-1].startswith("weight")]
            if not flat:
                continue
            out[f"weight_hist/{node}"] = self._histogram(self.weight_ranges[node], torch.cat(flat))
        return out

    def _histogram(self, rng: HistRange, x: torch.Tensor) -> torch.Tensor:
        """(2, bins + 1) float64 on the CPU: row 0 the edges; row 1 the counts, then the
        number of non-finite values."""
        lo, hi = rng.bounds(x)
        h = histogram(x, lo, hi, self.bins).double().cpu()
        rng.observe(float(h[-1]))
        return torch.stack([torch.linspace(lo, hi, self.bins + 1, dtype=torch.float64), h[:-1]])
