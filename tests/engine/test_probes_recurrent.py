"""Recurrent probes vs the textbook oracles (tests/reference), in float64: hidden states,
gates by name, cell states and the total dL/dh_t for every t, for every recurrent layer
of the catalogue. The direct term ∂L/∂y_t the oracles need is derived here in numpy from
the head's weights, independently of the probes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.engine.test_probes_common import capture64, chain
from tests.reference import convlstm as ref_convlstm
from tests.reference import gru as ref_gru
from tests.reference import lstm as ref_lstm
from tests.reference import lstm_cifg as ref_cifg
from tests.reference import lstm_peephole as ref_peephole
from tests.reference import rnn as ref_rnn
from tests.reference import stats as ref_stats

N, T, F, H, C = 5, 7, 3, 4, 3
RTOL = 1e-6


def close(got, want, what):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(np.abs(want).max(), 1e-30)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale * 1e-3, err_msg=what)


def _np(t):
    return t.detach().double().numpy().copy()


def _head_direct(pred_in, head, loss, y):
    """∂L/∂(input of the Dense head), by hand: CrossEntropy on (N, C) or (N, T, C) class ids,
    MSE on values."""
    W, b = _np(head.weight), _np(head.bias)
    p = pred_in @ W.T + b
    if loss == "CrossEntropy":
        flat = p.reshape(-1, p.shape[-1])
        e = np.exp(flat - flat.max(1, keepdims=True))
        soft = e / e.sum(1, keepdims=True)
        soft[np.arange(len(flat)), y.reshape(-1)] -= 1.0
        dp = (soft / len(flat)).reshape(p.shape)
    else:
        dp = 2.0 * (p - y) / p.size
    return dp @ W


def _directions(x, bidirectional):
    yield 0, x, (lambda a: a)
    if bidirectional:
        yield 1, x[:, ::-1], (lambda a: a[:, ::-1])


def _fused_weights(rnn, d):
    sfx = "_l0" + ("_reverse" if d else "")
    return [_np(getattr(rnn, f"{n}{sfx}")) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


CASES = [
    ("RNN", {"return_sequences": False}, ref_rnn, None),
    ("RNN", {"return_sequences": True, "bidirectional": True}, ref_rnn, None),
    ("RNN", {"return_sequences": True, "learned_h0": True}, ref_rnn, None),
    ("LSTM", {"return_sequences": False}, ref_lstm, "ifgoc"),
    ("LSTM", {"return_sequences": True, "bidirectional": True}, ref_lstm, "ifgoc"),
    ("LSTM", {"return_sequences": False, "bidirectional": True}, ref_lstm, "ifgoc"),
    ("LSTM", {"return_sequences": True, "variant": "peephole"}, ref_peephole, "ifgoc"),
    ("LSTM", {"return_sequences": False, "variant": "coupled"}, ref_cifg, "ifgoc"),
    ("GRU", {"return_sequences": True}, ref_gru, "rzn"),
    ("GRU", {"return_sequences": False, "bidirectional": True}, ref_gru, "rzn"),
]


@pytest.mark.parametrize("layer,params,ref,gates", CASES,
                         ids=[f"{c[0]}-{'-'.join(f'{k}={v}' for k, v in c[1].items())}" for c in CASES])
def test_recurrent_internals_and_bptt_match_the_oracle(layer, params, ref, gates):
    seq = params["return_sequences"]
    loss = "MSE" if seq else "CrossEntropy"
    doc = chain((T, F), [("rec", layer, {"units": H, **params}), ("head", "Dense", {"units": C})], loss=loss)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, F))
    y = rng.standard_normal((N, T, C)) if seq else rng.integers(0, C, N)

    def init(compiled):  # a non-zero learned initial state, so h0 handling is tested
        module = compiled.module_of("rec")
        if getattr(module, "h0", None) is not None:
            with torch.no_grad():
                module.h0.normal_()

    compiled, rec = capture64(doc, x, y, init=init)
    module, head = compiled.module_of("rec"), compiled.module_of("head")
    dirs = 2 if params.get("bidirectional") else 1
    # Oracle forward, per direction in its own time order.
    states = []
    for d, xd, flip in _directions(x, dirs == 2):
        if params.get("variant") in ("peephole", "coupled"):
            w = [_np(module.weight_ih), _np(module.weight_hh), _np(module.bias), None]
            if params["variant"] == "peephole":
                w += [_np(module.weight_ci), _np(module.weight_cf), _np(module.weight_co)]
        else:
            w = _fused_weights(module.rnn, d)
        h0 = None
        if getattr(module, "h0", None) is not None:
            h0 = np.repeat(_np(module.h0)[d][None, 0], N, axis=0)
        kw = {"h0": h0} if h0 is not None else {}
        s = ref.forward(xd, *w, **kw)
        s = {"h": s} if isinstance(s, np.ndarray) else dict(s)
        states.append((w, kw, flip, s))
    h_full = np.concatenate([flip(s["h"]) for _, _, flip, s in states], axis=-1)
    # The head's input and the direct term ∂L/∂y_t, by hand.
    if seq:
        direct = _head_direct(h_full, head, loss, y)
    else:
        last = np.concatenate([h_full[:, -1, :H]] + ([h_full[:, 0, H:]] if dirs == 2 else []), axis=-1)
        g_last = _head_direct(last, head, loss, y)
        direct = np.zeros_like(h_full)
        direct[:, -1, :H] = g_last[:, :H]
        if dirs == 2:
            direct[:, 0, H:] = g_last[:, H:]
    close(rec["predictions"], (h_full if seq else last) @ _np(head.weight).T + _np(head.bias), "predictions")
    close(rec["rnn/rec/h"], h_full, "h")
    # Hidden states stay within (-1, 1): the histogram's range is [-1, 1] from the first record.
    hist = rec["act_hist/rec"].numpy()
    assert hist[0, 0] == -1 and hist[0, -1] == 1
    np.testing.assert_array_equal(hist[1, :-1], ref_stats.histogram(h_full if seq else last, hist[0]))
    totals = []
    for d, (w, kw, flip, s) in enumerate(states):
        units = slice(d * H, (d + 1) * H)
        g = ref.bptt(*([x[:, ::-1]] if d else [x]), *w, flip(direct[..., units]), **kw)
        totals.append(flip(g["dL_dh"]))
        prefix = {"LSTM": "lstm", "GRU": "gru"}.get(layer)
        for gate in gates or "":
            close(rec[f"{prefix}/rec/{gate}"][..., units], flip(s[gate]), f"gate {gate} direction {d}")
    total = np.concatenate(totals, axis=-1)
    close(rec["bptt/rec/grad_h"], total, "total dL/dh_t")
    close(rec["bptt/rec/grad_norm_t"], np.sqrt((total ** 2).sum(axis=(0, 2))), "‖dL/dh_t‖ per t")
    if gates and "f" in gates and params.get("variant") != "coupled":
        # The labels matter: i and f (torch rows 0 and 1) are different numbers.
        assert not np.allclose(rec["lstm/rec/i"], rec["lstm/rec/f"])


def test_return_last_state_has_a_direct_term_only_at_the_last_step():
    doc = chain((T, F), [("rec", "RNN", {"units": H, "return_sequences": False}),
                         ("head", "Dense", {"units": C})])
    rng = np.random.default_rng(2)
    _, rec = capture64(doc, rng.standard_normal((N, T, F)), rng.integers(0, C, N))
    g = rec["bptt/rec/grad_h"].numpy()
    # Gradient reaches early steps only through the recurrence: nonzero but, with
    # tanh slopes < 1, typically smaller than at the last step.
    assert np.all(np.abs(g).sum(axis=(0, 2)) > 0)


def test_convlstm_gates_and_bptt_match_the_oracle():
    hid, hw = 2, 4
    doc = chain((T - 3, 2, hw, hw), [("rec", "ConvLSTM", {"channels": hid, "kernel": 3}),
                                     ("flat", "Flatten", {}), ("head", "Dense", {"units": C})])
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, T - 3, 2, hw, hw))
    y = rng.integers(0, C, N)
    compiled, rec = capture64(doc, x, y)
    module, head = compiled.module_of("rec"), compiled.module_of("head")
    w, b = _np(module.conv.weight), _np(module.conv.bias)
    s = ref_convlstm.forward(x, w, b)
    for gate in "ifgoc":
        close(rec[f"convlstm/rec/{gate}"], s[gate], f"ConvLSTM gate {gate}")
    close(rec["rnn/rec/h"], s["h"], "ConvLSTM h")
    last = s["h"][:, -1]
    g_last = _head_direct(last.reshape(N, -1), head, "CrossEntropy", y).reshape(last.shape)
    direct = np.zeros_like(s["h"])
    direct[:, -1] = g_last
    total = ref_convlstm.bptt(x, w, b, direct)["dL_dh"]
    close(rec["bptt/rec/grad_h"], total, "ConvLSTM total dL/dh_t")
    close(rec["bptt/rec/grad_norm_t"], np.sqrt((total ** 2).sum(axis=(0, 2, 3, 4))), "ConvLSTM norm per t")


def test_probe_capture_leaves_gradients_mode_and_hooks_alone():
    doc = chain((T, F), [("rec", "LSTM", {"units": H}), ("head", "Dense", {"units": C})], loss="MSE")
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((N, T, F)), rng.standard_normal((N, T, C))
    holder = {}

    def init(compiled):
        model = compiled.model
        model.train()
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.5)
        holder["model"] = model

    capture64(doc, x, y, init=init)
    model = holder["model"]
    assert model.training
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in model.parameters())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
