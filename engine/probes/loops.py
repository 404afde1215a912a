"""Internals and gradients through time of the recurrent layers that run as explicit time
loops (engine.nn: PeepholeLSTM, CoupledLSTM, ConvLSTM).

Their forward already returns the gates (``return_internals=True``). For the total
dL/dh_t the loop is replayed on the probe batch with the module's own weights, keeping
every h_t in the autograd graph; ``torch.autograd.grad`` of Σ_t ⟨D_t, h_t⟩ with respect
to the h_t themselves then gives, for each t, the derivative through the output *and*
every later step — exactly the total gradient. It never touches ``p.grad``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..nn.convlstm import ConvLSTM
from ..nn.lstm_variants import CoupledLSTM, PeepholeLSTM

LOOP_TYPES = (PeepholeLSTM, CoupledLSTM, ConvLSTM)


def is_loop(module: nn.Module) -> bool:
    return isinstance(module, LOOP_TYPES)


def full_direct(module: nn.Module, grad_out: torch.Tensor, t_len: int) -> torch.Tensor:
    """∂L/∂y_t for every t: the output's gradient, or, for a layer that returns only its
    last state, zeros except at the last step."""
    if module.return_sequences:
        return grad_out
    direct = grad_out.new_zeros((grad_out.shape[0], t_len, *grad_out.shape[1:]))
    direct[:, -1] = grad_out
    return direct


def internals(module: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """{"i", "f", "g", "o", "c", "h"}, each (N, T, ...), from the module's own loop."""
    with torch.no_grad():
        _, record = module(x, return_internals=True)
    return record


def _replay(module: nn.Module, x: torch.Tensor):
    """The module's loop again, h_t kept in the graph: (list of h_t, record by gate)."""
    n, t_len = x.shape[:2]
    record: dict[str, list[torch.Tensor]] = {k: [] for k in ("i", "f", "g", "o", "c", "h")}
    if isinstance(module, ConvLSTM):
        h = x.new_zeros(n, module.hidden_channels, *x.shape[3:])
        c = torch.zeros_like(h)
        for t in range(t_len):
            zi, zf, zg, zo = module.conv(torch.cat([x[:, t], h], dim=1)).chunk(4, dim=1)
            i, f, o, g = torch.sigmoid(zi), torch.sigmoid(zf), torch.sigmoid(zo), torch.tanh(zg)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for k, v in zip("ifgoch", (i, f, g, o, c, h)):
                record[k].append(v)
    else:
        h = x.new_zeros(n, module.hidden_size)
        c = torch.zeros_like(h)
        x_proj = x @ module.weight_ih.T + module.bias
        for t in range(t_len):
            step = module._step(x_proj[:, t] + h @ module.weight_hh.T, c)
            h, c = step["h"], step["c"]
            for k in "ifgoch":
                record[k].append(step[k])
    return record["h"], record


def grad_h(module: nn.Module, x: torch.Tensor, direct: torch.Tensor):
    """(total dL/dh_t (N, T, ...), internals by gate) for a loop layer, given the direct
    term ∂L/∂y_t (N, T, ...) of :func:`full_direct`."""
    with torch.enable_grad():
        x = x.detach()
        hs, record = _replay(module, x)
        h_seq = torch.stack(hs, dim=1)
        grads = torch.autograd.grad(h_seq, hs, grad_outputs=direct.detach(), allow_unused=True)
    total = torch.stack([torch.zeros_like(h) if g is None else g for h, g in zip(hs, grads)], dim=1)
    return total, {k: torch.stack(v, dim=1).detach() for k, v in record.items()}
