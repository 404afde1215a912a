"""The lessons, defined once as data. Each names its templates (a lesson template in
assets/lessons/templates/, or a built-in one in assets/templates/), its text
(assets/lessons/<id>.md), the views to open and the node to select first.

View names are those of the app's view panel: "Curves", "Layer health", "Activations",
"Feature maps", "Gradients through time", "Gates", "Decision boundary", "Predictions",
"Binary weights".
"""
from __future__ import annotations

from dataclasses import dataclass

VIEWS = ("Curves", "Layer health", "Activations", "Feature maps", "Gradients through time",
         "Gates", "Decision boundary", "Predictions", "Binary weights")


@dataclass(frozen=True)
class Lesson:
    id: str
    number: int
    title: str
    summary: str                  # one sentence, for a list
    templates: tuple[str, ...]    # template slugs, in the order to open them
    views: tuple[str, ...]        # views to open, the first one in front
    select: str                   # node id to select (present in every template)


LESSONS: tuple[Lesson, ...] = (
    Lesson("activations", 1, "Activations: ReLU, sigmoid and tanh in a deep net",
           "The same 8-layer MLP with ReLU trains in a fraction of the steps sigmoid and tanh need.",
           ("deep_mlp_relu", "deep_mlp_sigmoid", "deep_mlp_tanh"),
           ("Curves", "Layer health", "Activations"), "act5"),
    Lesson("vanishing_gradients", 2, "Vanishing gradients through time",
           "A vanilla RNN's dL/dh_t dies out over 50 steps; an LSTM's does not, and only the LSTM "
           "solves the adding problem.",
           ("adding_rnn", "adding_lstm"), ("Gradients through time", "Curves"), "rec"),
    Lesson("exploding_gradients", 3, "Exploding gradients and clipping",
           "An RNN with large recurrent weights blows up without clipping and trains with it.",
           ("exploding_rnn", "exploding_rnn_clipped"), ("Curves", "Layer health"), "rec"),
    Lesson("lstm_counts", 4, "An LSTM counts",
           "On a^n b^n one LSTM cell rises with every a and falls with every b.",
           ("anbn_lstm", "anbn_gru"), ("Gates", "Curves"), "rec"),
    Lesson("residual", 5, "Residual learning",
           "A 22-layer plain net ends with a higher training loss than its residual twin.",
           ("deep_plain", "deep_residual"), ("Curves", "Layer health"), "b1_fc1"),
    Lesson("initialisation", 6, "Initialisation and BatchNorm",
           "Small random weights shrink the activations layer by layer; He init and BatchNorm "
           "keep their scale.",
           ("init_small", "init_kaiming", "init_batchnorm"), ("Layer health", "Activations"), "relu10"),
    Lesson("regularisation", 7, "Regularisation: dropout and weight decay",
           "On 120 noisy points a wide MLP memorises; dropout and weight decay keep the "
           "validation curve close.",
           ("overfit_plain", "overfit_regularised"), ("Curves", "Decision boundary"), "fc3"),
    Lesson("binary", 8, "Binary networks: XNOR-Net",
           "Binary weights and activations cost some accuracy and save 32x the memory per weight.",
           ("xnor_net", "real_net"), ("Curves", "Feature maps"), "conv1"),
    Lesson("width_cardinality_density", 9, "Width, cardinality, density",
           "ResNet, ResNeXt and DenseNet: parameters, FLOPs and accuracy side by side.",
           ("resnet", "resnext", "densenet"), ("Curves", "Layer health"), "stem"),
    Lesson("sequence_convolutions", 10, "Convolutions for sequences: TCN vs LSTM",
           "Dilated causal convolutions see 31 steps back and learn the copy task faster than "
           "an LSTM.",
           ("copy_tcn", "copy_lstm"), ("Predictions", "Curves", "Feature maps"), "head"),
    Lesson("upsampling", 11, "Upsampling without checkerboards",
           "Transposed convolutions paint a checkerboard; resize-then-convolve does not.",
           ("upsample_transpose", "upsample_shuffle", "upsample_resize"),
           ("Predictions", "Feature maps", "Curves"), "up2"),
    Lesson("feature_hierarchy", 12, "The feature hierarchy of a CNN",
           "First-layer filters become edge and blob detectors; deeper channels respond to "
           "whole shapes.",
           ("hierarchy_cnn",), ("Feature maps", "Curves"), "conv1"),
    Lesson("binary_flips", 13, "Inside a binary network: sign flips and the straight-through estimator",
           "An XNOR net learns by flipping signs, fast at first and then rarely, and the flips "
           "come from latent weights near zero; sign() passes no gradient beyond ±1.",
           ("xnor_net",), ("Binary weights", "Curves"), "bconv2"),
)
