"""An input quantizer from calibration data, so that the accelerator quantizes raw floats like Keras.

A model whose first layer reads raw floats has no exact fixed-point input: Keras multiplies the
float inputs, the accelerator can only take them on a grid. ``with_input_quantizer`` puts a
``QActivation`` in front (named ``q_input``), whose type the HLS backend then gives the input:

* non-negative calibration data -> ``quantized_relu(bits, i)``;
* otherwise -> ``quantized_bits(bits, i, alpha=1)``;

with ``i`` the fewest integer bits whose range holds ``max |x|`` (``2**i > max |x|``, so the
largest calibration value is not clipped; inputs beyond it saturate, as on the accelerator).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from qkeras import QActivation, quantized_bits, quantized_relu

from flow.rewrite import call_flat

INPUT_LAYER_NAME = "q_input"


def input_quantizer(calibration_x, bits: int):
    """The input quantizer for data like ``calibration_x`` (see the module docstring)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 16:
        raise ValueError(f"input_bits: must be an integer in [2, 16] (or None to keep the input float), got {bits!r}")
    x = np.asarray(calibration_x, dtype=np.float64)
    top = float(np.max(np.abs(x))) if x.size else 0.0
    integer = max(0, math.floor(math.log2(top)) + 1) if top > 0 else 0
    if x.size and float(np.min(x)) >= 0.0:
        return quantized_relu(int(bits), integer)
    return quantized_bits(int(bits), integer, alpha=1)


def with_input_quantizer(model, quantizer, name: str = INPUT_LAYER_NAME) -> tf.keras.Model:
    """``model`` (single input) with ``QActivation(quantizer)`` between its input and its layers."""
    if len(model.inputs) != 1:
        raise ValueError(f"model '{model.name}' has {len(model.inputs)} inputs; an input quantizer needs exactly one")
    if name in [layer.name for layer in model.layers]:
        raise ValueError(f"model '{model.name}' already has a layer named '{name}'")
    inp = tf.keras.Input(model.input_shape[1:], name=model.input_names[0])
    q_in = QActivation(quantizer, name=name)(inp)
    outputs = call_flat(model, q_in)
    joined = tf.keras.Model(inp, outputs if len(outputs) > 1 else outputs[0], name=model.name)
    # The joined model shares its layers with ``model`` (two graph nodes each, so `layer.output` would
    # point into the old graph); a clone has layers of its own, with the same names and weights.
    out = tf.keras.models.clone_model(joined)
    for layer in joined.layers:
        out.get_layer(layer.name).set_weights(layer.get_weights())
    return out
