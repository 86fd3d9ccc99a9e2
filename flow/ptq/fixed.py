"""Post-training quantization of a float Keras model to fixed point, from calibration data.

``quantize(model, calibration_x, bits, mode, granularity)`` rebuilds the model with QKeras
layers (same names, same weights), without retraining:

* kernels: ``mode='symmetric'`` -> :class:`quantized_symmetric` (max-abs; ``scale='po2'``: rounded
  up to a power of two, ``scale='real'``: the clip at max-abs with a real scale of ``scale_bits``
  significant bits, the adaptive-precision paper's; both exact in HLS); ``mode='asymmetric'`` ->
  :class:`quantized_asymmetric` (min/max with a zero point, Keras only); ``granularity`` 'layer'
  (one range per layer, the paper's) or 'channel' (per output channel, the default here: it is
  more accurate and costs nothing in the kernel, where every row has its own shift anyway);
* biases: ``quantized_bits(bias_bits, i, alpha=1)`` with ``i`` from ``max|b|``;
* ReLU outputs (``Activation('relu')``, ``ReLU`` or a Dense/Conv's own ReLU): symmetric ->
  ``quantized_relu(act_bits, i)`` with ``2**i >= max`` over the calibration data;
  asymmetric -> ``quantized_asymmetric(act_bits, value_range=(min, max))``.

Layers after ``cut`` (a float head) stay float. The model input gets an ``input_bits`` quantizer
from the calibration range (:mod:`flow.input_quantizer`), so the accelerator quantizes raw floats exactly
like Keras; ``input_bits=None`` keeps the input float (then only inputs on a grid you give as
``ConvertConfig(input_precision=...)`` convert exactly).
"""

from __future__ import annotations

import numpy as np
from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits, quantized_relu

from flow.bitwidth.build import head_layers
from flow.bitwidth.quantize import integer_bits
from flow.input_quantizer import input_quantizer, with_input_quantizer
from flow.quantizers import quantized_asymmetric, quantized_symmetric
from flow.quantizers.symmetric import DEFAULT_SCALE_BITS, check_scale
from flow.rewrite import COPIED, activation_name, layer_config, layer_outputs, rewrite

MODES = ("symmetric", "asymmetric")
GRANULARITIES = ("layer", "channel")
_KERNELS = {"Dense": QDense, "Conv1D": QConv1D, "Conv2D": QConv2D}


def _check(model, calibration_x, bits, act_bits, mode, granularity, scale, scale_bits):
    if calibration_x is None or len(calibration_x) == 0:
        raise ValueError(
            "post-training quantization needs calibration data (calibration_x: a few hundred training inputs) "
            "to set the activation ranges"
        )
    if mode not in MODES:
        raise ValueError(f"mode: '{mode}' is not one of {MODES}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity: '{granularity}' is not one of {GRANULARITIES}")
    check_scale(scale, scale_bits, "post-training quantization")
    if mode == "asymmetric" and scale != "po2":
        raise ValueError(f"scale: {scale!r} applies to mode='symmetric' only (asymmetric scales are always real)")
    for what, value in (("bits", bits), ("act_bits", act_bits)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 2 <= value <= 8:
            raise ValueError(f"{what}: must be an integer in [2, 8], got {value!r}")
    shape = tuple(model.input_shape[1:])
    if tuple(np.shape(calibration_x)[1:]) != shape:
        raise ValueError(f"calibration_x: expected inputs of shape (n, {', '.join(map(str, shape))}), got {np.shape(calibration_x)}")


def _check_layer(layer, head):
    cls = type(layer).__name__
    if layer.name in head or cls in COPIED:
        return
    act = activation_name(layer)
    if cls in _KERNELS and act in ("linear", "relu"):
        return
    if cls == "ReLU" or (cls == "Activation" and act in ("linear", "relu")):
        return
    hint = " (fold it first: flow.fold.fold_batchnorm)" if cls == "BatchNormalization" else ""
    raise ValueError(
        f"layer '{layer.name}' ({cls}, activation '{act}') has no post-training quantized form{hint}; supported: "
        "Dense/Conv1D/Conv2D (linear or relu), Activation('relu')/ReLU, pooling, Flatten, Add, Dropout; "
        "layers after cut=... stay float"
    )


def _relu_quantizer(mode, act_bits, values):
    hi = float(np.max(values))
    if mode == "symmetric":
        return quantized_relu(act_bits, integer_bits(hi))
    return quantized_asymmetric(act_bits, value_range=(0.0, max(hi, 1e-6)))


def quantize(
    model,
    calibration_x,
    bits: int = 8,
    mode: str = "symmetric",
    granularity: str = "channel",
    act_bits: int | None = None,
    bias_bits: int = 16,
    cut: str | None = None,
    input_bits: int | None = 8,
    scale: str = "po2",
    scale_bits: int = DEFAULT_SCALE_BITS,
):
    """Post-training quantized QKeras copy of float ``model`` (see the module docstring)."""
    act_bits = bits if act_bits is None else act_bits
    _check(model, calibration_x, bits, act_bits, mode, granularity, scale, scale_bits)
    in_quantizer = None if input_bits is None else input_quantizer(calibration_x, input_bits)
    head = head_layers(model, cut)
    for layer in model.layers:
        _check_layer(layer, head)
    relu_layers = [
        l.name
        for l in model.layers
        if l.name not in head and (activation_name(l) == "relu" or type(l).__name__ == "ReLU")
    ]
    outputs = layer_outputs(model, relu_layers, np.asarray(calibration_x)) if relu_layers else {}
    per_channel = granularity == "channel"

    def replace(layer):
        cls = type(layer).__name__
        if layer.name in head or cls in COPIED:
            return None
        if cls in _KERNELS:
            config = layer_config(layer, ("activation",))
            if layer.name in outputs:
                config["activation"] = _relu_quantizer(mode, act_bits, outputs[layer.name])
            if mode == "symmetric":
                kq = quantized_symmetric(bits, per_channel=per_channel, scale=scale, scale_bits=scale_bits)
            else:
                kq = quantized_asymmetric(bits, per_channel=per_channel)
            bias_max = float(np.max(np.abs(layer.bias.numpy()))) if layer.use_bias else 0.0
            bq = quantized_bits(bias_bits, integer_bits(bias_max), alpha=1)
            return _KERNELS[cls](**config, kernel_quantizer=kq, bias_quantizer=bq)
        if layer.name in outputs:
            return QActivation(_relu_quantizer(mode, act_bits, outputs[layer.name]), name=layer.name)
        return None  # linear activation

    body = rewrite(model, replace)
    return body if in_quantizer is None else with_input_quantizer(body, in_quantizer)


def weight_memory_bits(model) -> int:
    """Bits to store ``model``'s weights: quantized kernels at their width, biases at theirs, float at 32."""
    total = 0
    for layer in model.layers:
        for weight in layer.weights:
            if not weight.trainable:
                continue
            name = weight.name.split("/")[-1].split(":")[0]
            total += int(np.prod(weight.shape)) * _weight_bits(layer, name)
    return total


def _weight_bits(layer, name: str) -> int:
    if name == "alpha":
        return 0
    if name == "kernel":
        q = getattr(layer, "kernel_quantizer_internal", None)
        if q is not None:
            return int(q.bits)
        if hasattr(layer, "width"):  # learned-width layer: its current frozen width
            return int(layer.width())
    if name == "bias":
        q = getattr(layer, "bias_quantizer_internal", None)
        if q is not None:
            return int(q.bits)
        if hasattr(layer, "bias_bits"):
            return int(layer.bias_bits)
    return 32
