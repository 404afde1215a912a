"""LSTM variants torch has no fused kernel for, as explicit time loops.

Both run batch-first over (N, T, F) in one direction and can return their per-step
internals for the probes. Weights follow torch's layout: ``weight_ih`` (G·H, F),
``weight_hh`` (G·H, H) and one ``bias`` (G·H), with the gate blocks stacked in rows.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class _LoopLSTM(nn.Module):
    gates: tuple[str, ...] = ()

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True):
        super().__init__()
        g = len(self.gates)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.return_sequences = return_sequences
        self.bidirectional = False
        self.weight_ih = nn.Parameter(torch.empty(g * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(g * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's LSTM default: every weight uniform in ±1/sqrt(H).
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, return_internals: bool = False):
        n, t_len, _ = x.shape
        h = x.new_zeros(n, self.hidden_size)
        c = x.new_zeros(n, self.hidden_size)
        # The input projection of every step at once; only the recurrent part loops.
        x_proj = (x @ self.weight_ih.T + self.bias).unbind(1)
        record: dict[str, list[torch.Tensor]] = {k: [] for k in ("i", "f", "g", "o", "c", "h")}
        for t in range(t_len):
            step = self._step(x_proj[t] + h @ self.weight_hh.T, c)
            h, c = step["h"], step["c"]
            if return_internals or self.return_sequences:
                record["h"].append(h)
            if return_internals:
                for k in ("i", "f", "g", "o", "c"):
                    record[k].append(step[k])
        out = torch.stack(record["h"], dim=1) if self.return_sequences else h
        if not return_internals:
            return out
        return out, {k: torch.stack(v, dim=1) for k, v in record.items()}

    def _step(self, z: torch.Tensor, c_prev: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, "
                f"return_sequences={self.return_sequences}")


class PeepholeLSTM(_LoopLSTM):
    """LSTM with peephole connections (Gers & Schmidhuber 2000).

    Gate rows (i, f, g, o) as in torch; peephole vectors ``weight_ci``, ``weight_cf``,
    ``weight_co`` (H each) let the gates see the cell:

        i_t = σ(W_ii x_t + W_hi h_{t−1} + w_ci ⊙ c_{t−1} + b_i)
        f_t = σ(W_if x_t + W_hf h_{t−1} + w_cf ⊙ c_{t−1} + b_f)
        g_t = tanh(W_ig x_t + W_hg h_{t−1} + b_g)
        c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
        o_t = σ(W_io x_t + W_ho h_{t−1} + w_co ⊙ c_t + b_o)      (the *new* cell)
        h_t = o_t ⊙ tanh(c_t)
    """

    gates = ("i", "f", "g", "o")

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True):
        super().__init__(input_size, hidden_size, return_sequences)
        self.weight_ci = nn.Parameter(torch.empty(hidden_size))
        self.weight_cf = nn.Parameter(torch.empty(hidden_size))
        self.weight_co = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()  # again, now that the peepholes exist

    def _step(self, z, c_prev):
        zi, zf, zg, zo = z.chunk(4, dim=1)
        i = torch.sigmoid(zi + self.weight_ci * c_prev)
        f = torch.sigmoid(zf + self.weight_cf * c_prev)
        g = torch.tanh(zg)
        c = f * c_prev + i * g
        o = torch.sigmoid(zo + self.weight_co * c)
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * torch.tanh(c)}


class CoupledLSTM(_LoopLSTM):
    """Coupled input-forget gate LSTM, CIFG (Greff et al. 2017): the standard LSTM with
    f_t = 1 − i_t, so there are no forget weights. Gate rows (i, g, o):

        i_t = σ(W_ii x_t + W_hi h_{t−1} + b_i);   f_t = 1 − i_t
        g_t = tanh(W_ig x_t + W_hg h_{t−1} + b_g)
        o_t = σ(W_io x_t + W_ho h_{t−1} + b_o)
        c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t;          h_t = o_t ⊙ tanh(c_t)
    """

    gates = ("i", "g", "o")

    def _step(self, z, c_prev):
        zi, zg, zo = z.chunk(3, dim=1)
        i = torch.sigmoid(zi)
        f = 1.0 - i
        g = torch.tanh(zg)
        o = torch.sigmoid(zo)
        c = f * c_prev + i * g
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * torch.tanh(c)}
