"""QKeras-compatible quantizers of the flow.

Importing this package registers the quantizers as Keras custom objects (bare class names,
which is what QKeras' ``get_quantizer`` and ``load_qmodel`` resolve), so saved models load
with ``flow.load_model`` or with QKeras' ``load_qmodel``.
"""

from __future__ import annotations

import tensorflow as tf

from flow.quantizers.base import FIXED, SP2, RowEncoding, RowQuantizer
from flow.quantizers.asymmetric import quantized_asymmetric
from flow.quantizers.lq import quantized_lq
from flow.quantizers.msq import quantized_msq
from flow.quantizers.sp2 import quantized_sp2
from flow.quantizers.symmetric import quantized_symmetric

#: Row quantizers the 'MSQ' backend converts (per-row DSP/LUT kernels).
CUSTOM_OBJECTS = {"quantized_sp2": quantized_sp2, "quantized_msq": quantized_msq, "quantized_symmetric": quantized_symmetric}
#: Learned-basis quantizers: bit-plane (XNOR-popcount) kernels and LQ activations in backend 'MSQ'.
LQ_OBJECTS = {"quantized_lq": quantized_lq}
#: Quantizers that load and train but that no HLS backend converts exactly (refused by flow.convert),
#: with the reason given to the user.
KERAS_ONLY_OBJECTS = {"quantized_asymmetric": quantized_asymmetric}
KERAS_ONLY_REASONS = {
    "quantized_asymmetric": "a real-valued scale and a zero point that adds an input-dependent term; deploy the "
    "symmetric PTQ model (flow.ptq.quantize(..., mode='symmetric')) or a QAT model instead",
}


def register_custom_objects() -> dict:
    """Make our quantizers resolvable by name in Keras/QKeras deserialisation (idempotent)."""
    objects = {**CUSTOM_OBJECTS, **LQ_OBJECTS, **KERAS_ONLY_OBJECTS}
    tf.keras.utils.get_custom_objects().update(objects)
    return objects


register_custom_objects()

__all__ = [
    "FIXED",
    "SP2",
    "CUSTOM_OBJECTS",
    "KERAS_ONLY_OBJECTS",
    "KERAS_ONLY_REASONS",
    "LQ_OBJECTS",
    "RowEncoding",
    "RowQuantizer",
    "quantized_asymmetric",
    "quantized_lq",
    "quantized_msq",
    "quantized_sp2",
    "quantized_symmetric",
    "register_custom_objects",
]
