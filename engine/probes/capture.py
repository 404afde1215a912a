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
``finally``; what is kept is detached. Histograms are computed on the device and cross
to the host together, in one transfer.

:meth:`ProbeCapture.run` returns full-precision tensors keyed by record name (see
docs/probes.md); :func:`stored` rounds them for the store. The same code runs inline on
the training model or, off the training path, on a copy of its weights (:mod:`.offpath`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..graph.catalogue import CATALOGUE
from . import binary, loops, recurrent
from .histograms import HistRange, histogram

FLOAT16_MAX = 65504.0


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

    def ranges(self) -> dict:
        """The histogram ranges reached so far (JSON-able), to hand over to another
        capturer so that it goes on exactly where this one stopped."""
        return {"act": {n: r.reach for n, r in self.act_ranges.items()},
                "weight": {n: r.reach for n, r in self.weight_ranges.items()}}

    def load_ranges(self, state: dict) -> None:
        for key, ranges in (("act", self.act_ranges), ("weight", self.weight_ranges)):
            for node, reach in (state.get(key) or {}).items():
                if node in ranges:
                    ranges[node].reach = reach

    def run(self) -> dict[str, torch.Tensor]:
        t, model = self.t, self.t.model
        feature: dict[str, torch.Tensor] = {}
        acts: dict[str, torch.Tensor] = {}
        seen: dict[str, tuple] = {}   # recurrent node -> (input, hx, output with graph)
        binary_inputs: dict[str, torch.Tensor] = {}
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
            handles += binary.capture_hooks(t, binary_inputs)
            model.eval()
            for node in t.recurrent:
                # A fused single-layer RNN computes the same in train mode (its dropout acts
                # only between layers), and cuDNN can only differentiate it in train mode:
                # ∂L/∂h of a layer under another recurrent layer goes through that one.
                fused = t.fused(node)
                if fused is not None:
                    fused.train()
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
            hists = [(f"act_hist/{node}", self.act_ranges[node], a) for node, a in acts.items()]
            for node in t.recurrent:
                if node in seen:
                    out.update(self._recurrent(node, *seen[node], grads[node]))
            out.update(self._filters())
            hists += self._weight_values()
            out.update(self._histograms(hists))
        out.update(binary.capture_records(t, binary_inputs, out, self.max_channels))
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

    def _filters(self) -> dict[str, torch.Tensor]:
        out = {}
        for node in self.t.filters:
            w = getattr(self.t.module(node), "weight", None)
            if torch.is_tensor(w):
                out[f"filters/{node}"] = w.detach()[:self.max_channels]
        return out

    def _weight_values(self) -> list:
        out = []
        for node in self.t.weight_hist:
            flat = [p.detach().reshape(-1) for name, p in self.t.module(node).named_parameters()
                    if name.rsplit(".", 1)[-1].startswith("weight")]
            if flat:
                out.append((f"weight_hist/{node}", self.weight_ranges[node], torch.cat(flat)))
        return out

    def _histograms(self, items) -> dict[str, torch.Tensor]:
        """Every histogram of the capture on the device, then one transfer: each a
        (2, bins + 1) float64 CPU tensor, row 0 the edges, row 1 the counts, then the
        number of non-finite values."""
        if not items:
            return {}
        bounds = [rng.bounds(x) for _, rng, x in items]
        h = torch.stack([histogram(x, lo, hi, self.bins) for (_, _, x), (lo, hi) in zip(items, bounds)])
        h = h.double().cpu()
        out = {}
        for (name, rng, _), (lo, hi), row in zip(items, bounds, h):
            rng.observe(float(row[-1]))
            edges = torch.linspace(lo, hi, self.bins + 1, dtype=torch.float64)
            out[name] = torch.stack([edges, row[:-1]])
        return out


def stored(rec: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """How a capture is kept in the store, as numpy arrays of their own: histograms
    float64 (exact counts), gradients, predictions and filters float32, everything else
    float16 when it fits (float32 when a finite value is beyond float16's range).
    The float16 conversions and their overflow checks run on the device, in bulk."""
    out: dict[str, np.ndarray] = {}
    halves = []
    for name, v in rec.items():
        if name.startswith(("act_hist/", "weight_hist/")):
            out[name] = v.double()
        elif name.startswith("binary/"):  # the dtypes engine.probes.binary chose
            out[name] = v
        elif not v.is_floating_point():
            out[name] = v
        elif name.startswith(("bptt/", "predictions", "filters/")):
            out[name] = v.float()
        else:
            h = v.half()
            out[name] = h
            halves.append((name, v, h))
    if halves:
        # A finite value at or beyond float16's largest: that record is kept in float32.
        over = torch.stack([((h.abs() >= FLOAT16_MAX) & torch.isfinite(v)).any()
                            for _, v, h in halves]).tolist()
        for (name, v, _), bad in zip(halves, over):
            if bad:
                out[name] = v.float()
    return {name: v.detach().cpu().numpy().copy() for name, v in out.items()}
