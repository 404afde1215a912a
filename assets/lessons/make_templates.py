"""Write the lesson templates (assets/lessons/templates/<slug>.json).

The JSON files are what the app loads; this script is how they were made, kept so that a
family of twins (ReLU/sigmoid/tanh, plain/residual, ...) stays identical except in the
one thing the lesson varies. Run from the repository root:

    .venv/bin/python assets/lessons/make_templates.py
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "templates"


class Graph:
    def __init__(self, name: str, description: str, dataset: dict, training: dict):
        self.name, self.description = name, description
        self.dataset, self.training = dataset, training
        self.nodes: list[dict] = []
        self.edges: list[dict] = []
        self.last: str | None = None

    def add(self, node_id: str, type_: str, params: dict | None = None, inputs=None) -> str:
        """Add a node fed by ``inputs`` (node ids); by default by the last node added."""
        if inputs is None:
            inputs = [self.last] if self.last else []
        self.nodes.append({"id": node_id, "type": type_, "params": params or {},
                           "pos": [200.0 * len(self.nodes), 0.0]})
        for src in inputs:
            self.edges.append({"from": f"{src}.out", "to": f"{node_id}.in"})
        self.last = node_id
        return node_id

    def to_dict(self) -> dict:
        return {"format": "neurostudio.graph", "version": 1, "name": self.name,
                "description": self.description, "nodes": self.nodes, "edges": self.edges,
                "dataset": self.dataset, "training": self.training}


# -- 1 activations ------------------------------------------------------------------------
def deep_mlp(act: str) -> Graph:
    g = Graph(f"Deep MLP ({act})",
              f"Eight hidden Dense layers of 32 units with {act} activations on the spiral. "
              "Twin of the other activation templates of the lesson: only the activation differs.",
              {"name": "spiral", "params": {"samples": 1000, "noise": 0.05}},
              {"optimizer": "adam", "lr": 0.003, "batch_size": 64, "steps": 400,
               "val_every": 50, "seed": 0})
    g.add("x", "Input", {"shape": [2]})
    for i in range(1, 9):
        g.add(f"fc{i}", "Dense", {"units": 32})
        g.add(f"act{i}", act)
    g.add("logits", "Dense", {"units": 2})
    g.add("loss", "CrossEntropy")
    return g


# -- 2, 3, 4 recurrent twins ---------------------------------------------------------------
def recurrent(kind: str, name: str, description: str, input_shape, dataset: dict, training: dict,
              units: int, out_units: int, loss: str, sequences: bool, **init) -> Graph:
    g = Graph(name, description, dataset, training)
    g.add("x", "Input", {"shape": list(input_shape)})
    g.add("rec", kind, {"units": units, "return_sequences": sequences, **init})
    g.add("head", "Dense", {"units": out_units})
    g.add("loss", loss)
    return g


ADDING = {"name": "adding", "params": {"samples": 4000, "length": 50}}
ADDING_TRAINING = {"optimizer": "adam", "lr": 0.01, "batch_size": 64, "steps": 900,
                   "clip_norm": 1.0, "val_every": 150, "seed": 0}


def adding(kind: str) -> Graph:
    return recurrent(kind, f"{kind} on the adding problem (T = 50)",
                     f"A {kind} with 32 units reads 50 (value, marker) pairs and must output the sum of "
                     "the two marked values: the first mark lies in the first half, so the answer "
                     "depends on inputs up to 50 steps back. Predicting the mean scores MSE 0.167.",
                     (50, 2), ADDING, ADDING_TRAINING, 32, 1, "MSE", False)


def exploding(clip) -> Graph:
    training = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 64, "steps": 300,
                "val_every": 100, "clip_norm": clip, "seed": 0}
    what = f"clipped to norm {clip}" if clip else "not clipped"
    return recurrent("RNN", f"RNN with large recurrent weights ({what})",
                     "A tanh RNN of 64 units with He-initialised (gain sqrt 2, spectral radius about "
                     "1.4) recurrent weights forecasts a noisy sine from its last 50 values, with "
                     f"SGD (lr 0.1, momentum 0.9); gradients are {what}.",
                     (50, 1), {"name": "sine_forecast", "params": {"samples": 2000, "length": 50}},
                     training, 64, 1, "MSE", False, weight_init="kaiming")


def counting(kind: str) -> Graph:
    return recurrent(kind, f"{kind} on a^n b^n",
                     f"A {kind} with 8 units predicts the next symbol of a^n b^n strings (n up to 12, "
                     "then '$' padding). After the first b the rest is determined, if the network "
                     "has counted the a's.",
                     (26, 3), {"name": "anbn", "params": {"samples": 1000, "max_n": 12}},
                     {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "steps": 1000,
                      "clip_norm": 1.0, "val_every": 250, "seed": 0}, 8, 3, "CrossEntropy", True)


# -- 5 residual learning, 6 initialisation -------------------------------------------------
SPIRAL = {"name": "spiral", "params": {"samples": 1000, "noise": 0.05}}


def deep_chain(residual: bool) -> Graph:
    kind = "residual" if residual else "plain"
    g = Graph(f"Deep MLP, 22 layers ({kind})",
              "Ten blocks of two Dense(32) layers, " + (
                  "each block adding its input back (x + F(x)): identity skips. " if residual else
                  "stacked with no skips. ") + "Twin of the other template of the lesson.",
              SPIRAL, {"optimizer": "adam", "lr": 0.001, "batch_size": 64, "steps": 500,
                       "val_every": 100, "seed": 0})
    g.add("x", "Input", {"shape": [2]})
    g.add("stem", "Dense", {"units": 32})
    prev = g.add("stem_relu", "ReLU")
    for b in range(1, 11):
        g.add(f"b{b}_fc1", "Dense", {"units": 32}, [prev])
        g.add(f"b{b}_relu1", "ReLU")
        g.add(f"b{b}_fc2", "Dense", {"units": 32})
        if residual:
            g.add(f"b{b}_add", "Add", {}, [f"b{b}_fc2", prev])
        prev = g.add(f"b{b}_relu2", "ReLU")
    g.add("logits", "Dense", {"units": 2})
    g.add("loss", "CrossEntropy")
    return g


def init_net(variant: str) -> Graph:
    init = {"small": "small", "kaiming": "kaiming", "batchnorm": "small"}[variant]
    label = {"small": "naive N(0, 0.01²) init", "kaiming": "He (Kaiming) init",
             "batchnorm": "naive init + BatchNorm"}[variant]
    g = Graph(f"Deep ReLU MLP ({label})",
              f"Ten Dense(64) + ReLU layers (biases zero) on the spiral with {label}. Twin of the other "
              "templates of the lesson: only the initialisation (and BatchNorm) differ.",
              SPIRAL, {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "batch_size": 64,
                       "steps": 100, "val_every": 50, "seed": 0})
    g.add("x", "Input", {"shape": [2]})
    for i in range(1, 11):
        g.add(f"fc{i}", "Dense", {"units": 64, "weight_init": init, "bias_init": "zeros"})
        if variant == "batchnorm":
            g.add(f"bn{i}", "BatchNorm1d")
        g.add(f"relu{i}", "ReLU")
    g.add("logits", "Dense", {"units": 2})
    g.add("loss", "CrossEntropy")
    return g


# -- 7 regularisation -----------------------------------------------------------------------
def regularised(on: bool) -> Graph:
    g = Graph("Wide MLP on 150 noisy spiral points (" + ("dropout + weight decay" if on else
                                                        "no regularisation") + ")",
              "Three Dense(128) + ReLU layers on only 150 spiral points (120 for training, noise "
              "0.15). " + ("Dropout 0.3 after each hidden layer and AdamW weight decay 0.5." if on
                           else "Nothing stops it from memorising the 120 training points."),
              {"name": "spiral", "params": {"samples": 150, "noise": 0.15}},
              {"optimizer": "adamw", "lr": 0.01, "batch_size": 80, "steps": 500, "val_every": 20,
               "weight_decay": 0.5 if on else 0.0, "seed": 0})
    g.add("x", "Input", {"shape": [2]})
    for i in (1, 2, 3):
        g.add(f"fc{i}", "Dense", {"units": 128})
        g.add(f"relu{i}", "ReLU")
        if on:
            g.add(f"drop{i}", "Dropout", {"p": 0.3})
    g.add("logits", "Dense", {"units": 2})
    g.add("loss", "CrossEntropy")
    return g


# -- 10 convolutions for sequences ----------------------------------------------------------
COPY = {"name": "copy", "params": {"samples": 2000, "lag": 20, "n_symbols": 4, "copy_len": 5}}
COPY_T, COPY_V = 30, 6
COPY_TRAINING = {"optimizer": "adam", "lr": 0.005, "batch_size": 64, "steps": 600,
                 "val_every": 100, "seed": 0}


def tcn_copy() -> Graph:
    g = Graph("TCN on the copy task",
              "Causal convolutions with kernel 3 and dilations 1, 2, 4, 8 (receptive field "
              "1 + 2·(1+2+4+8) = 31 steps, covering the whole 30-step sequence), then a Dense "
              "read-out per time step.", COPY, COPY_TRAINING)
    g.add("x", "Input", {"shape": [COPY_T, COPY_V]})
    g.add("to_channels", "Permute", {"order": [2, 1]})
    for d in (1, 2, 4, 8):
        g.add(f"conv_d{d}", "CausalConv1d", {"channels": 32, "kernel": 3, "dilation": d})
        g.add(f"relu_d{d}", "ReLU")
    g.add("to_time", "Permute", {"order": [2, 1]})
    g.add("head", "Dense", {"units": COPY_V})
    g.add("loss", "CrossEntropy")
    return g


def lstm_copy() -> Graph:
    return recurrent("LSTM", "LSTM on the copy task",
                     "An LSTM of 64 units reads the sequence and predicts a symbol at every step.",
                     (COPY_T, COPY_V), COPY, COPY_TRAINING, 64, COPY_V, "CrossEntropy", True)


# -- 11 upsampling ---------------------------------------------------------------------------
def autoencoder(up: str) -> Graph:
    label = {"transpose": "transposed convolutions", "shuffle": "pixel shuffle",
             "resize": "nearest resize, then convolution"}[up]
    g = Graph(f"Autoencoder ({label})",
              f"Encoder: two stride-2 convolutions (28 -> 7). Decoder: two upsampling stages by "
              f"{label}. Twin of the other autoencoders of the lesson: only the upsampling differs.",
              {"name": "shapes", "params": {"samples": 1000, "target": "input"}},
              {"optimizer": "adam", "lr": 0.002, "batch_size": 64, "steps": 150, "val_every": 50,
               "seed": 0})
    g.add("x", "Input", {"shape": [1, 28, 28]})
    g.add("enc1", "Conv2d", {"channels": 16, "kernel": 3, "stride": 2, "padding": 1})
    g.add("enc1_relu", "ReLU")
    g.add("enc2", "Conv2d", {"channels": 32, "kernel": 3, "stride": 2, "padding": 1})
    g.add("enc2_relu", "ReLU")
    for i, (c_out, last) in enumerate(((16, False), (1, True)), start=1):
        if up == "transpose":
            g.add(f"up{i}", "ConvTranspose2d", {"channels": c_out, "kernel": 4, "stride": 2, "padding": 1})
        elif up == "shuffle":
            g.add(f"up{i}_conv", "Conv2d", {"channels": 4 * c_out, "kernel": 3})
            g.add(f"up{i}", "PixelShuffle", {"scale": 2})
        else:
            g.add(f"up{i}_resize", "Upsample", {"scale": 2, "mode": "nearest"})
            g.add(f"up{i}", "Conv2d", {"channels": c_out, "kernel": 3})
        if not last:
            g.add(f"up{i}_relu", "ReLU")
    g.add("loss", "MSE")
    return g


# -- 12 feature hierarchy --------------------------------------------------------------------
def hierarchy_cnn() -> Graph:
    g = Graph("Small CNN on shapes",
              "Three 5x5/3x3 convolution stages (8, 16, 32 channels) with max pooling, global "
              "average pooling and a dense classifier, trained on the eight drawn shapes.",
              {"name": "shapes", "params": {"samples": 2000}},
              {"optimizer": "adam", "lr": 0.003, "batch_size": 64, "steps": 300, "val_every": 100,
               "seed": 0})
    g.add("x", "Input", {"shape": [1, 28, 28]})
    g.add("conv1", "Conv2d", {"channels": 8, "kernel": 5})
    g.add("relu1", "ReLU")
    g.add("pool1", "MaxPool2d", {"kernel": 2})
    g.add("conv2", "Conv2d", {"channels": 16, "kernel": 3})
    g.add("relu2", "ReLU")
    g.add("pool2", "MaxPool2d", {"kernel": 2})
    g.add("conv3", "Conv2d", {"channels": 32, "kernel": 3})
    g.add("relu3", "ReLU")
    g.add("gap", "GlobalAvgPool")
    g.add("logits", "Dense", {"units": 8})
    g.add("loss", "CrossEntropy")
    return g


def build() -> dict[str, Graph]:
    out = {f"deep_mlp_{act.lower()}": deep_mlp(act) for act in ("ReLU", "Sigmoid", "Tanh")}
    out.update({f"adding_{k.lower()}": adding(k) for k in ("RNN", "LSTM")})
    out["exploding_rnn"] = exploding(None)
    out["exploding_rnn_clipped"] = exploding(1.0)
    out.update({f"anbn_{k.lower()}": counting(k) for k in ("LSTM", "GRU")})
    out["deep_plain"] = deep_chain(False)
    out["deep_residual"] = deep_chain(True)
    out.update({f"init_{v}": init_net(v) for v in ("small", "kaiming", "batchnorm")})
    out["overfit_plain"] = regularised(False)
    out["overfit_regularised"] = regularised(True)
    out["copy_tcn"] = tcn_copy()
    out["copy_lstm"] = lstm_copy()
    out.update({f"upsample_{u}": autoencoder(u) for u in ("transpose", "shuffle", "resize")})
    out["hierarchy_cnn"] = hierarchy_cnn()
    return out


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for slug, graph in sorted(build().items()):
        path = OUT / f"{slug}.json"
        path.write_text(json.dumps(graph.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(path)
