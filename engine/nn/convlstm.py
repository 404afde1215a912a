"""Convolutional LSTM (Shi et al. 2015), without peepholes."""
from __future__ import annotations

import torch
from torch import nn


class ConvLSTM(nn.Module):
    """An LSTM whose states are feature maps: (N, T, C, H, W) -> (N, T, hid, H, W), or the
    last step (N, hid, H, W).

    One 'same'-padded convolution ``conv`` over concat([x_t, h_{t−1}]) (channels) gives
    4·hid channels in the order (i, f, g, o):

        i, f, o = σ(...);  g = tanh(...)
        c_t = f ⊙ c_{t−1} + i ⊙ g;   h_t = o ⊙ tanh(c_t)
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel: int = 3,
                 return_sequences: bool = False):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"ConvLSTM kernel must be odd for 'same' padding; got {kernel}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.return_sequences = return_sequences
        self.bidirectional = False
        self.conv = nn.Conv2d(in_channels + hidden_channels, 4 * hidden_channels, kernel,
                              padding=kernel // 2)

    def forward(self, x: torch.Tensor, return_internals: bool = False):
        n, t_len, _, height, width = x.shape
        h = x.new_zeros(n, self.hidden_channels, height, width)
        c = torch.zeros_like(h)
        record: dict[str, list[torch.Tensor]] = {k: [] for k in ("i", "f", "g", "o", "c", "h")}
        for t in range(t_len):
            zi, zf, zg, zo = self.conv(torch.cat([x[:, t], h], dim=1)).chunk(4, dim=1)
            i, f, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.sigmoid(zo)
            g = torch.tanh(zg)
            c = f * c + i * g
            h = o * torch.tanh(c)
            if return_internals or self.return_sequences:
                record["h"].append(h)
            if return_internals:
                for k, v in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c)):
                    record[k].append(v)
        out = torch.stack(record["h"], dim=1) if self.return_sequences else h
        if not return_internals:
            return out
        return out, {k: torch.stack(v, dim=1) for k, v in record.items()}

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.hidden_channels}, kernel={self.conv.kernel_size[0]}, "
                f"return_sequences={self.return_sequences}")
