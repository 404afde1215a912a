"""Batch-first wrappers around torch's fused RNN, LSTM and GRU.

Each wrapper keeps the fused torch module as ``.rnn`` (probes read its weights, stored
in torch's gate order: LSTM (i, f, g, o), GRU (r, z, n)) and returns either the whole
sequence (N, T, H·dirs) or one vector per sample (N, H·dirs).
"""
from __future__ import annotations

import torch
from torch import nn


class FusedRecurrent(nn.Module):
    """One fused recurrent layer over (N, T, F).

    With ``return_sequences`` False the output is the final state of each direction:
    the forward direction's output at the last step t = T−1, followed (bidirectional)
    by the backward direction's output at t = 0, where it has read the whole sequence.
    """

    rnn_class: type[nn.RNNBase] = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 bidirectional: bool = False, learned_h0: bool = False):
        super().__init__()
        self.rnn = self.rnn_class(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.hidden_size = hidden_size
        self.return_sequences = return_sequences
        self.bidirectional = bidirectional
        dirs = 2 if bidirectional else 1
        # One initial state per direction, shared by every sample (broadcast over the batch).
        self.h0 = nn.Parameter(torch.zeros(dirs, 1, hidden_size)) if learned_h0 else None

    @property
    def learned_h0(self) -> bool:
        return self.h0 is not None

    def initial_state(self, batch: int):
        """The state the fused module starts from, or None for torch's zeros."""
        if self.h0 is None:
            return None
        return self.h0.expand(-1, batch, -1).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x, self.initial_state(x.shape[0]))
        if self.return_sequences:
            return out
        return last_step(out, self.hidden_size, self.bidirectional)

    def extra_repr(self) -> str:
        return (f"return_sequences={self.return_sequences}, "
                f"learned_h0={self.learned_h0}")


def last_step(out: torch.Tensor, hidden_size: int, bidirectional: bool) -> torch.Tensor:
    """The final state of each direction from a batch-first sequence output (N, T, H·dirs)."""
    if not bidirectional:
        return out[:, -1]
    return torch.cat([out[:, -1, :hidden_size], out[:, 0, hidden_size:]], dim=-1)


class RNNLayer(FusedRecurrent):
    """Vanilla (Elman) RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)."""

    rnn_class = nn.RNN


class LSTMLayer(FusedRecurrent):
    """Standard LSTM on torch's fused kernel (weights in gate order i, f, g, o)."""

    rnn_class = nn.LSTM

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 bidirectional: bool = False):
        super().__init__(input_size, hidden_size, return_sequences, bidirectional, learned_h0=False)


class GRULayer(FusedRecurrent):
    """GRU on torch's fused kernel (weights in gate order r, z, n);
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}."""

    rnn_class = nn.GRU

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = True,
                 bidirectional: bool = False):
        super().__init__(input_size, hidden_size, return_sequences, bidirectional, learned_h0=False)
