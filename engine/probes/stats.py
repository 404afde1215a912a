"""Cheap statistics of a training step, computed with torch on the training device and
moved to the host in one transfer per step, which nothing waits for (:mod:`.pending`).

- Activations (taps on the layers whose catalogue entry lists "activation"):
  mean and population std over the whole batch output; for ReLU ("dead_units") the
  fraction of units that output 0 for every sample of the batch, a unit being one index
  of axis 1 (a feature of (N, F), a channel of (N, C, H, W) over all its pixels); for
  sigmoid/tanh ("saturation") the fraction of output values on the flat tails, sigmoid
  y < 0.01 or y > 0.99, tanh |y| > 0.99, where the slope is tiny.
- Gradients (after backward, before the optimizer step and before clipping): the L2
  norm of every layer's parameter gradients and the global norm over all parameters.
- Weights: the L2 norm of every layer's parameters (after the step) and the update ratio
  ‖W_after − W_before‖ / ‖W_before‖ of this step.

The taps keep a reference to the layer's output (nothing in the model changes an output
in place), or, when the helper process takes the statistics (:mod:`.process`), copy it
into the helper's shared-memory slot at once, while it is still in the CPU's cache (a
copy at the end of the step would read it back from memory). The reductions run once
the step is done, as a handful of ops per layer plus one fused ``torch._foreach_norm``
per group of parameter tensors. The weights before the update go into a buffer
allocated once, with one fused copy. Per-tensor norms are summed per layer on the host.
(A side thread for the reductions was tried and dropped: each of its torch calls hands
the GIL back and forth with the training thread, and those hand-overs cost more than
the reductions.)

The taps (:func:`.hooks.tap`, cheaper than forward hooks) are on the layers while a step is
measured and take only training-mode forwards, so validation passes and the probe-batch
captures never disturb the step's numbers.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..train.device import fetch
from ..train.metrics import tensor_norms
from .hooks import LayerHooks, tap

SATURATION = {"Sigmoid": (0.01, 0.99), "Tanh": (-0.99, 0.99)}


class StepStats:
    def __init__(self, targets):
        self.t = targets
        self._armed = False       # keep activations of the next training forward
        self._attached = False    # hooks stay on the layers (else only while armed)
        self.copy_into: dict[str, torch.Tensor] | None = None  # node -> slot view (helper's)
        self._outs: dict[str, torch.Tensor] = {}
        self._derived: set[str] = set()  # this step's outputs the helper recomputes (not kept)
        self._hooks = LayerHooks(self._install)
        self._gnorms: list[torch.Tensor] | None = None
        self._gpresent: list[int] = []
        self._before: list[torch.Tensor] | None = None   # persistent buffer
        self._have_before = False
        self._kinds = {n: (n in self.t.dead_units,
                           SATURATION.get(self.t.type_of(n)) if n in self.t.saturation else None)
                       for n in self.t.activation}
        self._names = {n: (f"layer/{n}/act_mean", f"layer/{n}/act_std", f"layer/{n}/dead_frac",
                           f"layer/{n}/saturated_frac") for n in self.t.activation}
        self._pnames = {n: (f"layer/{n}/grad_norm", f"layer/{n}/weight_norm", f"layer/{n}/update_ratio")
                        for n in self.t.param_layers}
        self._flat = [p for n in self.t.param_layers for p in self.t.params(n)]
        self._layer_of = [k for k, n in enumerate(self.t.param_layers) for _ in self.t.params(n)]
        self._all = list(range(len(self._flat)))
        self._trainer = None       # whose per-parameter gradient norms are taken (see use_norms_of)
        self._tindex: list[int] = []

    # -- hooks (engine/probes/hooks.py: on the layers only for the measured steps) ----------
    def attach(self) -> None:
        """Start taking statistics; the hooks go on with :attr:`armed`."""
        self._attached = True
        self._hooks.on(self._armed)

    def detach(self) -> None:
        self._attached = False
        self._hooks.on(False)

    @property
    def armed(self) -> bool:
        return self._armed

    @armed.setter
    def armed(self, on: bool) -> None:
        self._armed = bool(on)
        if self._attached:
            self._hooks.on(self._armed)

    def _install(self):
        for node in self.t.activation:
            yield tap(self.t.module(node), self._keep(node))

    def _keep(self, node: str):
        src = self.t.derived.get(node)

        def keep(module, out):
            if self._armed and module.training and isinstance(out, torch.Tensor) and out.is_floating_point():
                if self.copy_into:  # into the helper's slot
                    dst = self.copy_into.get(node)
                    if dst is not None and dst.shape == out.shape and dst.dtype == out.dtype:
                        dst.copy_(out.detach())
                        self._outs[node] = dst
                        return
                    if src in self._outs or src in self._derived:
                        self._derived.add(node)
                        return  # the helper recomputes it from its input's copy
                self._outs[node] = out.detach()
        return keep

    def take_outputs(self) -> dict[str, torch.Tensor]:
        """The outputs kept this step (node -> tensor, graph order), handed over."""
        acts, self._outs = self._outs, {}
        self._derived.clear()
        return {n: acts[n] for n in self.t.activation if n in acts}

    # -- gradients and weights -------------------------------------------------------------
    def use_norms_of(self, trainer) -> None:
        """Take the gradient norms from ``trainer.grad_norms()`` (measured once a step, and
        reused by its clip by norm) when it trains these parameters."""
        params = getattr(trainer, "params", None)
        pos = {id(p): i for i, p in enumerate(params or ())}
        index = [pos.get(id(p)) for p in self._flat]
        self._trainer = trainer if params and None not in index else None
        self._tindex = index

    def grad_norms(self) -> tuple[list[int], list[torch.Tensor]]:
        """(indices of the parameters that have a gradient, the L2 norm of each of those
        gradients as a 0-d tensor) now: after backward, before clipping."""
        if self._trainer is not None:
            got, norms = self._trainer.grad_norms()
            if len(got) == len(self._trainer.params):  # every gradient there (most steps)
                return self._all, [norms[j] for j in self._tindex]
            at = {j: k for k, j in enumerate(got)}
            present = [i for i, j in enumerate(self._tindex) if j in at]
            return present, [norms[at[self._tindex[i]]] for i in present]
        flat = self._flat
        present = [i for i, p in enumerate(flat) if p.grad is not None]
        return present, tensor_norms([flat[i].grad for i in present]) if present else []

    def after_backward(self, with_update_ratio: bool) -> None:
        """Gradient norms now (before clipping); the weights before the update."""
        flat = self._flat
        self._gpresent, norms = self.grad_norms()
        self._gnorms = norms or None
        with torch.no_grad():
            self._have_before = False
            if with_update_ratio and flat:
                if self._before is None:
                    self._before = [torch.empty_like(p, memory_format=torch.preserve_format) for p in flat]
                torch._foreach_copy_(self._before, flat)
            self._have_before = True

    # -- a step's numbers --------------------------------------------------------------------
    def finish(self, extra: dict[str, torch.Tensor] | None = None):
        """Everything measured this step: (names, pending values) where the pending
        object's ``values()`` is a flat list that :meth:`named` turns into a dict. The
        weight numbers are computed now (the next update changes the weights); the
        activation reductions now."""
        acts, self._outs = self._outs, {}
        self._derived.clear()
        derive_outputs(self.t, acts)  # those not copied for the helper (which also ends here)
        small: list[torch.Tensor] = []
        layout = {"acts": [], "grads": None, "weights": False, "before": False, "extra": []}
        if self._gnorms is not None:
            small += self._gnorms
            layout["grads"] = list(self._gpresent)
        flat = self._flat
        if flat:
            with torch.no_grad():
                layout["weights"] = True
                if self._have_before:  # ‖W_after‖ and ‖W_before‖ in one call, then ‖ΔW‖
                    small += tensor_norms(flat + self._before)
                    torch._foreach_sub_(self._before, flat)  # W_before − W_after, in place
                    small += tensor_norms(self._before)
                    layout["before"] = True
                else:
                    small += tensor_norms(flat)
        for name, v in (extra or {}).items():
            small.append(v)
            layout["extra"].append(name)
        self._gnorms, self._have_before = None, False
        entries = []
        for node in self.t.activation:
            x = acts.get(node)
            if x is not None:
                dead, sat = self._kinds[node]
                entries.append((node, x, dead and x.dim() >= 2, dead, sat))
                layout["acts"].append((node, x.numel(), x.shape[1] if x.dim() >= 2 else 0,
                                       dead, sat is not None))
        layout["spread"] = "norm" if all(e[1].device.type == "cpu" for e in entries) else "var"
        return layout, fetch(_gather(entries, small))

    def collect(self, extra: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """Everything measured since the last call, at once: record name -> value."""
        layout, pending = self.finish(extra)
        return self.named(layout, pending.values())

    def named(self, layout: dict, values: list[float]) -> dict[str, float]:
        """Host side of :meth:`finish`: the flat values as record name -> value."""
        out: dict[str, float] = {}
        pos = 0
        for node, n, units, dead, sat in layout["acts"]:
            names = self._names[node]
            mean, spread = values[pos], values[pos + 1]
            pos += 2
            out[names[0]] = mean
            out[names[1]] = (math.sqrt(max(0.0, spread)) if layout.get("spread") == "var"
                             else spread / math.sqrt(max(1, n)))
            if dead:
                if units:
                    out[names[2]] = values[pos] / units
                    pos += 1
                else:
                    out[names[2]] = math.nan
            if sat:
                out[names[3]] = values[pos] / max(1, n)
                pos += 1
        nl = len(self.t.param_layers)
        if layout["grads"] is not None:
            sq = [0.0] * nl
            for i, v in zip(layout["grads"], values[pos:pos + len(layout["grads"])]):
                sq[self._layer_of[i]] += v * v
            pos += len(layout["grads"])
            for node, s in zip(self.t.param_layers, sq):
                out[self._pnames[node][0]] = math.sqrt(s)
            out["grad_norm"] = math.sqrt(sum(sq))
        if layout["weights"]:
            count = len(self._flat)
            after = self._per_layer(values[pos:pos + count])
            pos += count
            for node, s in zip(self.t.param_layers, after):
                out[self._pnames[node][1]] = math.sqrt(s)
            if layout["before"]:
                before = self._per_layer(values[pos:pos + count])
                delta = self._per_layer(values[pos + count:pos + 2 * count])
                pos += 2 * count
                for node, b, d in zip(self.t.param_layers, before, delta):
                    out[self._pnames[node][2]] = _ratio(d, b)
        for name in layout["extra"]:
            out[name] = values[pos]
            pos += 1
        return out

    def _per_layer(self, norms: list[float]) -> list[float]:
        sq = [0.0] * len(self.t.param_layers)
        for k, v in zip(self._layer_of, norms):
            sq[k] += v * v
        return sq


def without_derived(targets, outs: dict) -> dict:
    """The outputs to copy for the helper: not those it can recompute (Targets.derived)."""
    return {n: a for n, a in outs.items() if targets.derived.get(n) not in outs}


def derive_outputs(targets, outs: dict) -> None:
    """Add the outputs of pure layers that were not copied, from their input's copy: the
    same function of the same values (bit for bit where both processes run torch with the
    same number of threads; else transcendental functions may differ in the last bit)."""
    with torch.no_grad():
        for node, src in targets.derived.items():
            if node not in outs and src in outs:
                outs[node] = targets.module(node)(outs[src])


def _act_values(x: torch.Tensor, dead: bool, sat) -> list[torch.Tensor]:
    """[mean, spread, (dead units), (saturated values)] of one output, as 0-d tensors on
    its device. The spread is ‖x − mean‖ on the CPU (two passes, mean then deviations:
    exact where a one-pass sum of squares would cancel, e.g. saturated units, and ~10x
    faster there than Welford) and the population variance on an accelerator, where
    ``torch.var_mean`` is one stable kernel instead of three launches."""
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    if x.device.type == "cpu":
        mean = x.mean(dtype=acc)
        vals = [mean, torch.linalg.vector_norm(x - mean, dtype=acc)]
    else:
        var, mean = torch.var_mean(x if x.dtype == acc else x.to(acc), correction=0)
        vals = [mean, var]
    if dead:
        # ReLU outputs are >= 0: a unit is dead when its largest value is 0.
        others = [d for d in range(x.dim()) if d != 1]
        vals.append((x.amax(dim=others) == 0).sum(dtype=acc))
    if sat:
        centre, half = (sat[0] + sat[1]) / 2, (sat[1] - sat[0]) / 2
        if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
            # numpy's comparisons are vectorised, torch's into a bool tensor are not on a CPU
            # (~6x slower on LeNet's first tanh); the same float32 arithmetic, the same count.
            v = x.detach().numpy()
            kind = v.dtype.type
            dev = np.abs(v - kind(centre)) if centre else np.abs(v)
            vals.append(torch.tensor(np.count_nonzero(dev > kind(half)), dtype=acc))
        else:
            dev = (x - centre).abs_() if centre else x.abs()
            vals.append((dev > half).sum(dtype=acc))
    return vals


def _gather(entries, small: list[torch.Tensor]) -> torch.Tensor:
    """Every number of the step in one 1-D tensor (one stack: one kernel, one transfer)."""
    with torch.no_grad():
        parts = [v for _, x, dead, _, sat in entries for v in _act_values(x, dead, sat)] + small
        if not parts:
            return torch.zeros(0)
        dtype = torch.float64 if any(p.dtype == torch.float64 for p in parts) else torch.float32
        return torch.stack([p if p.dtype == dtype else p.to(dtype) for p in parts])


def _ratio(delta_sq: float, before_sq: float) -> float:
    if before_sq > 0:
        return (delta_sq / before_sq) ** 0.5
    return float("nan") if delta_sq == 0 else float("inf")

