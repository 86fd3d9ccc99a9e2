"""``quantized_symmetric``: symmetric max-abs fixed point with a power-of-two scale (PTQ).

Per output channel (``per_channel=True``) or per layer, the scale is the max-abs scale
rounded up to a power of two, so the quantized weights are exact fixed-point numbers and
the HLS layer computes with shifts, bit-exactly::

    s_j = 2**ceil(log2(max_i |w_ij|)),   w_q = s_j * clip(round(w / s_j * 2**(b-1)), -k, k) / 2**(b-1),
    k = 2**(b-1) - 1

It is the fixed-point row scheme of ``quantized_msq`` with the scale fixed by max-abs
instead of chosen by least squares; the 'MSQ' backend puts its rows on DSP multipliers.
"""

from __future__ import annotations

import tensorflow as tf

from flow.quantizers.base import FIXED, RowQuantizer


class quantized_symmetric(RowQuantizer):  # noqa: N801  (QKeras naming)
    """Symmetric max-abs weight quantizer (power-of-two scale), 2..8 bits.

    >>> QDense(16, kernel_quantizer=quantized_symmetric(8, per_channel=True), bias_quantizer=...)
    """

    scheme_name = "symmetric"
    scale_offsets = (0,)
    min_bits = 2  # 2 bits: {-s/2, 0, s/2}, ternary

    def __init__(self, bits: int = 8, per_channel: bool = True, use_ste: bool = True, per_row=None):
        super().__init__(bits=bits, per_row=bool(per_channel if per_row is None else per_row), use_ste=use_ste)

    def _scheme_tf(self, w: tf.Tensor) -> tf.Tensor:
        return tf.fill([w.shape[-1]], tf.constant(FIXED, tf.int64))

    def get_config(self):
        return {"bits": self.bits, "per_channel": self.per_row, "use_ste": self.use_ste}

    def __str__(self):
        return f"quantized_symmetric({self.bits},per_channel={self.per_row})"
