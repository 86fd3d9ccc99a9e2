"""Float Keras model -> learnable-width model, and the calibration of its integer bits."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from flow.bitwidth.layers import LWActivation, LWConv1D, LWConv2D, LWDense
from flow.bitwidth.quantize import WidthConfig, integer_bits
from flow.input_quantizer import input_quantizer, with_input_quantizer
from flow.quantizers.symmetric import DEFAULT_SCALE_BITS, check_scale
from flow.rewrite import COPIED, activation_name, layer_config, layer_outputs, rewrite

_KERNELS = {"Dense": LWDense, "Conv1D": LWConv1D, "Conv2D": LWConv2D}


def default_cut(model) -> str | None:
    """The layer before a final Dense classifier (where a float head starts), or None."""
    last = model.layers[-1]
    if type(last).__name__ not in ("Dense", "QDense"):
        return None
    return last.inbound_nodes[0].inbound_layers.name


def head_layers(model, cut: str | None) -> list[str]:
    """Names of the layers after ``cut`` (in the model's layer order): the float head."""
    if cut is None:
        return []
    names = [layer.name for layer in model.layers]
    if cut not in names:
        raise ValueError(f"cut layer '{cut}' is not in model '{model.name}'; its layers are: {', '.join(names)}")
    return names[names.index(cut) + 1 :]


def _check_layer(layer, head: list[str]):
    cls = type(layer).__name__
    if layer.name in head or cls in COPIED:
        return
    if cls in _KERNELS:
        act = activation_name(layer)
        if act != "linear":
            raise ValueError(
                f"layer '{layer.name}' applies activation '{act}' inside; learned widths need it as a separate "
                "Activation layer (Dense(..., activation=None) followed by Activation('relu'))"
            )
        if cls != "Dense" and (layer.get_config().get("groups", 1) != 1 or layer.get_config().get("padding") == "causal"):
            raise ValueError(f"layer '{layer.name}': grouped or causal convolutions have no learned-width version")
        return
    if cls == "Activation" and activation_name(layer) == "relu" or cls == "ReLU":
        return
    raise ValueError(
        f"layer '{layer.name}' ({cls}) has no learned-width version; supported: Dense, Conv1D, Conv2D, "
        "Activation('relu')/ReLU, and shape-only layers (Flatten, pooling, Add, Dropout); "
        "put other layers in the float head (cut=...)"
    )


def to_learned_width(
    model,
    calibration_x: np.ndarray,
    weights: WidthConfig = WidthConfig(),
    activations: WidthConfig = WidthConfig(),
    cut: str | None = None,
    bias_bits: int = 16,
    active: bool = True,
    input_bits: int | None = 8,
    scale: str = "po2",
    scale_bits: int = DEFAULT_SCALE_BITS,
) -> tf.keras.Model:
    """A learnable-width copy of float ``model`` with the same names and weights.

    Dense/Conv layers up to ``cut`` learn their kernel width; ReLU layers learn their
    activation width (``integer`` bits from the maximum on ``calibration_x``); the layers after
    ``cut`` (the float head) stay float. Kernels use a per-layer max-abs ``scale`` ('po2' or 'real'
    with ``scale_bits`` significant bits, :class:`flow.quantizers.quantized_symmetric`). The input gets an ``input_bits`` quantizer from the
    calibration range (:mod:`flow.input_quantizer`; ``None`` keeps it float), so the accelerator
    quantizes raw floats exactly like Keras.
    """
    if calibration_x is None or len(calibration_x) == 0:
        raise ValueError("to_learned_width: calibration data is required (a few hundred training inputs)")
    if weights.low < 2:
        raise ValueError(
            "kernel widths need at least 2 bits (1-bit symmetric levels are all 0: k = 2**0 - 1), "
            f"got low={weights.low}"
        )
    check_scale(scale, scale_bits, "to_learned_width")
    head = head_layers(model, cut)
    for layer in model.layers:
        _check_layer(layer, head)
    relus = [l.name for l in model.layers if l.name not in head and (type(l).__name__ in ("Activation", "ReLU"))]
    maxima = {n: float(np.max(v)) for n, v in layer_outputs(model, relus, calibration_x).items()} if relus else {}

    def replace(layer):
        cls = type(layer).__name__
        if layer.name in head:
            return None
        if cls in _KERNELS:
            bias_max = float(np.max(np.abs(layer.bias.numpy()))) if layer.use_bias else 0.0
            return _KERNELS[cls](
                **layer_config(layer), width=weights, bias_bits=bias_bits, bias_integer=integer_bits(bias_max),
                scale=scale, scale_bits=scale_bits,
            )
        if layer.name in maxima:
            return LWActivation(width=activations, integer=integer_bits(maxima[layer.name]), active=active, name=layer.name)
        return None

    body = rewrite(model, replace)
    if input_bits is None:
        return body
    return with_input_quantizer(body, input_quantizer(calibration_x, input_bits))
