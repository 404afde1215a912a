"""Source text of the layers an exported .py defines itself (torch has no module for them).

Each entry is plain, self-contained PyTorch that computes what the engine's module computes
(engine/nn/); the export tests run both on the same weights for every layer type, so the
two cannot drift apart unnoticed. The class names and attributes are the engine's, which is
what lets ``fx_import`` read an exported file back into the same graph. Training code such
as probes' internals is left out: these are for running and fine-tuning the network.
"""
from __future__ import annotations

HELPERS: dict[str, str] = {}
#: helper -> helpers it uses (emitted first)
NEEDS: dict[str, tuple[str, ...]] = {}

HELPERS["binary"] = '''
def binary_sign(x):
    """+1 where x >= 0, -1 elsewhere (sign(0) = +1)."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


class SignSTE(torch.autograd.Function):
    """sign(x) whose gradient is passed straight through where |x| <= 1."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return binary_sign(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class SignWeightSTE(torch.autograd.Function):
    """sign(W) for a layer that scales its output by alpha afterwards: the latent weights
    get the gradient of sign(W) * alpha unchanged (straight-through)."""

    @staticmethod
    def forward(ctx, w, alpha):
        ctx.save_for_backward(alpha)
        return binary_sign(w)

    @staticmethod
    def backward(ctx, grad):
        (alpha,) = ctx.saved_tensors
        safe = torch.where(alpha > 0, alpha, torch.ones_like(alpha))
        return torch.where(alpha > 0, grad / safe, torch.zeros_like(grad)), None


def binary_forward(layer, x, op):
    """XNOR-Net (Rastegari et al. 2016): op(sign(x), sign(W)) * alpha * beta + bias, with
    alpha = mean |W| per output and beta = mean |x| per sample ("xnor"), or
    op(x, sign(W)) * alpha + bias ("bwn"). The +-1 products are summed first, so the sums
    are whole numbers, exact in any runtime; the scales come after."""
    alpha = layer.weight.detach().abs().mean(dim=tuple(range(1, layer.weight.dim())), keepdim=True)
    xb = SignSTE.apply(x) if layer.mode == "xnor" else x
    y = op(xb, SignWeightSTE.apply(layer.weight, alpha))
    scale = alpha.reshape(-1, *[1] * (y.dim() - 2))
    if layer.mode == "xnor":
        scale = x.detach().abs().mean(dim=tuple(range(1, x.dim())), keepdim=True) * scale
    y = y * scale
    if layer.bias is not None:
        y = y + layer.bias.reshape(-1, *[1] * (y.dim() - 2))
    return y
'''

HELPERS["BinaryLinear"] = '''
class BinaryLinear(nn.Linear):
    """Dense layer with +-1 weights scaled per output ("bwn"), and +-1 inputs scaled per
    sample too ("xnor")."""

    def __init__(self, in_features, out_features, bias=True, mode="xnor"):
        super().__init__(in_features, out_features, bias=bias)
        self.mode = mode

    def forward(self, x):
        return binary_forward(self, x, F.linear)
'''
NEEDS["BinaryLinear"] = ("binary",)

HELPERS["BinaryConv2d"] = '''
class BinaryConv2d(nn.Conv2d):
    """2-D convolution with +-1 weights scaled per channel ("bwn"), and +-1 inputs scaled
    per sample too ("xnor": the products become XNOR + popcount)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, mode="xnor"):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        self.mode = mode

    def forward(self, x):
        return binary_forward(self, x, lambda x, w: self._conv_forward(x, w, None))
'''
NEEDS["BinaryConv2d"] = ("binary",)

HELPERS["CausalConv1d"] = '''
class CausalConv1d(nn.Conv1d):
    """Dilated 1-D convolution that sees only the past: (kernel_size - 1) * dilation zeros
    on the left, so output t depends on inputs <= t and the length is kept."""

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x):
        return super().forward(F.pad(x, (self.left_pad, 0)))
'''

HELPERS["GlobalAvgPool"] = '''
class GlobalAvgPool(nn.Module):
    """Mean over every position: (N, C, ...) -> (N, C)."""

    def forward(self, x):
        return x.flatten(2).mean(dim=2)
'''

HELPERS["Maxout"] = '''
class Maxout(nn.Module):
    """Maximum over groups of `pieces` consecutive channels/features of dim 1."""

    def __init__(self, pieces):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        n, c = x.shape[:2]
        return x.reshape(n, c // self.pieces, self.pieces, *x.shape[2:]).amax(dim=2)
'''

HELPERS["Reshape"] = '''
class Reshape(nn.Module):
    """Reshapes each sample; the batch dimension is kept."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)
'''

HELPERS["Permute"] = '''
class Permute(nn.Module):
    """Reorders the dimensions after the batch (which stays first)."""

    def __init__(self, order):
        super().__init__()
        self.order = (0, *order)

    def forward(self, x):
        return x.permute(*self.order)
'''

HELPERS["loop_lstm"] = '''
class LoopLSTM(nn.Module):
    """An LSTM written as a loop over time, batch first (N, T, F). Weights in torch's
    layout: weight_ih (G*H, F), weight_hh (G*H, H), bias (G*H), gate blocks stacked."""

    n_gates = 4

    def __init__(self, input_size, hidden_size, return_sequences=True):
        super().__init__()
        g = self.n_gates
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.return_sequences = return_sequences
        self.weight_ih = nn.Parameter(torch.empty(g * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(g * hidden_size))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        n, steps, _ = x.shape
        h = x.new_zeros(n, self.hidden_size)
        c = x.new_zeros(n, self.hidden_size)
        x_proj = (x @ self.weight_ih.T + self.bias).unbind(1)  # every step's input part at once
        hs = []
        for t in range(steps):
            h, c = self.step(x_proj[t] + h @ self.weight_hh.T, c)
            hs.append(h)
        return torch.stack(hs, dim=1) if self.return_sequences else h
'''

HELPERS["PeepholeLSTM"] = '''
class PeepholeLSTM(LoopLSTM):
    """LSTM with peephole connections (Gers & Schmidhuber 2000): gates i, f see c_{t-1}
    through weight_ci, weight_cf; gate o sees the new cell c_t through weight_co."""

    def __init__(self, input_size, hidden_size, return_sequences=True):
        super().__init__(input_size, hidden_size, return_sequences)
        self.weight_ci = nn.Parameter(torch.empty(hidden_size))
        self.weight_cf = nn.Parameter(torch.empty(hidden_size))
        self.weight_co = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def step(self, z, c_prev):
        zi, zf, zg, zo = z.chunk(4, dim=1)
        i = torch.sigmoid(zi + self.weight_ci * c_prev)
        f = torch.sigmoid(zf + self.weight_cf * c_prev)
        c = f * c_prev + i * torch.tanh(zg)
        o = torch.sigmoid(zo + self.weight_co * c)
        return o * torch.tanh(c), c
'''
NEEDS["PeepholeLSTM"] = ("loop_lstm",)

HELPERS["CoupledLSTM"] = '''
class CoupledLSTM(LoopLSTM):
    """Coupled input-forget gate LSTM (CIFG, Greff et al. 2017): f_t = 1 - i_t; gate
    blocks (i, g, o)."""

    n_gates = 3

    def step(self, z, c_prev):
        zi, zg, zo = z.chunk(3, dim=1)
        i = torch.sigmoid(zi)
        c = (1.0 - i) * c_prev + i * torch.tanh(zg)
        return torch.sigmoid(zo) * torch.tanh(c), c
'''
NEEDS["CoupledLSTM"] = ("loop_lstm",)

HELPERS["ConvLSTM"] = '''
class ConvLSTM(nn.Module):
    """Convolutional LSTM (Shi et al. 2015) over (N, T, C, H, W): one 'same' convolution of
    [x_t, h_{t-1}] gives the gates (i, f, g, o) as feature maps."""

    def __init__(self, in_channels, hidden_channels, kernel=3, return_sequences=False):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.return_sequences = return_sequences
        self.conv = nn.Conv2d(in_channels + hidden_channels, 4 * hidden_channels, kernel,
                              padding=kernel // 2)

    def forward(self, x):
        n, steps, _, height, width = x.shape
        h = x.new_zeros(n, self.hidden_channels, height, width)
        c = torch.zeros_like(h)
        hs = []
        for t in range(steps):
            zi, zf, zg, zo = self.conv(torch.cat([x[:, t], h], dim=1)).chunk(4, dim=1)
            c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
            h = torch.sigmoid(zo) * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs, dim=1) if self.return_sequences else h
'''


def helper_source(names) -> tuple[str, set[str]]:
    """The source of the helpers ``names`` and of those they use, each once, dependencies
    first; and the extra imports they need ("F", "math")."""
    order: list[str] = []

    def visit(name):
        for dep in NEEDS.get(name, ()):
            visit(dep)
        if name not in order:
            order.append(name)

    for name in sorted(names):
        visit(name)
    text = "\n\n\n".join(HELPERS[n].strip("\n") for n in order)
    return text, {mod for mod, marker in (("F", "F."), ("math", "math.")) if marker in text}
