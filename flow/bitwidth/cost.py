"""The cost term: bit-operations ``BOPs = sum_l MACs_l * b_w,l * b_x,l``.

``b_w,l`` is the kernel width of layer ``l`` (its alpha while training), ``b_x,l`` the width
of its input: the alpha of the learned-width activation that feeds it (through shape-only
layers such as pooling and Flatten; the larger one across an Add), a QKeras activation's
bits, or ``input_bits`` for the model input and for activations that are not quantized.
Plain (float) Dense/Conv layers, such as a float head, count with 8-bit weights, so the
width of the activations streamed into them is not free either (``include_float=False``, the
adaptive-precision paper's accounting, leaves them out: the head runs on the host CPU). The training
loss adds ``cost_weight * BOPs / BOPs(all 8 bit)``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from flow.bitwidth.layers import KERNEL_LAYERS, LWActivation
from flow.rewrite import SHAPE_ONLY


def macs(layer) -> int:
    """Multiply-accumulates of one inference through a Dense/Conv layer."""
    kernel = int(np.prod(layer.kernel.shape))
    if len(layer.kernel.shape) == 2:
        return kernel
    out_positions = int(np.prod(layer.output.shape[1:-1]))
    return kernel * out_positions


def _inbound(layer):
    inbound = layer.inbound_nodes[0].inbound_layers
    return inbound if isinstance(inbound, list) else [inbound]


def input_width(layer, input_bits: float, integer_widths: bool = False):
    """Width of the activations entering ``layer`` (a tensor when it depends on an alpha)."""
    sources = _inbound(layer)
    widths = [_source_width(src, input_bits, integer_widths) for src in sources]
    out = widths[0]
    for w in widths[1:]:
        out = tf.maximum(out, w)
    return out


def _source_width(src, input_bits, integer_widths):
    cls = type(src).__name__
    if isinstance(src, LWActivation):
        if not src.active:
            return tf.constant(float(input_bits))
        return tf.constant(float(src.width())) if integer_widths else src.alpha
    if cls == "QActivation" and hasattr(src.quantizer, "bits"):
        return tf.constant(float(src.quantizer.bits))
    if cls in SHAPE_ONLY or cls == "Add":
        return input_width(src, input_bits, integer_widths)
    return tf.constant(float(input_bits))


FLOAT_KERNEL_BITS = 8.0


def _kernel_layers(model, include_float: bool = True):
    float_types = ("Dense", "Conv1D", "Conv2D") if include_float else ()
    return [l for l in model.layers if isinstance(l, KERNEL_LAYERS) or type(l).__name__ in float_types]


def bops(model, input_bits: float = 8.0, integer_widths: bool = False, include_float: bool = True) -> tf.Tensor:
    """BOPs of ``model``'s Dense/Conv layers (alphas, or their frozen widths); ``include_float=False``
    counts the learned-width layers only (a float head on the host costs the accelerator nothing)."""
    total = tf.constant(0.0)
    for layer in _kernel_layers(model, include_float):
        if not isinstance(layer, KERNEL_LAYERS):
            w = tf.constant(FLOAT_KERNEL_BITS)
        else:
            w = tf.constant(float(layer.width())) if integer_widths else layer.alpha
        total = total + float(macs(layer)) * w * input_width(layer, input_bits, integer_widths)
    return total


def bops_reference(model, include_float: bool = True) -> float:
    """BOPs of the same layers at 8 x 8 bits (the normaliser of the cost term)."""
    return 64.0 * sum(macs(layer) for layer in _kernel_layers(model, include_float))
