"""Internals of torch's fused nn.RNN / nn.LSTM / nn.GRU, recomputed exactly and cheaply.

The fused kernels hide their gates. Every gate depends only on x_t and h_{t−1}, and the
layer's own output sequence gives every h_{t−1} (shifted by one step, h_0 first), so the
pre-activations of all steps come from one batched matmul; only the LSTM cell state needs
an elementwise scan over t. Gradients through time run the BPTT recursion backwards from
the direct term ∂L/∂y_t (captured on the layer's output), a loop of T small batched ops
on the probe batch.

Gate order (the classic trap): torch stacks weight rows as LSTM (i, f, g, o) and GRU
(r, z, n). Results are returned in dicts keyed by gate *name*.

Every function works on one direction in forward time order; a bidirectional layer's
backward direction is handled by flipping time on the way in and out (:func:`internals`,
:func:`grad_h`), and the two directions are concatenated on the unit axis like torch's
output (forward units first).
"""
from __future__ import annotations

import torch
from torch import nn

LSTM_GATES = ("i", "f", "g", "o")  # torch's row order
GRU_GATES = ("r", "z", "n")


def kind_of(rnn: nn.Module) -> str:
    if isinstance(rnn, nn.LSTM):
        return "lstm"
    if isinstance(rnn, nn.GRU):
        return "gru"
    if isinstance(rnn, nn.RNN):
        return "rnn"
    raise TypeError(f"{type(rnn).__name__} is not a fused torch recurrent module")


def _params(rnn: nn.RNNBase, direction: int):
    sfx = "_l0" + ("_reverse" if direction else "")
    w_ih = getattr(rnn, "weight_ih" + sfx)
    w_hh = getattr(rnn, "weight_hh" + sfx)
    b_ih = getattr(rnn, "bias_ih" + sfx, None)
    b_hh = getattr(rnn, "bias_hh" + sfx, None)
    return w_ih, w_hh, b_ih, b_hh


def _check(rnn: nn.RNNBase) -> None:
    if rnn.num_layers != 1 or not rnn.batch_first or getattr(rnn, "proj_size", 0):
        raise ValueError("the recurrent probes read single-layer, batch-first modules "
                         "without projections")
    if isinstance(rnn, nn.RNN) and rnn.nonlinearity != "tanh":
        raise ValueError("the recurrent probes read tanh RNNs only")


def split_state(rnn: nn.RNNBase, hx, n: int, like: torch.Tensor):
    """(h0, c0) per direction as lists of (N, H) tensors (zeros where torch uses zeros).
    ``hx`` is what the module was called with: None, h0, or (h0, c0) for an LSTM."""
    dirs = 2 if rnn.bidirectional else 1
    zeros = like.new_zeros(dirs, n, rnn.hidden_size)
    if hx is None:
        h0, c0 = zeros, zeros
    elif isinstance(hx, tuple):
        h0, c0 = hx
    else:
        h0, c0 = hx, zeros
    return [h0[d] for d in range(dirs)], [c0[d] for d in range(dirs)]


# -- one direction, forward time ----------------------------------------------------------
def _pre(x, h_seq, h0, w_ih, w_hh, b_ih, b_hh):
    """Input and hidden pre-activations of every step: x_t W_ihᵀ + b_ih and h_{t−1} W_hhᵀ + b_hh."""
    h_prev = torch.cat([h0.unsqueeze(1), h_seq[:, :-1]], dim=1)
    a_x = x @ w_ih.T
    a_h = h_prev @ w_hh.T
    if b_ih is not None:
        a_x = a_x + b_ih
        a_h = a_h + b_hh
    return a_x, a_h, h_prev


def lstm_forward(x, h_seq, h0, c0, w_ih, w_hh, b_ih, b_hh) -> dict[str, torch.Tensor]:
    a_x, a_h, _ = _pre(x, h_seq, h0, w_ih, w_hh, b_ih, b_hh)
    zi, zf, zg, zo = (a_x + a_h).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
    ig = i * g
    cs, c = [], c0
    for t in range(x.shape[1]):
        c = f[:, t] * c + ig[:, t]
        cs.append(c)
    return {"i": i, "f": f, "g": g, "o": o, "c": torch.stack(cs, dim=1), "h": h_seq}


def gru_forward(x, h_seq, h0, w_ih, w_hh, b_ih, b_hh) -> dict[str, torch.Tensor]:
    a_x, a_h, _ = _pre(x, h_seq, h0, w_ih, w_hh, b_ih, b_hh)
    xr, xz, xn = a_x.chunk(3, dim=-1)
    hr, hz, hn = a_h.chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    return {"r": r, "z": z, "n": torch.tanh(xn + r * hn), "h": h_seq}


def lstm_grad_h(s, direct, c0, w_hh) -> torch.Tensor:
    """Total dL/dh_t (N, T, H) of an LSTM from its internals ``s`` and direct term."""
    i, f, g, o, c = s["i"], s["f"], s["g"], s["o"], s["c"]
    tc = torch.tanh(c)
    c_prev = torch.cat([c0.unsqueeze(1), c[:, :-1]], dim=1)
    to_c = o * (1 - tc * tc)                       # ∂h_t/∂c_t
    # ∂z/∂c_t for the i, f, g rows and ∂z_o/∂h_t for the o rows, precomputed for all t.
    slopes = torch.cat([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g),
                        tc * o * (1 - o)], dim=-1)
    out = torch.empty_like(direct)
    gh = direct.new_zeros(direct[:, 0].shape)
    gc = torch.zeros_like(gh)
    for t in range(direct.shape[1] - 1, -1, -1):
        dh = direct[:, t] + gh
        dc = gc + dh * to_c[:, t]
        out[:, t] = dh
        dz = torch.cat([dc, dc, dc, dh], dim=-1) * slopes[:, t]
        gh = dz @ w_hh
        gc = dc * f[:, t]
    return out


def gru_grad_h(s, direct, h0, w_hh, b_hh) -> torch.Tensor:
    r, z, n = s["r"], s["z"], s["n"]
    hd = n.shape[-1]
    h_prev = torch.cat([h0.unsqueeze(1), s["h"][:, :-1]], dim=1)
    a_n = h_prev @ w_hh[2 * hd:].T
    if b_hh is not None:
        a_n = a_n + b_hh[2 * hd:]
    p_n = (1 - z) * (1 - n * n)                    # ∂h_t/∂(pre n)
    slopes = torch.cat([p_n * a_n * r * (1 - r), (h_prev - n) * z * (1 - z), p_n * r], dim=-1)
    out = torch.empty_like(direct)
    gh = direct.new_zeros(direct[:, 0].shape)
    for t in range(direct.shape[1] - 1, -1, -1):
        dh = direct[:, t] + gh
        out[:, t] = dh
        gh = dh * z[:, t] + (dh.repeat(1, 3) * slopes[:, t]) @ w_hh
    return out


def rnn_grad_h(h_seq, direct, w_hh) -> torch.Tensor:
    slope = 1 - h_seq * h_seq
    out = torch.empty_like(direct)
    gh = direct.new_zeros(direct[:, 0].shape)
    for t in range(direct.shape[1] - 1, -1, -1):
        dh = direct[:, t] + gh
        out[:, t] = dh
        gh = (dh * slope[:, t]) @ w_hh
    return out


# -- whole layer, both directions ---------------------------------------------------------
def _directions(rnn, x, out, hx):
    """Per direction: (params, x, h_seq, h0, c0, flip) in that direction's time order."""
    hd = rnn.hidden_size
    h0s, c0s = split_state(rnn, hx, x.shape[0], x)
    for d in range(2 if rnn.bidirectional else 1):
        seq = out[..., d * hd:(d + 1) * hd]
        flip = (lambda a: a.flip(1)) if d else (lambda a: a)
        yield _params(rnn, d), flip(x), flip(seq), h0s[d], c0s[d], flip


def internals(rnn: nn.RNNBase, x, out, hx=None) -> dict[str, torch.Tensor]:
    """Gates by name (LSTM i, f, g, o, c; GRU r, z, n) and h, each (N, T, H·dirs).
    ``x`` (N, T, F) and ``out`` (N, T, H·dirs) are the module's input and output sequence."""
    _check(rnn)
    kind = kind_of(rnn)
    per_dir = []
    for (w_ih, w_hh, b_ih, b_hh), xd, seq, h0, c0, flip in _directions(rnn, x, out, hx):
        if kind == "lstm":
            s = lstm_forward(xd, seq, h0, c0, w_ih, w_hh, b_ih, b_hh)
        elif kind == "gru":
            s = gru_forward(xd, seq, h0, w_ih, w_hh, b_ih, b_hh)
        else:
            s = {"h": seq}
        per_dir.append({k: flip(v) for k, v in s.items()})
    return {k: torch.cat([s[k] for s in per_dir], dim=-1) for k in per_dir[0]}


def grad_h(rnn: nn.RNNBase, x, out, direct, hx=None, s=None) -> torch.Tensor:
    """Total dL/dh_t (N, T, H·dirs) for every t, through every recurrent path.
    ``direct`` is ∂L/∂out (N, T, H·dirs); ``s`` the result of :func:`internals` if at hand."""
    _check(rnn)
    kind = kind_of(rnn)
    s = internals(rnn, x, out, hx) if s is None else s
    hd = rnn.hidden_size
    parts = []
    for d, ((w_ih, w_hh, b_ih, b_hh), _, seq, h0, c0, flip) in enumerate(_directions(rnn, x, out, hx)):
        units = slice(d * hd, (d + 1) * hd)
        sd = {k: flip(v[..., units]) for k, v in s.items()}
        dd = flip(direct[..., units])
        if kind == "lstm":
            g = lstm_grad_h(sd, dd, c0, w_hh)
        elif kind == "gru":
            g = gru_grad_h(sd, dd, h0, w_hh, b_hh)
        else:
            g = rnn_grad_h(seq, dd, w_hh)
        parts.append(flip(g))
    return torch.cat(parts, dim=-1)
