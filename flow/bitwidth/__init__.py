"""Learnable per-layer bit-width (the adaptive-precision paper), frozen to plain QKeras layers.

- :mod:`quantize`: the fixed-point levels at a width and the interpolated, trainable width;
- :mod:`layers`: ``LWDense``, ``LWConv1D``, ``LWConv2D``, ``LWActivation``;
- :mod:`build`: float model -> learned-width model (calibrated integer bits, float head);
- :mod:`cost`: the BOPs cost term; :mod:`train`: the training loop;
- :mod:`freeze`: learned widths -> QKeras; :mod:`schedule`: the paper's four steps.
"""

from flow.bitwidth.build import default_cut, head_layers, to_learned_width
from flow.bitwidth.cost import bops, bops_reference
from flow.bitwidth.freeze import freeze, quantized_widths, widths
from flow.bitwidth.layers import CUSTOM_LAYERS, LWActivation, LWConv1D, LWConv2D, LWDense
from flow.bitwidth.quantize import WidthConfig
from flow.bitwidth.train import WidthTrainConfig, train_widths

__all__ = [
    "CUSTOM_LAYERS",
    "LWActivation",
    "LWConv1D",
    "LWConv2D",
    "LWDense",
    "WidthConfig",
    "WidthTrainConfig",
    "bops",
    "bops_reference",
    "default_cut",
    "freeze",
    "head_layers",
    "quantized_widths",
    "to_learned_width",
    "train_widths",
    "widths",
]
