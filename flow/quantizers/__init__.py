"""QKeras-compatible quantizers of the flow.

Importing this package registers the quantizers as Keras custom objects (bare class names,
which is what QKeras' ``get_quantizer`` and ``load_qmodel`` resolve), so saved models load
with ``flow.load_model`` or with QKeras' ``load_qmodel``.
"""

from __future__ import annotations

import tensorflow as tf

from flow.quantizers.base import FIXED, SP2, RowEncoding, RowQuantizer
from flow.quantizers.msq import quantized_msq
from flow.quantizers.sp2 import quantized_sp2

CUSTOM_OBJECTS = {"quantized_sp2": quantized_sp2, "quantized_msq": quantized_msq}


def register_custom_objects() -> dict:
    """Make our quantizers resolvable by name in Keras/QKeras deserialisation (idempotent)."""
    tf.keras.utils.get_custom_objects().update(CUSTOM_OBJECTS)
    return dict(CUSTOM_OBJECTS)


register_custom_objects()

__all__ = [
    "FIXED",
    "SP2",
    "CUSTOM_OBJECTS",
    "RowEncoding",
    "RowQuantizer",
    "quantized_msq",
    "quantized_sp2",
    "register_custom_objects",
]
