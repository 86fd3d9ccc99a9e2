"""TensorFlow versions of the level-set operations in :mod:`flow.quantizers.levels`.

They run inside Keras graphs (training) and must give the same values as the numpy
reference: every scale is an exact power of two built from its exponent bits, every
division by it is exact, rounding is half-to-even like ``np.round``.
"""

from __future__ import annotations

import tensorflow as tf

from flow.quantizers import levels


def exp2_exact(e: tf.Tensor) -> tf.Tensor:
    """``2**e`` for integer-valued float ``e`` in the normal float32 range, built bit-exactly."""
    ei = tf.cast(e, tf.int32) + 127
    return tf.bitcast(tf.bitwise.left_shift(ei, 23), tf.float32)


def ceil_log2(m: tf.Tensor) -> tf.Tensor:
    """Smallest integer ``e`` with ``2**e >= m`` (``m > 0``), returned as float32."""
    e = tf.round(tf.math.log(m) / tf.math.log(2.0))
    e = tf.where(exp2_exact(e) < m, e + 1.0, e)
    return tf.where(exp2_exact(e - 1.0) >= m, e - 1.0, e)


def _row_reduce(x: tf.Tensor, per_row: bool, fn) -> tf.Tensor:
    """Reduce to shape ``(n_rows,)`` (per row, last axis) or ``(1,)`` (per tensor)."""
    if per_row:
        return fn(tf.reshape(x, [-1, tf.shape(x)[-1]]), axis=0)
    return tf.reshape(fn(x), [1])


def quantize_fixed_unit(u: tf.Tensor, bits: int) -> tf.Tensor:
    kmax = float(levels.fixed_max_code(bits))
    half = float(2 ** (bits - 1))
    return tf.clip_by_value(tf.round(u * half), -kmax, kmax) / half


def quantize_sp2_unit(u: tf.Tensor, bits: int) -> tf.Tensor:
    mags = tf.constant(levels.sp2_levels(bits), dtype=tf.float32)
    bounds = [float(b) for b in levels.sp2_boundaries(bits)]
    idx = tf.raw_ops.Bucketize(input=tf.abs(u), boundaries=bounds)
    return tf.sign(u) * tf.gather(mags, idx)


def best_scale_quantize(
    w: tf.Tensor, quantize_unit, per_row: bool, offsets=levels.SCALE_OFFSETS
) -> tuple[tf.Tensor, tf.Tensor]:
    """TF twin of :func:`levels.best_scale_quantize`: returns ``(w_q, e)``."""
    w = tf.convert_to_tensor(w, tf.float32)
    m = _row_reduce(tf.abs(w), per_row, tf.reduce_max)
    base = ceil_log2(tf.maximum(m, 2.0**levels.MIN_EXP))
    best_q = best_err = best_e = None
    for d in sorted(offsets, reverse=True):
        e = tf.clip_by_value(base + float(d), float(levels.MIN_EXP), float(levels.MAX_EXP))
        s = exp2_exact(e)
        q = quantize_unit(w / s) * s
        err = _row_reduce(tf.square(w - q), per_row, tf.reduce_sum)
        if best_q is None:
            best_q, best_err, best_e = q, err, e
            continue
        better = err < best_err
        best_q = tf.where(better, q, best_q)
        best_err = tf.where(better, err, best_err)
        best_e = tf.where(better, e, best_e)
    return best_q, best_e


def fixed_quantize(w, bits: int, per_row: bool = True, offsets=levels.SCALE_OFFSETS):
    return best_scale_quantize(w, lambda u: quantize_fixed_unit(u, bits), per_row, offsets)


def sp2_quantize(w, bits: int, per_row: bool = True):
    return best_scale_quantize(w, lambda u: quantize_sp2_unit(u, bits), per_row)


def assign_rows(w: tf.Tensor, sp2_share: float) -> tf.Tensor:
    """Dynamic MSQ assignment (1 = SP2) by ascending row variance, stable in row index."""
    w2 = tf.reshape(tf.convert_to_tensor(w, tf.float32), [-1, tf.shape(w)[-1]])
    var = tf.math.reduce_variance(w2, axis=0)
    n = w2.shape[-1]
    k = levels.sp2_row_count(n, sp2_share)
    order = tf.argsort(var, stable=True)
    ranks = tf.argsort(order, stable=True)
    return tf.cast(ranks < k, tf.int64)
