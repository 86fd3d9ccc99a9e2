"""``quantized_symmetric``: symmetric max-abs fixed point (PTQ, frozen learned widths).

Per output channel (``per_channel=True``) or per layer, ``k = 2**(b-1) - 1``, two scales:

* ``scale='po2'`` (the default): the max-abs range rounded up to a power of two, so the quantized
  weights are exact fixed-point numbers and the HLS layer computes with shifts::

      s_j = 2**ceil(log2(max_i |w_ij|)) / 2**(b-1),   w_q = s_j * clip(round(w / s_j), -k, k)

* ``scale='real'``: the adaptive-precision paper's clip at ``max|w|`` with a real scale
  ``max|w| / k``, made exactly representable: the nearest ``s_j = c_j * 2**f_j`` with ``c_j`` an
  integer of ``scale_bits`` bits (``2**(scale_bits-1) <= c_j < 2**scale_bits``)::

      s_j = round_to_scale_bits(max_i |w_ij| / k),   w_q = s_j * clip(round(w / s_j), -k, k)

  Each weight is ``k_ij * c_j * 2**f_j``: in backend 'MSQ' the DSP multiplies the ``b``-bit mantissa
  ``k_ij``, the row's power of two is a shift after the accumulator, and ``c_j`` is one constant
  multiplication per output after it (:mod:`flow.hls.row_scale`), so C-simulation stays bit-exact.

Squared weight error on Gaussian rows (256 x 64, 20 draws), relative to the unrounded real scale
``max|w| / k`` (``bench/ablations.py`` prints this table)::

    bits                            2      3      4      6      8
    po2, one scale per layer       0.84   1.45   1.95   2.30   2.53
    po2, per channel               0.61   1.24   1.70   2.11   2.25
    real, 8-bit c (either)         1.00   1.00   1.00   1.00   1.00
    real, 4-bit c, per channel     1.00   1.00   1.00   1.02   1.30

(At 2 bits the max-abs clip itself is a poor choice: almost every weight rounds to 0; po2's larger
range happens to be better there.) ``'po2'`` stays the default: at 8 bits it is as accurate (PTQ W8A8
within 0.2 points, ``bench/ablations.py``) and its scale is a free shift; at 4 bits ``'real'`` gains
0.4-3.8 points of PTQ accuracy for one constant multiplication per output.

The fixed-point row scheme of ``quantized_msq`` with the scale fixed by max-abs instead of chosen by
least squares; the 'MSQ' backend puts its rows on DSP multipliers.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from flow.quantizers import levels, tf_ops
from flow.quantizers.base import FIXED, RowQuantizer

#: The scales of :class:`quantized_symmetric` (and of PTQ and the learned widths).
SCALES = ("po2", "real")
#: Bits of the integer multiplier ``c`` of a real scale: within 0.1 % of the unrounded scale's error.
DEFAULT_SCALE_BITS = 8
#: ``k * c`` must stay exact in float32 (24-bit mantissa) for 8-bit weights: 7 + 16 = 23 bits.
MAX_SCALE_BITS = 16


def check_scale(scale, scale_bits, what: str = "quantized_symmetric") -> tuple[str, int]:
    """Validate ``scale`` / ``scale_bits``; errors name the key and the valid values."""
    if scale not in SCALES:
        raise ValueError(f"{what}: scale: {scale!r} is not one of {SCALES}")
    integer = isinstance(scale_bits, (int, np.integer)) and not isinstance(scale_bits, bool)
    if not integer or not 1 <= scale_bits <= MAX_SCALE_BITS:
        raise ValueError(f"{what}: scale_bits: must be an integer in [1, {MAX_SCALE_BITS}], got {scale_bits!r}")
    return str(scale), int(scale_bits)


def _floor_log2(x: tf.Tensor) -> tf.Tensor:
    """Largest integer ``e`` with ``2**e <= x`` (``x > 0``, normal float32), exact."""
    e = tf_ops.ceil_log2(x)
    return tf.where(tf_ops.exp2_exact(e) > x, e - 1.0, e)


def real_scale(max_abs: tf.Tensor, bits, scale_bits: int) -> tuple[tf.Tensor, tf.Tensor]:
    """``(c, f)`` (float32 tensors, integer-valued): ``c * 2**f`` nearest to ``max_abs / (2**(bits-1) - 1)``
    with ``2**(scale_bits-1) <= c < 2**scale_bits``. ``bits`` may be a tensor (learned widths, >= 2)."""
    bits = tf.cast(bits, tf.float32)
    kmax = tf_ops.exp2_exact(bits - 1.0) - 1.0
    ideal = tf.maximum(tf.convert_to_tensor(max_abs, tf.float32), 2.0**levels.MIN_EXP) / kmax
    f = _floor_log2(ideal) - float(scale_bits - 1)
    c = tf.round(ideal / tf_ops.exp2_exact(f))  # in [2**(M-1), 2**M]: the division by a power of two is exact
    top = c >= float(2**scale_bits)
    return tf.where(top, float(2 ** (scale_bits - 1)), c), tf.where(top, f + 1.0, f)


def quantize_real(w: tf.Tensor, bits, scale_bits: int, per_row: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``(w_q, c, f)``: symmetric max-abs quantization with the real scale ``c * 2**f`` per row (or per tensor)."""
    w = tf.convert_to_tensor(w, tf.float32)
    if per_row:
        m = tf.reduce_max(tf.abs(tf.reshape(w, [-1, tf.shape(w)[-1]])), axis=0)
    else:
        m = tf.reshape(tf.reduce_max(tf.abs(w)), [1])
    c, f = real_scale(m, bits, scale_bits)
    s = c * tf_ops.exp2_exact(f)
    kmax = tf_ops.exp2_exact(tf.cast(bits, tf.float32) - 1.0) - 1.0
    return tf.clip_by_value(tf.round(w / s), -kmax, kmax) * s, c, f


class quantized_symmetric(RowQuantizer):  # noqa: N801  (QKeras naming)
    """Symmetric max-abs weight quantizer, 2..8 bits, power-of-two (default) or real scale.

    >>> QDense(16, kernel_quantizer=quantized_symmetric(8, per_channel=True), bias_quantizer=...)
    >>> QDense(16, kernel_quantizer=quantized_symmetric(4, scale='real'), bias_quantizer=...)
    """

    scheme_name = "symmetric"
    scale_offsets = (0,)
    min_bits = 2  # 2 bits: {-s, 0, s}, ternary

    def __init__(self, bits: int = 8, per_channel: bool = True, use_ste: bool = True, per_row=None,
                 scale: str = "po2", scale_bits: int = DEFAULT_SCALE_BITS):
        super().__init__(bits=bits, per_row=bool(per_channel if per_row is None else per_row), use_ste=use_ste)
        self.scale, self.scale_bits = check_scale(scale, scale_bits)

    def _scheme_tf(self, w: tf.Tensor) -> tf.Tensor:
        return tf.fill([w.shape[-1]], tf.constant(FIXED, tf.int64))

    def _quantize_tf(self, w: tf.Tensor):
        if self.scale == "po2":
            return super()._quantize_tf(w)
        q, _, f = quantize_real(w, self.bits, self.scale_bits, self.per_row)
        # the row's weights are k * c * 2**(e - (bits - 1)); flow.hls.encode factors the integer c out
        e = tf.broadcast_to(tf.cast(f, tf.int64) + (self.bits - 1), [w.shape[-1]])
        return q, self._scheme_tf(w), e

    def get_config(self):
        return {"bits": self.bits, "per_channel": self.per_row, "use_ste": self.use_ste, "scale": self.scale,
                "scale_bits": self.scale_bits}

    def __str__(self):
        extra = f",scale='real',scale_bits={self.scale_bits}" if self.scale == "real" else ""
        return f"quantized_symmetric({self.bits},per_channel={self.per_row}{extra})"
