"""``quantized_asymmetric``: min/max quantization with a zero point (PTQ baseline).

With range ``[lo, hi]`` (per output channel or per layer for weights, taken from the
tensor itself; calibrated and stored for activations)::

    s = (hi - lo) / (2**b - 1),   z = round(-lo / s),
    x_q = s * (clip(round(x / s) + z, 0, 2**b - 1) - z)

The scale is a real number, not a power of two, and the zero point makes ``W x`` pick up
a term ``z * sum(x)`` that depends on the input. Such layers are evaluated in Keras only:
``flow.convert`` refuses them with a message (they are a baseline for the accuracy table,
not a deployment scheme); deploy the symmetric result instead.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from flow.quantizers.base import FlowQuantizer

MIN_BITS, MAX_BITS = 2, 16


class quantized_asymmetric(FlowQuantizer):  # noqa: N801  (QKeras naming)
    """Asymmetric (min/max, zero point) quantizer with a straight-through gradient.

    Args:
        bits: 2..16.
        per_channel: a range per output channel (last axis) instead of one per tensor.
        value_range: fixed ``(lo, hi)`` (activations, from calibration); None takes the range
            of the tensor being quantized (weights).
    """

    def __init__(self, bits: int = 8, per_channel: bool = False, value_range=None, use_ste: bool = True):
        super().__init__()
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not MIN_BITS <= bits <= MAX_BITS:
            raise ValueError(f"quantized_asymmetric: bits must be an integer in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")
        if value_range is not None:
            lo, hi = (float(v) for v in value_range)
            if not lo < hi:
                raise ValueError(f"quantized_asymmetric: value_range must be (lo, hi) with lo < hi, got {value_range}")
            value_range = (min(lo, 0.0), max(hi, 0.0))  # zero stays exactly representable
        self.bits = int(bits)
        self.per_channel = bool(per_channel)
        self.value_range = value_range
        self.use_ste = bool(use_ste)
        self.keep_negative = True
        self.integer = 0

    def _range(self, x):
        if self.value_range is not None:
            return tf.constant(self.value_range[0]), tf.constant(self.value_range[1])
        if self.per_channel:
            flat = tf.reshape(x, [-1, tf.shape(x)[-1]])
            lo, hi = tf.reduce_min(flat, axis=0), tf.reduce_max(flat, axis=0)
        else:
            lo, hi = tf.reduce_min(x), tf.reduce_max(x)
        return tf.minimum(lo, 0.0), tf.maximum(hi, 0.0)

    def __call__(self, x):
        x = tf.convert_to_tensor(x, tf.float32)
        lo, hi = self._range(x)
        levels = float(2**self.bits - 1)
        s = tf.maximum((hi - lo) / levels, 1e-12)
        z = tf.round(-lo / s)
        q = s * (tf.clip_by_value(tf.round(x / s) + z, 0.0, levels) - z)
        return x + tf.stop_gradient(q - x) if self.use_ste else q

    def max(self):
        return 1.0 if self.value_range is None else self.value_range[1]

    def min(self):
        return -1.0 if self.value_range is None else self.value_range[0]

    def get_config(self):
        return {
            "bits": self.bits,
            "per_channel": self.per_channel,
            "value_range": None if self.value_range is None else list(self.value_range),
            "use_ste": self.use_ste,
        }

    def __str__(self):
        return f"quantized_asymmetric({self.bits},per_channel={self.per_channel})"
