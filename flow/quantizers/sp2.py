"""``quantized_sp2``: every row on the SP2 (sum of two powers of two) level set.

``b`` bits = 1 sign + ``m1`` + ``m2`` (``m1 >= m2``, ``m1 + m2 = b - 1``)::

    w_q = ± 2**e_j * (q1 + q2),  q1 in {0, 2**-1, ..., 2**-(2**m1 - 1)},
                                 q2 in {0, 2**-1, ..., 2**-(2**m2 - 1)}

``e_j`` is the power-of-two exponent of least squared error, per row (default) or per
layer (``per_row=False``). 4 bits give magnitudes {0, 1/8, 1/4, 1/2, 5/8, 3/4, 1}.
"""

from __future__ import annotations

import tensorflow as tf

from flow.quantizers.base import SP2, RowQuantizer
from flow.quantizers.wide_sp2 import warn_wide_sp2


class quantized_sp2(RowQuantizer):  # noqa: N801  (QKeras naming)
    """SP2 weight quantizer with a straight-through gradient.

    >>> QDense(16, kernel_quantizer=quantized_sp2(4), bias_quantizer=quantized_bits(8, 3, alpha=1))
    """

    scheme_name = "SP2"

    def __init__(self, bits=4, per_row=True, use_ste=True):
        super().__init__(bits=bits, per_row=per_row, use_ste=use_ste)
        warn_wide_sp2(self.bits, f"quantized_sp2({self.bits})")

    def _scheme_tf(self, w: tf.Tensor) -> tf.Tensor:
        return tf.fill([w.shape[-1]], tf.constant(SP2, tf.int64))

    def __str__(self):
        return f"quantized_sp2({self.bits},per_row={self.per_row})"
