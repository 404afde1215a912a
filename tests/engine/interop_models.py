"""Hand-written PyTorch models for the import tests, written the way people write them.

LeNet-5 follows LeCun et al. (1998) as textbooks draw it (tanh, average-pooling subsampling,
a 5x5 C5 as a dense layer on 16x5x5); ResNet18 follows He et al. (2015), Table 1, the
18-layer column: a 7x7/2 stem and max pool, four stages of two basic blocks with 1x1
projections where the size changes, global average pooling and one dense layer (widths are
a parameter so the test stays small).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Module):
    """Conv, pool, BN, dropout, linear."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 12, kernel_size=3, stride=1, padding="same", bias=False), nn.BatchNorm2d(12),
            nn.LeakyReLU(0.1), nn.AvgPool2d(2))
        self.dropout = nn.Dropout(0.3)
        self.fc1 = nn.Linear(12 * 4 * 4, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, classes)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        x = F.relu(self.bn(self.fc1(self.dropout(x))))
        return self.fc2(x)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)   # 28x28 -> 28x28
        self.s2 = nn.AvgPool2d(2)                  # -> 14x14
        self.c3 = nn.Conv2d(6, 16, 5)              # -> 10x10
        self.s4 = nn.AvgPool2d(2)                  # -> 5x5
        self.c5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)

    def forward(self, x):
        x = self.s2(torch.tanh(self.c1(x)))
        x = self.s4(torch.tanh(self.c3(x)))
        x = torch.flatten(x, 1)
        x = torch.tanh(self.c5(x))
        x = torch.tanh(self.f6(x))
        return self.output(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, width=8, classes=10, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        widths = [width, 2 * width, 4 * width, 8 * width]
        cin, stages = width, []
        for i, w in enumerate(widths):
            stages.append(nn.Sequential(BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class InceptionBlock(nn.Module):
    """Four branches joined along the channels."""

    def __init__(self, cin=4):
        super().__init__()
        self.b1 = nn.Conv2d(cin, 4, 1)
        self.b3 = nn.Sequential(nn.Conv2d(cin, 2, 1), nn.ReLU(), nn.Conv2d(2, 4, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(cin, 2, 1), nn.ReLU(), nn.Conv2d(2, 4, 5, padding=2))
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.proj = nn.Conv2d(cin, 2, 1)
        self.head = nn.Linear(14, 3)

    def forward(self, x):
        y = torch.cat([F.relu(self.b1(x)), F.relu(self.b3(x)), F.relu(self.b5(x)),
                       F.relu(self.proj(self.pool(x)))], dim=1)
        return self.head(y.mean(dim=(2, 3)))


class Recurrent(nn.Module):
    """Embedding, a stacked LSTM (with dropout between), a bidirectional GRU read through its
    final states, and a gate made by multiplying two branches."""

    def __init__(self, vocab=20):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True, dropout=0.2)
        self.gru = nn.GRU(12, 6, batch_first=True, bidirectional=True)
        self.gate = nn.Linear(12, 12)
        self.head = nn.Linear(12, 3)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.embed(tokens))
        _, h_n = self.gru(out)
        last = torch.cat([h_n[-2], h_n[-1]], dim=1)
        return self.head(last * torch.sigmoid(self.gate(last)))


class LastStep(nn.Module):
    """The common tutorial LSTM: explicit zero states, the last step of the output."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 16, batch_first=True)
        self.rnn = nn.RNN(16, 8, batch_first=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 16)
        c0 = torch.zeros(1, x.size(0), 16)
        out, _ = self.lstm(x, (h0, c0))
        out, h = self.rnn(out)
        return self.fc(out[:, -1, :])


class FinalStates(nn.Module):
    """Final states read three ways: h_n[-1] of a stacked LSTM, h_n.squeeze(0) of a GRU, and
    an RNN that starts from a learned state."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 6, batch_first=True)
        self.h0 = nn.Parameter(torch.randn(1, 1, 6) * 0.1)
        self.lstm = nn.LSTM(6, 5, num_layers=2, batch_first=True)
        self.gru = nn.GRU(3, 4, batch_first=True)
        self.fc = nn.Linear(9, 2)

    def forward(self, x):
        seq, _ = self.rnn(x, self.h0.expand(-1, x.size(0), -1).contiguous())
        _, (h, _) = self.lstm(seq)
        _, g = self.gru(x)
        return self.fc(torch.cat([h[-1], g.squeeze(0)], dim=1))


#: name -> (model factory, example input shape without the batch)
MODELS = {
    "SmallCNN": (SmallCNN, (3, 16, 16)),
    "LeNet5": (LeNet5, (1, 28, 28)),
    "ResNet18": (ResNet18, (3, 32, 32)),
    "InceptionBlock": (InceptionBlock, (4, 8, 8)),
    "Recurrent": (Recurrent, (9,)),
    "LastStep": (LastStep, (7, 5)),
    "FinalStates": (FinalStates, (6, 3)),
}


def randomise(model: nn.Module, seed=0) -> nn.Module:
    """Move batch-norm statistics and scales off their initial values (eval mode would
    otherwise be the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    return model
