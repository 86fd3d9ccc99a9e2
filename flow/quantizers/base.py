"""Shared base of the row-wise quantizers (SP2, MSQ): power-of-two row scales, STE, serialisation.

A row is one output channel: the last axis of a Dense kernel ``(n_in, n_out)`` or a
convolution kernel ``(..., c_in, c_out)``. Every row ``j`` gets a scheme (0 = fixed point,
1 = SP2) and an exponent ``e_j`` so that its quantized weights are exact multiples of
``2**e_j`` times a level of its scheme. The forward pass returns the quantized weights;
the backward pass is the straight-through estimator ``d w_q / d w = 1``::

    w_q = w + stop_gradient(Q(w) - w)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from qkeras.quantizers import BaseQuantizer

from flow.quantizers import levels, tf_ops

FIXED = 0
SP2 = 1


@dataclass(frozen=True)
class RowEncoding:
    """What the HLS backend needs of a quantized kernel.

    ``values`` are the quantized weights (same shape as the kernel, float64 exact),
    ``scheme[j]`` is FIXED or SP2 and ``exponent[j]`` the power-of-two scale of row ``j``.
    """

    values: np.ndarray
    scheme: np.ndarray
    exponent: np.ndarray
    bits: int


class FlowQuantizer(BaseQuantizer):
    """What QKeras asks of every quantizer of ours that has no trainable alpha."""

    def _set_trainable_parameter(self):
        """QDense calls this on kernel quantizers; ours have no alpha to train."""

    def max(self):
        return 1.0

    def min(self):
        return -1.0

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class RowQuantizer(FlowQuantizer):
    """Base class: subclasses define :meth:`_scheme_tf` and :meth:`_scheme_np`."""

    #: Name used in messages ("SP2", "MSQ").
    scheme_name = "row"
    #: Candidate power-of-two scales, ``2**(ceil(log2(max|w|)) + d)``; the least-squares one wins.
    scale_offsets = levels.SCALE_OFFSETS
    #: Fewest bits the scheme supports (SP2 needs a sign and two fields).
    min_bits = levels.MIN_BITS

    def __init__(self, bits: int = 4, per_row: bool = True, use_ste: bool = True):
        super().__init__()
        self.bits = levels.check_bits(bits, self.scheme_name, self.min_bits)
        if not isinstance(per_row, (bool, np.bool_)):
            raise TypeError(f"{self.scheme_name}: per_row must be True or False, got {per_row!r}")
        self.per_row = bool(per_row)
        self.use_ste = bool(use_ste)
        # QKeras reads these; our scales are powers of two chosen per row, not an alpha.
        self.keep_negative = True
        self.integer = 0

    # -- the quantization itself -------------------------------------------------------
    def _scheme_tf(self, w: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def _quantize_tf(self, w: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Return ``(w_q, scheme, exponent)`` as tensors (scheme/exponent per row)."""
        w = tf.convert_to_tensor(w, tf.float32)
        scheme = self._scheme_tf(w)
        n = w.shape[-1]
        if self._all_rows(scheme, SP2):
            q, e = tf_ops.sp2_quantize(w, self.bits, self.per_row)
        elif self._all_rows(scheme, FIXED):
            q, e = tf_ops.fixed_quantize(w, self.bits, self.per_row, self.scale_offsets)
        else:
            qf, ef = tf_ops.fixed_quantize(w, self.bits, self.per_row, self.scale_offsets)
            qs, es = tf_ops.sp2_quantize(w, self.bits, self.per_row)
            is_sp2 = tf.equal(scheme, SP2)
            q = tf.where(is_sp2, qs, qf)
            e = tf.where(is_sp2, es, ef)
        e = tf.broadcast_to(e, [n])
        return q, tf.cast(scheme, tf.int64), e

    @staticmethod
    def _all_rows(scheme, value) -> bool:
        """True when the scheme is a constant known at trace time and all rows equal value."""
        static = tf.get_static_value(scheme)
        return static is not None and bool(np.all(static == value))

    def __call__(self, x):
        x = tf.convert_to_tensor(x, tf.float32)
        q = self._quantize_tf(x)[0]
        if self.use_ste:
            return x + tf.stop_gradient(q - x)
        return q

    def encode(self, w) -> RowEncoding:
        """Quantize numpy weights and return values plus the per-row scheme and exponent."""
        q, scheme, e = self._quantize_tf(tf.constant(np.asarray(w, np.float32)))
        return RowEncoding(
            values=q.numpy().astype(np.float64),
            scheme=scheme.numpy().astype(np.int64),
            exponent=e.numpy().astype(np.int64),
            bits=self.bits,
        )

    def get_config(self):
        return {"bits": self.bits, "per_row": self.per_row, "use_ste": self.use_ste}
