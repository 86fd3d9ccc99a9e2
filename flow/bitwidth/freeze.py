"""``freeze``: learned-width model -> plain QKeras fixed-point layers of the learned widths.

Each ``LWDense``/``LWConv*`` becomes ``QDense``/``QConv*`` with
``kernel_quantizer=quantized_symmetric(width, per_channel=False, scale=..., scale_bits=...)`` (the
layer's own scale) and
``bias_quantizer=quantized_bits(bias_bits, bias_integer, alpha=1)``; each ``LWActivation``
becomes ``QActivation(quantized_relu(width, integer))``. The widths are the rounded moving
averages of alpha. The frozen model computes exactly what the learned-width model computes
with every alpha set to its width, and converts through backend 'MSQ'.
"""

from __future__ import annotations

from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits, quantized_relu

from flow.bitwidth.layers import LWActivation, LWConv1D, LWConv2D, LWDense
from flow.quantizers import quantized_symmetric
from flow.rewrite import layer_config, rewrite

_TARGET = {LWDense: QDense, LWConv1D: QConv1D, LWConv2D: QConv2D}
_EXTRA = ("width", "bias_bits", "bias_integer", "scale", "scale_bits")


def widths(model) -> dict[str, int]:
    """The frozen width of every learned-width layer, by name."""
    return {layer.name: layer.width() for layer in model.layers if isinstance(layer, (LWActivation, *_TARGET))}


def quantized_widths(model) -> dict[str, int]:
    """Bits of every quantized kernel and activation of a QKeras model, by layer name."""
    out = {}
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None) or getattr(layer, "quantizer", None)
        if q is not None and hasattr(q, "bits"):
            out[layer.name] = int(q.bits)
    return out


def freeze(model):
    """Return the QKeras model of ``model``'s learned widths (``model`` is not changed)."""
    inactive = [l.name for l in model.layers if isinstance(l, LWActivation) and not l.active]
    if inactive:
        raise ValueError(
            f"activations {inactive} were never quantized (active=False); train them (the schedule's "
            "'activations' step) before freezing, or the frozen model would have float activations"
        )

    def replace(layer):
        target = _TARGET.get(type(layer))
        if target is not None:
            return target(
                **layer_config(layer, _EXTRA),
                kernel_quantizer=quantized_symmetric(
                    layer.width(), per_channel=False, scale=layer.scale, scale_bits=layer.scale_bits
                ),
                bias_quantizer=quantized_bits(layer.bias_bits, layer.bias_integer, alpha=1),
            )
        if isinstance(layer, LWActivation):
            return QActivation(quantized_relu(layer.width(), layer.integer), name=layer.name)
        return None

    return rewrite(model, replace)
