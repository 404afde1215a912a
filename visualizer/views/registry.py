"""Every view the app offers, in menu order. Adding a view is one line here."""
from __future__ import annotations

from .activations import ActivationsView
from .binary import BinaryWeightsView
from .boundary import DecisionBoundaryView
from .bptt import GradientsThroughTimeView
from .curves import CurvesView
from .feature_maps import FeatureMapsView
from .gates import GatesView
from .health import LayerHealthView
from .predictions import PredictionsView

VIEWS = [
    CurvesView,
    LayerHealthView,
    ActivationsView,
    FeatureMapsView,
    GradientsThroughTimeView,
    GatesView,
    DecisionBoundaryView,
    PredictionsView,
    BinaryWeightsView,
]
