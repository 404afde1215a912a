"""Cheap statistics of a training step, computed with torch on the training device and
moved to the CPU in one transfer per step (no ``.item()`` per layer).

- Activations (forward hooks on the layers whose catalogue entry lists "activation"):
  mean and population std over the whole batch output; for ReLU ("dead_units") the
  fraction of units that output 0 for every sample of the batch, a unit being one index
  of axis 1 (a feature of (N, F), a channel of (N, C, H, W) over all its pixels); for
  sigmoid/tanh ("saturation") the fraction of output values on the flat tails, sigmoid
  y < 0.01 or y > 0.99, tanh |y| > 0.99, where the slope is tiny.
- Gradients (after backward, before the optimizer step and before clipping): the L2
  norm of every layer's parameter gradients and the global norm over all parameters.
- Weights: the L2 norm of every layer's parameters (after the step) and the update ratio
  ‖W_after − W_before‖ / ‖W_before‖ of this step.

The hooks stay registered for the whole run (removed by :meth:`StepStats.detach`) and do
nothing unless armed, and only for training-mode forwards, so validation passes and the
probe-batch captures never disturb the step's numbers. (Histograms are heavy captures:
:mod:`.capture`.)
"""
from __future__ import annotations

import math
import time

import torch

SATURATION = {"Sigmoid": (0.01, 0.99), "Tanh": (-0.99, 0.99)}


class StepStats:
    def __init__(self, targets):
        self.t = targets
        self.armed = False        # compute activation statistics in the next training forward
        self._acts: dict[str, torch.Tensor] = {}
        self._handles: list = []
        self._grads: torch.Tensor | None = None
        self._before: list[torch.Tensor] | None = None
        self.seconds = 0.0  # time spent in the activation hooks since the last collect
        self.batch_size: int | None = None

    # -- hooks ---------------------------------------------------------------------------
    def attach(self) -> None:
        try:
            for node in self.t.activation:
                module = self.t.module(node)
                self._handles.append(module.register_forward_hook(self._hook(node)))
            self._handles.append(self.t.model.register_forward_pre_hook(self._batch_hook))
        except Exception:
            self.detach()
            raise

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _batch_hook(self, model, args):
        if model.training and args and torch.is_tensor(args[0]):
            self.batch_size = args[0].shape[0]

    def _hook(self, node: str):
        kind = self.t.type_of(node)
        dead = node in self.t.dead_units
        sat = SATURATION.get(kind) if node in self.t.saturation else None

        def hook(module, args, out):
            if not self.armed or not module.training or not torch.is_tensor(out) \
                    or not out.is_floating_point():
                return
            start = time.perf_counter()
            x = out.detach()
            # Two passes (mean, then the norm of the deviations): exact, and on CPU ~10x
            # faster than torch.std_mean's Welford loop.
            mean = x.mean()
            std = torch.linalg.vector_norm(x - mean) / math.sqrt(max(1, x.numel()))
            vals = [mean, std]
            if dead and x.dim() >= 2:
                # ReLU outputs are >= 0: a unit is dead when its largest value is 0.
                others = [d for d in range(x.dim()) if d != 1]
                vals.append((x.amax(dim=others) == 0).to(x.dtype).mean())
            if sat:
                # Count |y − centre| > half-width with float ops (bool tensors are slow here).
                centre, half = (sat[0] + sat[1]) / 2, (sat[1] - sat[0]) / 2
                vals.append((x - centre).abs_().sub_(half).clamp_(min=0).sign_().mean())
            if len(vals) < 2 + dead + bool(sat):
                vals.append(torch.full((), float("nan"), dtype=x.dtype, device=x.device))
            self._acts[node] = torch.stack(vals)
            self.seconds += time.perf_counter() - start
        return hook

    # -- gradients and weights -------------------------------------------------------------
    # torch._foreach_norm (what clip_grad_norm_ uses) takes every tensor's norm in one call:
    # the per-step cost stays flat however many parameter tensors a layer has.
    def after_backward(self, with_update_ratio: bool) -> None:
        """Gradient norms now; a copy of the weights for this step's update ratio."""
        flat = self._flat()
        present = [(i, p.grad.detach()) for i, p in enumerate(flat) if p.grad is not None]
        self._grads = None
        if present:
            index = torch.tensor([self._layer_of[i] for i, _ in present], device=self.t.device)
            self._grads = self._per_layer([g for _, g in present], index)
        self._before = [p.detach().clone() for p in flat] if with_update_ratio else None

    def _flat(self) -> list[torch.Tensor]:
        if not hasattr(self, "_flat_params"):
            self._flat_params = [p for n in self.t.param_layers for p in self.t.params(n)]
            self._layer_of = [k for k, n in enumerate(self.t.param_layers) for _ in self.t.params(n)]
            self._index = torch.tensor(self._layer_of, device=self.t.device)
        return self._flat_params

    def _per_layer(self, tensors: list[torch.Tensor], index: torch.Tensor) -> torch.Tensor:
        """Sum of squares per layer (L,) of ``tensors``, each belonging to layer index[k]."""
        wide = tensors[0].dtype in (torch.float16, torch.bfloat16)
        norms = torch._foreach_norm(tensors, 2, dtype=torch.float32) if wide else torch._foreach_norm(tensors)
        sq = torch.stack(norms)
        sq = sq * sq
        return torch.zeros(len(self.t.param_layers), dtype=sq.dtype, device=sq.device).index_add_(0, index, sq)

    def collect(self) -> dict[str, float]:
        """Everything measured since the last call: scalar name -> value (one transfer)."""
        parts, names = [], []
        for node in self.t.activation:
            v = self._acts.get(node)
            if v is None:
                continue
            parts.append(v)
            names += [f"layer/{node}/act_mean", f"layer/{node}/act_std"]
            if node in self.t.dead_units:
                names.append(f"layer/{node}/dead_frac")
            if node in self.t.saturation and self.t.type_of(node) in SATURATION:
                names.append(f"layer/{node}/saturated_frac")
        if self._grads is not None:
            parts += [self._grads, self._grads.sum().reshape(1)]
            names += [f"layer/{n}/grad_norm" for n in self.t.param_layers] + ["grad_norm"]
        wsq = dsq = None
        if self.t.param_layers:
            flat = [p.detach() for p in self._flat()]
            wsq = self._per_layer(flat, self._index)
            parts.append(wsq)
            if self._before is not None:
                dsq = self._per_layer(torch._foreach_sub(flat, self._before), self._index)
                bsq = self._per_layer(self._before, self._index)
                parts += [dsq, bsq]
        dtype = torch.float64 if any(p.dtype == torch.float64 for p in parts) else torch.float32
        values = torch.cat([p.reshape(-1).to(dtype) for p in parts]).cpu().tolist() if parts else []
        out = dict(zip(names, values[:len(names)]))
        pos = len(names)
        for key in ("grad_norm", *(f"layer/{n}/grad_norm" for n in self.t.param_layers)):
            if key in out:
                out[key] = out[key] ** 0.5
        if wsq is not None:
            w = values[pos:pos + len(self.t.param_layers)]
            pos += len(w)
            for node, v in zip(self.t.param_layers, w):
                out[f"layer/{node}/weight_norm"] = v ** 0.5
            if dsq is not None:
                d = values[pos:pos + len(w)]
                b = values[pos + len(w):pos + 2 * len(w)]
                for node, dv, bv in zip(self.t.param_layers, d, b):
                    out[f"layer/{node}/update_ratio"] = _ratio(dv, bv)
        self._acts.clear()
        self._grads = self._before = None
        self.seconds = 0.0
        return out


def _ratio(delta_sq: float, before_sq: float) -> float:
    if before_sq > 0:
        return (delta_sq / before_sq) ** 0.5
    return float("nan") if delta_sq == 0 else float("inf")
