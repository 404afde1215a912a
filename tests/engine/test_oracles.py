"""The oracles in tests/reference/ checked on their own, never against engine code: every
hand-written BPTT against central finite differences, the standard cells and conv2d against
torch (float64), the LSTM variants against finite differences and against the standard LSTM
in the settings where they coincide."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.reference import binary, conv2d, convlstm, gru, lstm, lstm_cifg, lstm_peephole, rnn, smoothing, stats

N, T, FEAT, HID = 2, 4, 3, 3


def numeric_grad(loss, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of loss() with respect to every entry of arr (mutated in place,
    then restored)."""
    g = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = loss()
        arr[idx] = old - eps
        down = loss()
        arr[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def rel_err(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def randn(rng, *shape, scale=0.6):
    return rng.standard_normal(shape) * scale


# --------------------------------------------------------------------------- BPTT vs FD

def _recurrent_case(name, rng):
    """(module, weights {name: array} in positional order, grad key per weight, states,
    output key or None for a bare H)."""
    x = randn(rng, N, T, FEAT, scale=1.0)
    blocks = {"rnn": 1, "lstm": 4, "peephole": 4, "cifg": 3, "gru": 3}[name]
    w = {"x": x, "W_ih": randn(rng, blocks * HID, FEAT), "W_hh": randn(rng, blocks * HID, HID),
         "b_ih": randn(rng, blocks * HID), "b_hh": randn(rng, blocks * HID)}
    grads = {"x": "dx", "W_ih": "dW_ih", "W_hh": "dW_hh", "b_ih": "db_ih", "b_hh": "db_hh"}
    if name == "peephole":
        for k in ("w_ci", "w_cf", "w_co"):
            w[k] = randn(rng, HID)
            grads[k] = "d" + k
    states = {"h0": randn(rng, N, HID)}
    if name in ("lstm", "peephole", "cifg"):
        states["c0"] = randn(rng, N, HID)
    module = {"rnn": rnn, "lstm": lstm, "peephole": lstm_peephole, "cifg": lstm_cifg,
              "gru": gru}[name]
    return module, w, grads, states


def _convlstm_case(rng):
    ch, hid, hh, ww = 2, 2, 4, 3
    w = {"x": randn(rng, 1, 3, ch, hh, ww, scale=1.0),
         "weight": randn(rng, 4 * hid, ch + hid, 3, 3, scale=0.3),
         "bias": randn(rng, 4 * hid)}
    grads = {"x": "dx", "weight": "dweight", "bias": "dbias"}
    states = {"h0": randn(rng, 1, hid, hh, ww), "c0": randn(rng, 1, hid, hh, ww)}
    return convlstm, w, grads, states


@pytest.mark.parametrize("name", ["rnn", "lstm", "peephole", "cifg", "gru", "convlstm"])
def test_bptt_matches_finite_differences(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    if name == "convlstm":
        module, w, grads, states = _convlstm_case(rng)
    else:
        module, w, grads, states = _recurrent_case(name, rng)

    def hidden(**shifts):
        out = module.forward(*w.values(), **states, **shifts)
        return out if isinstance(out, np.ndarray) else out["h"]

    D = rng.standard_normal(hidden().shape)
    shifts = {"h_shift": np.zeros_like(D)}
    if "c0" in states:
        shifts["c_shift"] = np.zeros_like(D)

    def loss():
        return float((D * hidden(**shifts)).sum())

    got = module.bptt(*w.values(), D, **states)
    checks = [(grads[k], w[k]) for k in w] + [("d" + k, v) for k, v in states.items()]
    checks += [("dL_d" + k[0], v) for k, v in shifts.items()]
    for key, arr in checks:
        assert got[key].shape == arr.shape, key
        err = rel_err(got[key], numeric_grad(loss, arr))
        assert err < 1e-6, f"{name} {key}: relative error {err:.2e}"
    # The direct term alone is not the total: the recurrent paths add to every step but the last.
    assert np.allclose(got["dL_dh"][:, -1], D[:, -1])
    assert not np.allclose(got["dL_dh"][:, 0], D[:, 0])


# --------------------------------------------------------------------------- vs torch

def _torch_cell(cls, W_ih, W_hh, b_ih, b_hh, **kw):
    m = cls(W_ih.shape[1], W_hh.shape[1], batch_first=True, dtype=torch.float64, **kw)
    with torch.no_grad():
        for p, v in zip((m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0),
                        (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(torch.from_numpy(v))
    return m


def _lstm_weights(rng):
    return (randn(rng, N, T, FEAT, scale=1.0), randn(rng, 4 * HID, FEAT),
            randn(rng, 4 * HID, HID), randn(rng, 4 * HID), randn(rng, 4 * HID))


def test_rnn_matches_torch():
    rng = np.random.default_rng(1)
    x, W_ih, W_hh, b_ih, b_hh = (randn(rng, N, T, FEAT), randn(rng, HID, FEAT),
                                 randn(rng, HID, HID), randn(rng, HID), randn(rng, HID))
    h0 = randn(rng, N, HID)
    m = _torch_cell(torch.nn.RNN, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh")
    with torch.no_grad():
        ref, _ = m(torch.from_numpy(x), torch.from_numpy(h0)[None])
    np.testing.assert_allclose(rnn.forward(x, W_ih, W_hh, b_ih, b_hh, h0), ref.numpy(),
                               rtol=1e-12, atol=1e-12)


def test_lstm_matches_torch_states():
    rng = np.random.default_rng(2)
    x, W_ih, W_hh, b_ih, b_hh = _lstm_weights(rng)
    h0, c0 = randn(rng, N, HID), randn(rng, N, HID)
    m = _torch_cell(torch.nn.LSTM, W_ih, W_hh, b_ih, b_hh)
    with torch.no_grad():
        ref, (_, c_n) = m(torch.from_numpy(x), (torch.from_numpy(h0)[None],
                                                 torch.from_numpy(c0)[None]))
    ours = lstm.forward(x, W_ih, W_hh, b_ih, b_hh, h0, c0)
    np.testing.assert_allclose(ours["h"], ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours["c"][:, -1], c_n[0].numpy(), rtol=1e-12, atol=1e-12)


def _torch_step(m, x_t, h, c):
    with torch.no_grad():
        out, (h1, c1) = m(torch.from_numpy(x_t)[:, None], (torch.from_numpy(h)[None],
                                                            torch.from_numpy(c)[None]))
    return h1[0].numpy(), c1[0].numpy()


def test_lstm_gates_measured_on_torch():
    """Each gate of every step, measured from torch's outputs alone: c_t is linear in c_{t−1}
    with slope f; o = h / tanh(c); with the candidate forced to 1 (g rows: zero weights, bias
    40) c_t − f·c_{t−1} is i; and i ⊙ g is c_t − f·c_{t−1}."""
    rng = np.random.default_rng(3)
    x, W_ih, W_hh, b_ih, b_hh = _lstm_weights(rng)
    ours = lstm.forward(x, W_ih, W_hh, b_ih, b_hh)
    m = _torch_cell(torch.nn.LSTM, W_ih, W_hh, b_ih, b_hh)
    g_rows = slice(2 * HID, 3 * HID)
    W_ih1, W_hh1, b_ih1, b_hh1 = W_ih.copy(), W_hh.copy(), b_ih.copy(), b_hh.copy()
    W_ih1[g_rows], W_hh1[g_rows], b_ih1[g_rows], b_hh1[g_rows] = 0.0, 0.0, 40.0, 0.0
    m_g1 = _torch_cell(torch.nn.LSTM, W_ih1, W_hh1, b_ih1, b_hh1)
    h, c = np.zeros((N, HID)), np.zeros((N, HID))
    for t in range(T):
        h1, c1 = _torch_step(m, x[:, t], h, c)
        _, c1_shifted = _torch_step(m, x[:, t], h, c + 1.0)
        f = c1_shifted - c1
        o = h1 / np.tanh(c1)
        i = _torch_step(m_g1, x[:, t], h, c)[1] - f * c
        g = (c1 - f * c) / i
        for name, measured in zip("ifgo", (i, f, g, o)):
            np.testing.assert_allclose(ours[name][:, t], measured, rtol=1e-8, atol=1e-10,
                                       err_msg=f"gate {name}, step {t}")
        h, c = h1, c1


def test_lstm_gate_order_mistake_is_visible():
    rng = np.random.default_rng(4)
    x, W_ih, W_hh, b_ih, b_hh = _lstm_weights(rng)
    ours = lstm.forward(x, W_ih, W_hh, b_ih, b_hh)
    # Reading the rows as (f, i, g, o) would call the first block "f" at step 0 (h0 = 0).
    misread_f = 1.0 / (1.0 + np.exp(-(x[:, 0] @ W_ih[:HID].T + b_ih[:HID] + b_hh[:HID])))
    np.testing.assert_allclose(ours["i"][:, 0], misread_f, rtol=1e-12)
    assert not np.allclose(ours["f"][:, 0], misread_f, atol=1e-3)
    # And swapping the i and f blocks no longer reproduces torch.
    swap = np.r_[HID:2 * HID, 0:HID, 2 * HID:4 * HID]
    m = _torch_cell(torch.nn.LSTM, W_ih, W_hh, b_ih, b_hh)
    with torch.no_grad():
        ref = m(torch.from_numpy(x))[0].numpy()
    swapped = lstm.forward(x, W_ih[swap], W_hh[swap], b_ih[swap], b_hh[swap])
    assert not np.allclose(swapped["h"], ref, atol=1e-3)


def test_gru_matches_torch():
    rng = np.random.default_rng(5)
    x, W_ih, W_hh, b_ih, b_hh = (randn(rng, N, T, FEAT, scale=1.0), randn(rng, 3 * HID, FEAT),
                                 randn(rng, 3 * HID, HID), randn(rng, 3 * HID),
                                 randn(rng, 3 * HID))
    h0 = randn(rng, N, HID)
    m = _torch_cell(torch.nn.GRU, W_ih, W_hh, b_ih, b_hh)
    with torch.no_grad():
        ref = m(torch.from_numpy(x), torch.from_numpy(h0)[None])[0].numpy()
    np.testing.assert_allclose(gru.forward(x, W_ih, W_hh, b_ih, b_hh, h0)["h"], ref,
                               rtol=1e-12, atol=1e-12)
    swap = np.r_[HID:2 * HID, 0:HID, 2 * HID:3 * HID]  # (z, r, n): the wrong reading
    wrong = gru.forward(x, W_ih[swap], W_hh[swap], b_ih[swap], b_hh[swap], h0)["h"]
    assert not np.allclose(wrong, ref, atol=1e-3)


def test_gru_update_gate_and_candidate_measured_on_torch():
    """With W_hh = 0 the gates no longer see h_{t−1}, so torch's h_t is linear in h_{t−1}:
    slope z, and n = h_t(h_{t−1} = 0) / (1 − z). b_hh stays, so n still depends on r."""
    rng = np.random.default_rng(6)
    x, W_ih, b_ih, b_hh = (randn(rng, N, T, FEAT, scale=1.0), randn(rng, 3 * HID, FEAT),
                           randn(rng, 3 * HID), randn(rng, 3 * HID, scale=1.5))
    W_hh = np.zeros((3 * HID, HID))
    ours = gru.forward(x, W_ih, W_hh, b_ih, b_hh)
    m = _torch_cell(torch.nn.GRU, W_ih, W_hh, b_ih, b_hh)

    def step(x_t, h):
        with torch.no_grad():
            return m(torch.from_numpy(x_t)[:, None], torch.from_numpy(h)[None])[1][0].numpy()

    for t in range(T):
        zero = np.zeros((N, HID))
        z = step(x[:, t], zero + 1.0) - step(x[:, t], zero)
        n = step(x[:, t], zero) / (1.0 - z)
        np.testing.assert_allclose(ours["z"][:, t], z, rtol=1e-9)
        np.testing.assert_allclose(ours["n"][:, t], n, rtol=1e-9)


# --------------------------------------------------------------------------- variants

def test_peephole_with_zero_peepholes_is_the_standard_lstm():
    rng = np.random.default_rng(7)
    x, W_ih, W_hh, b_ih, b_hh = _lstm_weights(rng)
    zero = np.zeros(HID)
    a = lstm_peephole.forward(x, W_ih, W_hh, b_ih, b_hh, zero, zero, zero)
    b = lstm.forward(x, W_ih, W_hh, b_ih, b_hh)
    for k in "ifgoch":
        np.testing.assert_allclose(a[k], b[k], rtol=1e-14, atol=1e-15)
    # Non-zero peepholes change every gate but g, which has none.
    c = lstm_peephole.forward(x, W_ih, W_hh, b_ih, b_hh, zero + 1, zero + 1, zero + 1)
    assert np.allclose(c["g"][:, 0], b["g"][:, 0])
    assert not np.allclose(c["o"][:, 0], b["o"][:, 0])


def test_cifg_is_the_lstm_with_forget_rows_minus_input_rows():
    """σ(−z) = 1 − σ(z): a standard LSTM whose f rows are the negated i rows is CIFG."""
    rng = np.random.default_rng(8)
    x = randn(rng, N, T, FEAT, scale=1.0)
    W_ih, W_hh, b_ih = randn(rng, 3 * HID, FEAT), randn(rng, 3 * HID, HID), randn(rng, 3 * HID)
    i_rows, g_rows, o_rows = (slice(k * HID, (k + 1) * HID) for k in range(3))

    def full(W):
        return np.concatenate([W[i_rows], -W[i_rows], W[g_rows], W[o_rows]])

    a = lstm_cifg.forward(x, W_ih, W_hh, b_ih, None)
    b = lstm.forward(x, full(W_ih), full(W_hh), full(b_ih), None)
    for k in "ifgoch":
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(a["f"], 1.0 - a["i"])


# --------------------------------------------------------------------------- conv2d

@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), ((2, 1), (1, 0), (1, 2), 2), (1, 1, 1, 4),
    (3, 2, 1, 2), (1, "same", 2, 1), (1, "valid", 1, 1),
    # An even kernel width: 'same' pads one more column after than before.
    pytest.param(1, "same", 1, 2, marks=pytest.mark.filterwarnings(
        "ignore:Using padding='same' with even kernel:UserWarning"))])
def test_conv2d_matches_torch(stride, padding, dilation, groups):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((8, 4 // groups, 3, 2))
    b = rng.standard_normal(8)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                   stride=stride, padding=padding, dilation=dilation, groups=groups).numpy()
    ours = conv2d.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                         groups=groups)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 1, 1, 1), (2, (1, 0), (1, 2), 2), (1, "same", 1, 1)])
def test_conv2d_backward_matches_finite_differences(stride, padding, dilation, groups):
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((4, 2 // groups, 3, 3)), \
        rng.standard_normal(4)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    D = rng.standard_normal(conv2d.conv2d(x, w, b, **kw).shape)

    def loss():
        return float((D * conv2d.conv2d(x, w, b, **kw)).sum())

    got = conv2d.conv2d_backward(x, w, D, **kw)
    for key, arr in (("dx", x), ("dweight", w), ("dbias", b)):
        assert rel_err(got[key], numeric_grad(loss, arr)) < 1e-6, key


@pytest.mark.parametrize("kernel,stride,padding,dilation", [
    (2, None, 0, 1), (3, 2, 1, 1), ((3, 2), (1, 2), (1, 0), 1), (2, 1, 1, 2)])
def test_max_pool_matches_torch(kernel, stride, padding, dilation):
    x = np.random.default_rng(11).standard_normal((2, 3, 7, 6))
    ref = F.max_pool2d(torch.from_numpy(x), kernel, stride, padding, dilation).numpy()
    np.testing.assert_array_equal(conv2d.max_pool2d(x, kernel, stride, padding, dilation), ref)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), ((3, 2), 1, (1, 1))])
def test_avg_pool_matches_torch(kernel, stride, padding, count_include_pad):
    x = np.random.default_rng(12).standard_normal((2, 3, 7, 6))
    ref = F.avg_pool2d(torch.from_numpy(x), kernel, stride, padding,
                       count_include_pad=count_include_pad).numpy()
    ours = conv2d.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- ConvLSTM

def test_convlstm_matches_a_torch_step_loop():
    rng = np.random.default_rng(13)
    ch, hid, k = 2, 3, 3
    x = rng.standard_normal((2, 4, ch, 5, 6))
    w = randn(rng, 4 * hid, ch + hid, k, k, scale=0.3)
    b = randn(rng, 4 * hid)
    ours = convlstm.forward(x, w, b)
    tw, tb = torch.from_numpy(w), torch.from_numpy(b)
    h = torch.zeros(2, hid, 5, 6, dtype=torch.float64)
    c = torch.zeros_like(h)
    for t in range(x.shape[1]):
        z = F.conv2d(torch.cat([torch.from_numpy(x[:, t]), h], 1), tw, tb, padding=k // 2)
        i, f, g, o = (z[:, j * hid:(j + 1) * hid] for j in range(4))
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for name, ref in zip("ifgoch", (i, f, g, o, c, h)):
            np.testing.assert_allclose(ours[name][:, t], ref.numpy(), rtol=1e-11, atol=1e-12,
                                       err_msg=f"{name}, step {t}")


# --------------------------------------------------------------------------- stats

def test_mean_std_and_norms_from_hand_values():
    x = [[1.0, 2.0], [3.0, 6.0]]
    assert stats.mean(x) == 3.0
    assert stats.std(x) == pytest.approx(np.sqrt((4 + 1 + 0 + 9) / 4), rel=1e-15)
    assert stats.l2_norm([3.0, 4.0]) == 5.0
    assert stats.update_ratio([3.0, 4.0], [3.0, 4.5]) == pytest.approx(0.1)
    assert stats.update_ratio([0.0], [1.0]) == np.inf
    assert stats.global_grad_norm([np.array([1.0, 2.0]), np.array([[2.0], [4.0]])]) == 5.0


def test_histogram_follows_numpys_edge_rule():
    x = np.array([0.0, 0.5, 1.0, 1.0, 1.5, 2.0, -1.0, 2.5, np.nan])
    edges = [0.0, 1.0, 2.0]
    np.testing.assert_array_equal(stats.histogram(x, edges), [2, 4])  # 2.0 is in the last bin
    rng = np.random.default_rng(14)
    y, e = rng.standard_normal(1000), np.linspace(-2, 2, 17)
    np.testing.assert_array_equal(stats.histogram(y, e), np.histogram(y, e)[0])
    with pytest.raises(ValueError, match="strictly increasing"):
        stats.histogram(y, [1.0, 0.0])


def test_dead_relu_counts_units_dead_over_the_whole_batch():
    dense = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # feature 0 and 2 dead, 1 alive
    assert stats.dead_relu_fraction(dense) == pytest.approx(2 / 3)
    conv = np.zeros((2, 4, 3, 3))
    conv[1, 2, 2, 2] = 0.5   # one pixel of one sample keeps channel 2 alive
    conv[0, 3] = 1.0
    assert stats.dead_relu_fraction(conv) == 0.5
    seq = np.zeros((2, 5, 4))  # (N, T, H): units on the last axis
    seq[0, 4, 1] = 1.0
    assert stats.dead_relu_fraction(seq, unit_axis=2) == 0.75


def test_saturation_fractions_use_strict_thresholds():
    y = np.array([0.005, 0.01, 0.5, 0.99, 0.995, 1.0])
    assert stats.saturated_fraction(y) == 3 / 6
    assert stats.saturated_fraction(y, low=0.1, high=0.9) == 5 / 6
    t = np.array([-1.0, -0.99, 0.0, 0.995])
    assert stats.tanh_saturated_fraction(t) == 2 / 4


# --------------------------------------------------------------------------- hygiene

def test_binary_oracle_from_hand_values():
    # sign(0) = +1; α = mean |W| per output row; β = mean |x| per sample
    assert binary.sign([-2.0, -0.0, 0.0, 3.0]).tolist() == [-1.0, 1.0, 1.0, 1.0]
    w = np.array([[0.5, -1.5, 0.0, 2.0], [-0.25, 0.25, 0.25, -0.25]])
    assert binary.weight_scale(w).tolist() == [1.0, 0.25]
    assert binary.binarised_weight(w).tolist() == [[1, -1, 1, 1], [-0.25, 0.25, 0.25, -0.25]]
    assert binary.input_scale([[1.0, -3.0], [0.0, 0.5]]).tolist() == [2.0, 0.25]
    # x = [1, -3, 0, 0]: H = [1, -1, 1, 1] (sign 0 = +1), β = 1; sign(W row 0) = [1, -1, 1, 1]:
    # four matching bits -> 4·α·β = 4; row 1: [-1, 1, 1, -1] matches one, misses three -> -2·0.25
    y = binary.forward(np.array([[1.0, -3.0, 0.0, 0.0]]), w, mode="xnor")
    assert y.tolist() == [[4.0, -0.5]]
    assert binary.ste_mask([-1.0, 1.0, 1.0001, -2.0]).tolist() == [1, 1, 0, 0]
    assert binary.cancelled_fraction([0.5, 1.5, -3.0, 1.0]) == 0.5
    assert binary.flip_fraction([0.1, -0.1, 0.0, 2.0], [-0.1, -0.2, -0.0, 2.0]) == 0.25
    # the paper's numbers: 32x for the signs; c = 256, 3x3 kernels: 58x speedup (its Fig. 4)
    mem = binary.memory_bits(n_weights=256 * 256 * 9, outputs=256, bias=False)
    assert mem["float32"] / (256 * 256 * 9) == 32 and mem["ratio"] == pytest.approx(32 / (1 + 32 / (256 * 9)))
    assert binary.speedup(256, 9, 14 * 14) == pytest.approx(64 * 2304 / (2304 + 64))
    assert 57 < binary.speedup(256, 9, 14 * 14) < 63


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("mode", ["xnor", "bwn"])
def test_binary_oracle_backward_is_the_straight_through_estimate(conv, mode):
    """With sign(x) and W̃ held as free variables the layer is linear: finite differences give
    ∂L/∂W̃ and ∂L/∂(sign x) (β fixed); the straight-through estimate masks them by |·| ≤ 1."""
    rng = np.random.default_rng(3)
    x = randn(rng, 2, 2, 4, 4, scale=1.0) if conv else randn(rng, 3, 5, scale=1.0)
    w = randn(rng, 3, 2, 3, 3, scale=0.7) if conv else randn(rng, 4, 5, scale=0.7)
    pad = 1 if conv else 0
    out = binary.forward(x, w, mode=mode, padding=pad)
    dout = randn(rng, *out.shape)
    g = binary.backward(x, w, dout, mode=mode, padding=pad)
    h = binary.sign(x) if mode == "xnor" else x.copy()
    beta = binary.input_scale(x).reshape(-1, *[1] * (x.ndim - 1)) if mode == "xnor" else 1.0
    w_tilde = binary.binarised_weight(w)
    op = (lambda a, b: conv2d.conv2d(a, b, padding=pad)) if conv else (lambda a, b: a @ b.T)
    loss = lambda: float((op(h * beta, w_tilde) * dout).sum())  # noqa: E731
    assert rel_err(g["dweight_binarised"], numeric_grad(loss, w_tilde)) < 1e-8
    d_h = numeric_grad(loss, h)
    want_dx = d_h * (np.abs(x) <= 1) if mode == "xnor" else d_h
    assert rel_err(g["dx"], want_dx) < 1e-8
    assert np.array_equal(g["dweight"], g["dweight_binarised"] * (np.abs(w) <= 1))
    # and the output itself is the op on the scaled signs
    assert rel_err(out, op(h * beta, w_tilde)) < 1e-12


def test_bad_shapes_are_named_in_one_sentence():
    with pytest.raises(ValueError, match=r"W_ih must have shape \(12, 3\)"):
        lstm.forward(np.zeros((1, 2, 3)), np.zeros((12, 4)), np.zeros((12, 3)))
    with pytest.raises(ValueError, match="dL_dH_direct"):
        gru.bptt(np.zeros((1, 2, 3)), np.zeros((9, 3)), np.zeros((9, 3)), None, None,
                 np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="groups"):
        conv2d.conv2d(np.zeros((1, 3, 4, 4)), np.zeros((4, 1, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="odd"):
        convlstm.forward(np.zeros((1, 2, 1, 4, 4)), np.zeros((4, 2, 2, 2)))


def test_oracles_import_neither_engine_nor_torch():
    forbidden = {"engine", "torch", "visualizer"}
    for path in Path(__file__).parents[1].joinpath("reference").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & forbidden, f"{path.name}: {names}"


# --------------------------------------------------------------------------- smoothing
def test_debiased_ema_by_hand():
    # w = 0.5 over (1, 3): acc 0.5 then 0.25 + 1.5 = 1.75; norm 0.5 then 0.75
    assert smoothing.debiased_ema([1.0, 3.0], 0.5) == [1.0, 1.75 / 0.75]
    assert smoothing.debiased_ema([2.0, 5.0], 0.0) == [2.0, 5.0]
    assert smoothing.debiased_ema([4.0] * 50, 0.9) == pytest.approx([4.0] * 50, rel=1e-14)  # debiased: no pull to 0
