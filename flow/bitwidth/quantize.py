"""Fixed point at a learnable bit-width: the quantizer math of the learned-width layers.

At an integer width ``b`` the levels are those of the layers a trained model freezes to::

    weights (quantized_symmetric(b, per_channel=False, scale=...)), k = 2**(b-1) - 1:
        scale='po2':  s = 2**ceil(log2(max|w|)) / 2**(b-1)
        scale='real': s = max|w| / k rounded to scale_bits significant bits (the paper's clip at max|w|)
        q_b(w) = s * clip(round(w / s), -k, k)
    activations (quantized_relu(b, i)), i >= 0 integer bits from calibration:
        q_b(x) = clip(round(x * 2**(b-i)), 0, 2**b - 1) / 2**(b-i)
    fixed signed (quantized_bits(b, i, alpha=1), biases and inputs):
        q_b(x) = clip(round(x * 2**(b-1-i)), -2**(b-1), 2**(b-1)-1) / 2**(b-1-i)

A layer learns a real width ``alpha`` in ``[low, high]``. Training uses the interpolation
between the neighbouring integer widths (FracBits style), so ``alpha`` gets a real gradient
``dL/dalpha = <dL/dq, q_ceil(x) - q_floor(x)>``; ``x`` gets the straight-through gradient::

    b0 = floor(alpha), b1 = min(b0 + 1, high), f = alpha - b0
    q(x) = x + stop_gradient(q_b0(x) - x) + f * stop_gradient(q_b1(x) - q_b0(x))

At an integer ``alpha`` the output is ``q_alpha(x)`` itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import tensorflow as tf

from flow.quantizers import levels
from flow.quantizers.symmetric import DEFAULT_SCALE_BITS, quantize_real
from flow.quantizers.tf_ops import ceil_log2, exp2_exact

#: The widths a layer may learn (the adaptive-precision paper's range).
WIDTH_RANGE = (1, 8)


@dataclass(frozen=True)
class WidthConfig:
    """Bounds, start and moving average of one learnable width.

    ``low``/``high``: bounds of alpha, within [1, 8]; ``init``: starting alpha;
    ``momentum``: of the moving average ``ema <- m * ema + (1 - m) * alpha`` after every step.
    """

    low: float = 2.0
    high: float = 8.0
    init: float = 8.0
    momentum: float = 0.99

    def __post_init__(self):
        lo, hi = WIDTH_RANGE
        if not lo <= self.low <= self.high <= hi:
            raise ValueError(
                f"WidthConfig: alpha bounds must satisfy {lo} <= low <= high <= {hi}, got low={self.low}, high={self.high}"
            )
        if not self.low <= self.init <= self.high:
            raise ValueError(f"WidthConfig: init={self.init} must lie in [low, high] = [{self.low}, {self.high}]")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"WidthConfig: momentum must be in [0, 1), got {self.momentum}")

    def to_dict(self) -> dict:
        return asdict(self)

    def rounded(self, value: float) -> int:
        """The integer width of a (moving-average) alpha: rounded, then clipped to the bounds."""
        import math

        return int(min(max(math.floor(float(value) + 0.5), math.ceil(self.low)), math.floor(self.high)))


def fixed_at_width(x: tf.Tensor, bits: tf.Tensor, integer: int, signed: bool) -> tf.Tensor:
    """``q_b(x)`` above, for an integer-valued (float) tensor ``bits``; equals QKeras exactly."""
    x = tf.convert_to_tensor(x, tf.float32)
    bits = tf.cast(bits, tf.float32)
    frac = bits - (1.0 if signed else 0.0) - float(integer)
    scale = exp2_exact(frac)
    top = exp2_exact(bits - (1.0 if signed else 0.0))
    low = -top if signed else tf.zeros_like(top)
    return tf.clip_by_value(tf.round(x * scale), low, top - 1.0) / scale


def symmetric_at_width(
    w: tf.Tensor, bits: tf.Tensor, scale: str = "po2", scale_bits: int = DEFAULT_SCALE_BITS
) -> tf.Tensor:
    """``q_b(w)`` of the weights above (one max-abs scale per layer); equals ``quantized_symmetric``."""
    w = tf.convert_to_tensor(w, tf.float32)
    if scale == "real":
        return quantize_real(w, bits, scale_bits, per_row=False)[0]
    e = tf.clip_by_value(
        ceil_log2(tf.maximum(tf.reduce_max(tf.abs(w)), 2.0**levels.MIN_EXP)), float(levels.MIN_EXP), float(levels.MAX_EXP)
    )
    s = exp2_exact(e)
    half = exp2_exact(tf.cast(bits, tf.float32) - 1.0)
    return tf.clip_by_value(tf.round(w / s * half), 1.0 - half, half - 1.0) / half * s


def learned_width_quantize(x: tf.Tensor, alpha: tf.Tensor, cfg: WidthConfig, quantize) -> tf.Tensor:
    """Interpolated quantization at the real width ``alpha``; ``quantize(x, bits)`` is ``q_b``."""
    x = tf.convert_to_tensor(x, tf.float32)
    alpha = tf.clip_by_value(tf.cast(alpha, tf.float32), cfg.low, cfg.high)
    b0 = tf.floor(alpha)
    b1 = tf.minimum(b0 + 1.0, float(int(cfg.high)))
    f = alpha - b0
    q0 = quantize(x, b0)
    q1 = quantize(x, b1)
    return x + tf.stop_gradient(q0 - x) + f * tf.stop_gradient(q1 - q0)


def integer_bits(max_abs: float, low: int = 0, high: int = 15) -> int:
    """Integer bits ``i`` so that ``max_abs <= 2**i`` (the top of the range), clipped to [low, high].

    QKeras needs ``i >= 0`` (it computes ``2**i`` in integers).
    """
    import math

    if max_abs <= 0:
        return 0
    return int(min(max(math.ceil(math.log2(max_abs)), low), high))
