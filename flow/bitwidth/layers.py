"""Keras layers with a learnable bit-width: ``LWDense``, ``LWConv1D``, ``LWConv2D``, ``LWActivation``.

Each layer owns a trainable scalar ``alpha`` (its real bit-width, kept in the bounds of its
:class:`WidthConfig`) and a non-trainable ``alpha_ema``, the moving average that
:meth:`update_ema` advances after every optimizer step. :meth:`width` is the rounded moving
average: the integer width the layer freezes to (``flow.freeze``).

Kernels use :func:`symmetric_at_width` (per-layer max-abs scale: ``scale='po2'`` a power of two,
``scale='real'`` the clip at max|w| with ``scale_bits`` significant bits); biases use a
fixed ``quantized_bits(bias_bits, bias_integer, alpha=1)``; activations (ReLU) use
``quantized_relu(width, integer)`` levels with ``integer`` from calibration. An activation
layer can be switched off (``active=False``: plain ReLU), which the schedule's
quantized-weights step uses.
"""

from __future__ import annotations

import tensorflow as tf

from flow.bitwidth.quantize import WidthConfig, fixed_at_width, learned_width_quantize, symmetric_at_width
from flow.quantizers.symmetric import DEFAULT_SCALE_BITS, check_scale


class _LearnedWidth:
    """Mixin: the ``alpha`` / ``alpha_ema`` pair and its bookkeeping."""

    def _init_width(self, width):
        self.width_config = width if isinstance(width, WidthConfig) else WidthConfig(**(width or {}))

    def _build_width(self):
        init = tf.keras.initializers.Constant(self.width_config.init)
        lo, hi = self.width_config.low, self.width_config.high
        self.alpha = self.add_weight(
            name="alpha",
            shape=(),
            initializer=init,
            trainable=True,
            constraint=lambda a: tf.clip_by_value(a, lo, hi),
        )
        self.alpha_ema = self.add_weight(name="alpha_ema", shape=(), initializer=init, trainable=False)

    def update_ema(self):
        m = self.width_config.momentum
        self.alpha_ema.assign(m * self.alpha_ema + (1.0 - m) * self.alpha)

    def width(self) -> int:
        """The frozen width: the moving average of alpha, rounded, within the bounds."""
        return self.width_config.rounded(float(self.alpha_ema.numpy()))

    def _width_config(self) -> dict:
        return {"width": self.width_config.to_dict()}


class _LearnedWidthKernel(_LearnedWidth):
    """Mixin for Dense/Conv: quantized kernel at the learned width, fixed-point bias."""

    def _init_kernel(self, width, bias_bits: int, bias_integer: int, scale: str, scale_bits: int):
        self._init_width(width)
        if not 2 <= int(bias_bits) <= 32 or int(bias_integer) < 0:
            raise ValueError(f"{self.name}: bias_bits must be in [2, 32] and bias_integer >= 0, got {bias_bits}, {bias_integer}")
        self.bias_bits, self.bias_integer = int(bias_bits), int(bias_integer)
        self.scale, self.scale_bits = check_scale(scale, scale_bits, f"layer '{self.name}'")

    def build(self, input_shape):
        super().build(input_shape)
        self._build_width()

    def quantized_kernel(self):
        scale, scale_bits = self.scale, self.scale_bits
        return learned_width_quantize(
            self.kernel, self.alpha, self.width_config, lambda w, b: symmetric_at_width(w, b, scale, scale_bits)
        )

    def quantized_bias(self):
        q = fixed_at_width(self.bias, float(self.bias_bits), self.bias_integer, signed=True)
        return self.bias + tf.stop_gradient(q - self.bias)

    def get_config(self):
        config = super().get_config()
        config.update(self._width_config(), bias_bits=self.bias_bits, bias_integer=self.bias_integer, scale=self.scale,
                      scale_bits=self.scale_bits)
        return config


class LWDense(_LearnedWidthKernel, tf.keras.layers.Dense):
    """Dense with a learnable kernel width (see the module docstring)."""

    def __init__(self, units, width=None, bias_bits: int = 16, bias_integer: int = 3, scale: str = "po2",
                 scale_bits: int = DEFAULT_SCALE_BITS, **kwargs):
        super().__init__(units, **kwargs)
        self._init_kernel(width, bias_bits, bias_integer, scale, scale_bits)

    def call(self, inputs):
        out = tf.matmul(inputs, self.quantized_kernel())
        if self.use_bias:
            out = out + self.quantized_bias()
        return self.activation(out)


class _LWConv(_LearnedWidthKernel):
    def call(self, inputs):
        out = self.convolution_op(inputs, self.quantized_kernel())
        if self.use_bias:
            out = tf.nn.bias_add(out, self.quantized_bias())
        return self.activation(out)


class LWConv1D(_LWConv, tf.keras.layers.Conv1D):
    """Conv1D with a learnable kernel width (no causal padding, no groups)."""

    def __init__(self, filters, kernel_size, width=None, bias_bits: int = 16, bias_integer: int = 3, scale: str = "po2",
                 scale_bits: int = DEFAULT_SCALE_BITS, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._init_kernel(width, bias_bits, bias_integer, scale, scale_bits)


class LWConv2D(_LWConv, tf.keras.layers.Conv2D):
    """Conv2D with a learnable kernel width (no groups)."""

    def __init__(self, filters, kernel_size, width=None, bias_bits: int = 16, bias_integer: int = 3, scale: str = "po2",
                 scale_bits: int = DEFAULT_SCALE_BITS, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        self._init_kernel(width, bias_bits, bias_integer, scale, scale_bits)


class LWActivation(_LearnedWidth, tf.keras.layers.Layer):
    """ReLU followed by ``quantized_relu(width, integer)`` at a learnable width.

    ``integer`` (>= 0) is set from calibration data (:func:`flow.bitwidth.calibrate`);
    ``active=False`` makes the layer a plain ReLU.
    """

    def __init__(self, width=None, integer: int = 0, active: bool = True, **kwargs):
        super().__init__(**kwargs)
        self._init_width(width)
        if int(integer) < 0:
            raise ValueError(f"{self.name}: integer bits must be >= 0 (QKeras' quantized_relu), got {integer}")
        self.integer = int(integer)
        self.active = bool(active)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_width()

    def call(self, inputs):
        x = tf.nn.relu(inputs)
        if not self.active:
            return x
        integer = self.integer
        return learned_width_quantize(
            x, self.alpha, self.width_config, lambda v, b: fixed_at_width(v, b, integer, signed=False)
        )

    def get_config(self):
        config = super().get_config()
        config.update(self._width_config(), integer=self.integer, active=self.active)
        return config


CUSTOM_LAYERS = {cls.__name__: cls for cls in (LWDense, LWConv1D, LWConv2D, LWActivation)}
KERNEL_LAYERS = (LWDense, LWConv1D, LWConv2D)
WIDTH_LAYERS = (LWDense, LWConv1D, LWConv2D, LWActivation)
