"""Recurrent layers: RNN, LSTM (standard, peephole, coupled), GRU and ConvLSTM."""
from __future__ import annotations

from torch import nn

from ...nn.convlstm import ConvLSTM
from ...nn.lstm_variants import CoupledLSTM, PeepholeLSTM
from ...nn.recurrent import GRULayer, LSTMLayer, RNNLayer
from .common import INIT_PARAMS, init_bias, init_weight
from .spec import LayerType, Param

SEQ = "(N, T, features)"


def init_recurrent(module: nn.Module, params: dict, gates: int) -> nn.Module:
    """Initialise a recurrent module gate block by gate block.

    Each of the ``gates`` row blocks of a weight (e.g. W_hi, W_hf, W_hg, W_ho of an LSTM)
    gets the scheme on its own, so "orthogonal" makes every H x H recurrent block
    orthogonal, and Xavier uses the fan of one gate. Biases "ones": torch's fused modules
    add two biases (b_ih + b_hh), so only b_ih is set to 1 and b_hh to 0 (the sum is 1).
    Peephole vectors and a learned h0 keep their own defaults.
    """
    scheme = params.get("weight_init", "default")
    bias = params.get("bias_init", "default")
    for name, p in module.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if p.dim() >= 2 and leaf.startswith("weight"):
            for block in p.data.chunk(gates, dim=0):
                init_weight(block, scheme)
        elif p.dim() == 1 and leaf.startswith("bias"):
            init_bias(p, "zeros" if bias == "ones" and leaf.startswith("bias_hh") else bias)
    return module


def _seq_flops(gates: int):
    """Multiply-adds per sample: per step and direction, gates·H·(F + H)."""
    def flops(p, s, o, m):
        t_len, features = s[0]
        dirs = 2 if p.get("bidirectional") else 1
        return t_len * dirs * gates * p["units"] * (features + p["units"])
    return flops


def _lstm_flops(p, s, o, m):
    t_len, features = s[0]
    h = p["units"]
    if p["variant"] == "peephole":
        return t_len * (4 * h * (features + h) + 3 * h)
    if p["variant"] == "coupled":
        return t_len * 3 * h * (features + h)
    return _seq_flops(4)(p, s, o, m)


def _convlstm_flops(p, s, o, m):
    t_len, c_in, height, width = s[0]
    hid = p["channels"]
    return t_len * height * width * 4 * hid * (c_in + hid) * p["kernel"] ** 2


def _lstm_check(p, s):
    if p["bidirectional"] and p["variant"] != "standard":
        return (f"the {p['variant']} variant runs in one direction only; set bidirectional to false "
                f"or use the standard variant")
    return None


def _convlstm_check(p, s):
    if p["kernel"] % 2 == 0:
        return f"its kernel must be odd so that 'same' padding keeps the size; got {p['kernel']}"
    return None


def _build_lstm(p, s):
    features, h, seq = s[0][-1], p["units"], p["return_sequences"]
    if p["variant"] == "peephole":
        return init_recurrent(PeepholeLSTM(features, h, seq), p, 4)
    if p["variant"] == "coupled":
        return init_recurrent(CoupledLSTM(features, h, seq), p, 3)
    return init_recurrent(LSTMLayer(features, h, seq, p["bidirectional"]), p, 4)


def _seq_params(*extra):
    return (
        Param("units", "int", 32, "Size of the hidden state h_t.", min=1, max=65536),
        Param("return_sequences", "bool", True, "Output h_t at every step (N, T, H), to stack another "
              "recurrent layer or predict per step; or only the final state (N, H)."),
        *extra,
        *INIT_PARAMS,
    )


# Every recurrent output is a hidden state: tanh, o ⊙ tanh(c) or a blend of tanh values.
HIDDEN_RANGE = (-1.0, 1.0)

BIDIRECTIONAL = Param("bidirectional", "bool", False, "Also read the sequence backwards and concatenate "
                      "both directions' states (doubles the output features).")

LAYERS = [
    LayerType(
        "RNN", "Recurrent", "Vanilla (Elman) RNN, h_t = tanh(W_ih x_t + W_hh h_{t-1} + b): the "
        "recurrence whose gradients vanish or explode through time. Input (N, T, features).",
        params=_seq_params(BIDIRECTIONAL, Param(
            "learned_h0", "bool", False, "Start from a learned initial hidden state instead of zeros.")),
        build=lambda p, s: init_recurrent(RNNLayer(s[0][-1], p["units"], p["return_sequences"],
                                                   p["bidirectional"], p["learned_h0"]), p, 1),
        ranks=(2,), expects=SEQ, flops=_seq_flops(1), probes=("activation", "recurrent"), output_range=HIDDEN_RANGE),
    LayerType(
        "LSTM", "Recurrent", "Long short-term memory: input, forget and output gates guard a cell "
        "state c_t that carries information (and gradients) across many steps. 'peephole' lets the "
        "gates see the cell (Gers & Schmidhuber 2000); 'coupled' ties the forget gate to 1 − input "
        "gate (CIFG). Input (N, T, features).",
        params=_seq_params(BIDIRECTIONAL, Param(
            "variant", "choice", "standard", "standard uses torch's fast fused kernel; peephole and "
            "coupled run a slower step-by-step loop.", choices=("standard", "peephole", "coupled"))),
        build=_build_lstm, ranks=(2,), expects=SEQ, check=_lstm_check, flops=_lstm_flops,
        probes=("activation", "recurrent", "lstm_gates"), output_range=HIDDEN_RANGE),
    LayerType(
        "GRU", "Recurrent", "Gated recurrent unit: reset gate r and update gate z, h_t = (1 − z) ⊙ n + "
        "z ⊙ h_{t-1}; fewer weights than an LSTM, no separate cell. Input (N, T, features).",
        params=_seq_params(BIDIRECTIONAL),
        build=lambda p, s: init_recurrent(GRULayer(s[0][-1], p["units"], p["return_sequences"],
                                                   p["bidirectional"]), p, 3),
        ranks=(2,), expects=SEQ, flops=_seq_flops(3), probes=("activation", "recurrent", "gru_gates"), output_range=HIDDEN_RANGE),
    LayerType(
        "ConvLSTM", "Recurrent", "Convolutional LSTM (Shi et al. 2015): an LSTM whose states are "
        "feature maps, for sequences of images (N, T, C, H, W), e.g. next-frame prediction.",
        params=(Param("channels", "int", 16, "Hidden channels of h_t and c_t.", min=1, max=4096),
                Param("kernel", "int", 3, "Odd kernel size of the gate convolution ('same' padding).",
                      min=1, max=31),
                Param("return_sequences", "bool", False, "Output h_t at every step (N, T, hid, H, W), or "
                      "only the last (N, hid, H, W)."),
                *INIT_PARAMS),
        build=lambda p, s: init_recurrent(ConvLSTM(s[0][1], p["channels"], p["kernel"],
                                                   p["return_sequences"]), p, 4),
        ranks=(4,), expects="(N, T, C, H, W)", check=_convlstm_check, flops=_convlstm_flops,
        probes=("activation", "recurrent", "convlstm_gates"), output_range=HIDDEN_RANGE),
]
