"""Recurrent modules against independent computations: the fused wrappers' slices, the
learned initial state, the internals of the custom loops (peephole, coupled, ConvLSTM)
recomputed from the textbook equations, per-gate init, and CausalConv1d's causality."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.graph.catalogue import CATALOGUE
from engine.nn.conv import CausalConv1d
from engine.nn.convlstm import ConvLSTM
from engine.nn.lstm_variants import CoupledLSTM, PeepholeLSTM
from engine.nn.recurrent import GRULayer, LSTMLayer, RNNLayer

N, T, F_IN, H = 3, 6, 4, 5
CLASSES = {"RNN": (RNNLayer, nn.RNN), "LSTM": (LSTMLayer, nn.LSTM), "GRU": (GRULayer, nn.GRU)}


def _one_direction(fused: nn.RNNBase, torch_cls, suffix: str) -> nn.RNNBase:
    """A unidirectional torch module holding one direction's weights of ``fused``."""
    single = torch_cls(fused.input_size, fused.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, name + "_l0").copy_(getattr(fused, f"{name}_l0{suffix}"))
    return single


@pytest.mark.parametrize("kind", list(CLASSES))
def test_fused_last_step_is_the_final_output(kind):
    torch.manual_seed(1)
    wrapper_cls, torch_cls = CLASSES[kind]
    seq = wrapper_cls(F_IN, H, return_sequences=True)
    last = wrapper_cls(F_IN, H, return_sequences=False)
    last.load_state_dict(seq.state_dict())
    x = torch.randn(N, T, F_IN)
    full = seq(x)
    assert full.shape == (N, T, H)
    torch.testing.assert_close(last(x), full[:, -1])
    reference = _one_direction(seq.rnn, torch_cls, "")
    torch.testing.assert_close(full, reference(x)[0])


@pytest.mark.parametrize("kind", list(CLASSES))
def test_bidirectional_concatenates_forward_then_backward(kind):
    torch.manual_seed(2)
    wrapper_cls, torch_cls = CLASSES[kind]
    seq = wrapper_cls(F_IN, H, return_sequences=True, bidirectional=True)
    last = wrapper_cls(F_IN, H, return_sequences=False, bidirectional=True)
    last.load_state_dict(seq.state_dict())
    assert seq.bidirectional and seq.return_sequences and not last.return_sequences
    x = torch.randn(N, T, F_IN)
    fwd = _one_direction(seq.rnn, torch_cls, "")(x)[0]
    bwd = _one_direction(seq.rnn, torch_cls, "_reverse")(x.flip(1))[0].flip(1)  # back in time order
    full = seq(x)
    assert full.shape == (N, T, 2 * H)
    torch.testing.assert_close(full[..., :H], fwd)
    torch.testing.assert_close(full[..., H:], bwd)
    # The final state of each direction: forward at t = T-1, backward at t = 0.
    torch.testing.assert_close(last(x), torch.cat([fwd[:, -1], bwd[:, 0]], dim=-1))


def test_learned_h0_is_used_and_trained():
    torch.manual_seed(3)
    rnn = RNNLayer(F_IN, H, return_sequences=True, learned_h0=True)
    names = dict(rnn.named_parameters())
    assert "h0" in names and "h0" not in dict(RNNLayer(F_IN, H).named_parameters())
    with torch.no_grad():
        rnn.h0.normal_()
    x = torch.randn(N, T, F_IN)
    r = rnn.rnn
    # Textbook first step from the learned state: h_1 = tanh(W_ih x_1 + b_ih + W_hh h0 + b_hh).
    h1 = torch.tanh(x[:, 0] @ r.weight_ih_l0.T + r.bias_ih_l0 + rnn.h0[0] @ r.weight_hh_l0.T + r.bias_hh_l0)
    torch.testing.assert_close(rnn(x)[:, 0], h1)
    before = rnn.h0.detach().clone()
    opt = torch.optim.SGD(rnn.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        rnn(x).pow(2).mean().backward()
        assert rnn.h0.grad is not None and rnn.h0.grad.abs().sum() > 0
        opt.step()
    assert not torch.allclose(rnn.h0, before)


def test_catalogue_rnn_learned_h0_is_a_parameter_in_both_directions():
    module = CATALOGUE["RNN"].build({**CATALOGUE["RNN"].defaults(), "units": H, "learned_h0": True,
                                     "bidirectional": True}, [(T, F_IN)])
    assert module.h0.shape == (2, 1, H)
    assert module(torch.randn(N, T, F_IN)).shape == (N, T, 2 * H)


def _check_cell_consistency(out, internals, seq=True):
    i, f, g, o, c, h = (internals[k] for k in "ifgoch")
    torch.testing.assert_close(h, o * torch.tanh(c))
    c_prev = torch.cat([torch.zeros_like(c[:, :1]), c[:, :-1]], dim=1)
    torch.testing.assert_close(c, f * c_prev + i * g)
    for gate in (i, f, o):
        assert ((gate > 0) & (gate < 1)).all()
    assert (g.abs() < 1).all()
    torch.testing.assert_close(out, h if seq else h[:, -1])


def _randomise(module):
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.8, 0.8)


def test_peephole_internals_follow_the_equations():
    torch.manual_seed(4)
    cell = PeepholeLSTM(F_IN, H)
    _randomise(cell)
    x = torch.randn(N, T, F_IN)
    out, got = cell(x, return_internals=True)
    assert {k: v.shape for k, v in got.items()} == {k: (N, T, H) for k in "ifgoch"}
    _check_cell_consistency(out, got)
    torch.testing.assert_close(cell(x), out)
    # Recompute from the text, weights split in torch's row order (i, f, g, o).
    w_i, w_f, w_g, w_o = cell.weight_ih.chunk(4)
    u_i, u_f, u_g, u_o = cell.weight_hh.chunk(4)
    b_i, b_f, b_g, b_o = cell.bias.chunk(4)
    h = c = torch.zeros(N, H)
    for t in range(T):
        xt = x[:, t]
        i = torch.sigmoid(xt @ w_i.T + h @ u_i.T + cell.weight_ci * c + b_i)
        f = torch.sigmoid(xt @ w_f.T + h @ u_f.T + cell.weight_cf * c + b_f)
        g = torch.tanh(xt @ w_g.T + h @ u_g.T + b_g)
        c = f * c + i * g
        o = torch.sigmoid(xt @ w_o.T + h @ u_o.T + cell.weight_co * c + b_o)
        h = o * torch.tanh(c)
        for name, value in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c), ("h", h)):
            torch.testing.assert_close(got[name][:, t], value)


def test_peephole_without_peepholes_is_torchs_lstm():
    torch.manual_seed(5)
    cell = PeepholeLSTM(F_IN, H)
    ref = nn.LSTM(F_IN, H, batch_first=True)
    with torch.no_grad():
        for w in (cell.weight_ci, cell.weight_cf, cell.weight_co):
            w.zero_()
        cell.weight_ih.copy_(ref.weight_ih_l0)
        cell.weight_hh.copy_(ref.weight_hh_l0)
        cell.bias.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
    x = torch.randn(N, T, F_IN)
    torch.testing.assert_close(cell(x), ref(x)[0])


def test_coupled_forget_gate_is_one_minus_input_gate():
    torch.manual_seed(6)
    cell = CoupledLSTM(F_IN, H, return_sequences=False)
    _randomise(cell)
    assert cell.weight_ih.shape == (3 * H, F_IN) and cell.weight_hh.shape == (3 * H, H)
    x = torch.randn(N, T, F_IN)
    out, got = cell(x, return_internals=True)
    assert out.shape == (N, H)
    _check_cell_consistency(out, got, seq=False)
    torch.testing.assert_close(got["f"], 1 - got["i"])
    w_i, w_g, w_o = cell.weight_ih.chunk(3)
    u_i, u_g, u_o = cell.weight_hh.chunk(3)
    b_i, b_g, b_o = cell.bias.chunk(3)
    h_prev = torch.cat([torch.zeros(N, 1, H), got["h"][:, :-1]], dim=1)
    torch.testing.assert_close(got["i"], torch.sigmoid(x @ w_i.T + h_prev @ u_i.T + b_i))
    torch.testing.assert_close(got["g"], torch.tanh(x @ w_g.T + h_prev @ u_g.T + b_g))
    torch.testing.assert_close(got["o"], torch.sigmoid(x @ w_o.T + h_prev @ u_o.T + b_o))


@pytest.mark.parametrize("seq", [False, True])
def test_convlstm_internals_follow_the_equations(seq):
    torch.manual_seed(7)
    hid, k, size = 3, 3, 5
    cell = ConvLSTM(2, hid, k, return_sequences=seq)
    x = torch.randn(N, T, 2, size, size)
    out, got = cell(x, return_internals=True)
    assert {k_: v.shape for k_, v in got.items()} == {k_: (N, T, hid, size, size) for k_ in "ifgoch"}
    assert out.shape == ((N, T, hid, size, size) if seq else (N, hid, size, size))
    _check_cell_consistency(out, got, seq=seq)
    torch.testing.assert_close(cell(x), out)
    # Gates at every step from one conv over [x_t, h_{t-1}], channel blocks (i, f, g, o).
    h_prev = torch.cat([torch.zeros_like(got["h"][:, :1]), got["h"][:, :-1]], dim=1)
    for t in range(T):
        z = F.conv2d(torch.cat([x[:, t], h_prev[:, t]], dim=1), cell.conv.weight, cell.conv.bias, padding=k // 2)
        torch.testing.assert_close(got["i"][:, t], torch.sigmoid(z[:, :hid]))
        torch.testing.assert_close(got["f"][:, t], torch.sigmoid(z[:, hid:2 * hid]))
        torch.testing.assert_close(got["g"][:, t], torch.tanh(z[:, 2 * hid:3 * hid]))
        torch.testing.assert_close(got["o"][:, t], torch.sigmoid(z[:, 3 * hid:]))


@pytest.mark.parametrize("type_name, params, weight, gates", [
    ("LSTM", {}, "rnn.weight_hh_l0", 4),
    ("GRU", {"bidirectional": True}, "rnn.weight_hh_l0_reverse", 3),
    ("RNN", {}, "rnn.weight_hh_l0", 1),
    ("LSTM", {"variant": "peephole"}, "weight_hh", 4),
    ("LSTM", {"variant": "coupled"}, "weight_hh", 3),
])
def test_orthogonal_init_makes_every_recurrent_gate_block_orthogonal(type_name, params, weight, gates):
    torch.manual_seed(8)
    spec = CATALOGUE[type_name]
    p = {**spec.defaults(), **params, "units": H, "weight_init": "orthogonal", "bias_init": "ones"}
    module = spec.build(p, [(T, F_IN)])
    w = dict(module.named_parameters())[weight].detach()
    for block in w.chunk(gates):
        torch.testing.assert_close(block @ block.T, torch.eye(H))
    biases = {n: v for n, v in module.named_parameters() if n.rsplit(".", 1)[-1].startswith("bias")}
    assert biases
    for name, b in biases.items():
        # torch's fused cells add b_ih + b_hh: "ones" makes the sum 1.
        assert torch.all(b == (0.0 if "bias_hh" in name else 1.0)), name


def test_causal_conv1d_never_looks_ahead():
    torch.manual_seed(9)
    conv = CausalConv1d(2, 3, kernel_size=3, dilation=2)
    x = torch.randn(1, 2, 12)
    base = conv(x)
    assert base.shape == (1, 3, 12)
    for t in range(12):
        bumped = x.clone()
        bumped[..., t] += 1.0
        out = conv(bumped)
        torch.testing.assert_close(out[..., :t], base[..., :t])  # the past is untouched
        assert not torch.allclose(out[..., t], base[..., t])      # the present sees x_t
