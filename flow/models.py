"""Model builders with our quantizers as parameters.

A :class:`QuantSpec` says how weights and activations are quantized; :func:`mlp` builds a
QKeras MLP from it. Every quantized model starts with an input quantizer so that the HLS
input type and Keras agree on the input grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from flow.quantizers import quantized_msq, quantized_sp2
from flow.quantizers.msq import DEFAULT_SP2_SHARE

SCHEMES = ("float", "fixed", "sp2", "msq")


@dataclass(frozen=True)
class QuantSpec:
    """How a model is quantized.

    scheme: 'float' (no quantizers), 'fixed' (MSQ with no SP2 rows), 'sp2' or 'msq'.
    bits: weight bits; sp2_share: SP2 row share for 'msq'.
    act_bits / act_integer: hidden activations ``quantized_relu(act_bits, act_integer)``.
    in_bits / in_integer: input quantizer ``quantized_bits(in_bits, in_integer, alpha=1)``.
    bias_bits / bias_integer: bias quantizer ``quantized_bits(bias_bits, bias_integer, alpha=1)``.
    """

    scheme: str = "msq"
    bits: int = 4
    sp2_share: float = DEFAULT_SP2_SHARE
    act_bits: int = 8
    act_integer: int = 3
    in_bits: int = 8
    in_integer: int = 2
    bias_bits: int = 8
    bias_integer: int = 3

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"QuantSpec.scheme: unknown scheme '{self.scheme}', expected one of {SCHEMES}")

    @property
    def quantized(self) -> bool:
        return self.scheme != "float"

    def kernel_quantizer(self):
        if self.scheme == "float":
            return None
        if self.scheme == "sp2":
            return quantized_sp2(self.bits)
        share = 0.0 if self.scheme == "fixed" else self.sp2_share
        return quantized_msq(self.bits, sp2_share=share)

    def bias_quantizer(self):
        return None if self.scheme == "float" else quantized_bits(self.bias_bits, self.bias_integer, alpha=1)

    def label(self) -> str:
        if self.scheme == "float":
            return "float"
        if self.scheme == "msq":
            return f"MSQ-{self.bits} (SP2 share {self.sp2_share:g})"
        return f"{self.scheme.upper() if self.scheme == 'sp2' else 'fixed'}-{self.bits}"


def dense(units: int, spec: QuantSpec, name: str):
    if not spec.quantized:
        return tf.keras.layers.Dense(units, name=name)
    return QDense(
        units, kernel_quantizer=spec.kernel_quantizer(), bias_quantizer=spec.bias_quantizer(), name=name
    )


def activation(spec: QuantSpec, name: str):
    if not spec.quantized:
        return tf.keras.layers.Activation("relu", name=name)
    return QActivation(quantized_relu(spec.act_bits, spec.act_integer), name=name)


def mlp(input_dim: int, n_classes: int, hidden=(64, 32), spec: QuantSpec = QuantSpec(), name: str = "mlp"):
    """``input -> [Dense -> ReLU] * len(hidden) -> Dense(n_classes)`` (logits, no softmax)."""
    if input_dim < 1 or n_classes < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"mlp: sizes must be positive, got input {input_dim}, hidden {hidden}, classes {n_classes}")
    inp = tf.keras.Input((input_dim,), name="x")
    x = inp
    if spec.quantized:
        x = QActivation(quantized_bits(spec.in_bits, spec.in_integer, alpha=1), name="q_input")(x)
    for i, width in enumerate(hidden):
        x = dense(width, spec, f"fc{i + 1}")(x)
        x = activation(spec, f"act{i + 1}")(x)
    x = dense(n_classes, spec, "logits")(x)
    return tf.keras.Model(inp, x, name=name)


def conv(filters: int, kernel, spec: QuantSpec, name: str, strides=1, dims: int = 2):
    """A (Q)Conv1D/2D with 'same' padding and the spec's quantizers."""
    from qkeras import QConv1D, QConv2D

    if not spec.quantized:
        layer = tf.keras.layers.Conv2D if dims == 2 else tf.keras.layers.Conv1D
        return layer(filters, kernel, strides=strides, padding="same", name=name)
    layer = QConv2D if dims == 2 else QConv1D
    return layer(
        filters,
        kernel,
        strides=strides,
        padding="same",
        kernel_quantizer=spec.kernel_quantizer(),
        bias_quantizer=spec.bias_quantizer(),
        name=name,
    )


def _input(shape, spec: QuantSpec):
    inp = tf.keras.Input(tuple(shape), name="x")
    x = inp
    if spec.quantized:
        x = QActivation(quantized_bits(spec.in_bits, spec.in_integer, alpha=1), name="q_input")(x)
    return inp, x


def _check_shape(shape, dims: int, what: str):
    if len(shape) != dims + 1 or any(int(s) < 1 for s in shape):
        raise ValueError(f"{what}: input shape must be {'(H, W, C)' if dims == 2 else '(L, C)'}, got {tuple(shape)}")


def thesis_mlp(input_shape, n_classes: int = 10, hidden: int = 512, spec: QuantSpec = QuantSpec()):
    """The learned-basis thesis' 2-layer MNIST MLP: flatten -> Dense(hidden) -> ReLU -> Dense(classes)."""
    inp, x = _input(input_shape, spec)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    x = dense(hidden, spec, "fc1")(x)
    x = activation(spec, "act1")(x)
    return tf.keras.Model(inp, dense(n_classes, spec, "logits")(x), name="thesis_mlp")


VGG_CHANNELS = (64, 128, 256, 512, 512)
VGG_CONVS = (2, 2, 3, 3, 3)


def vgg(input_shape, n_classes: int = 10, width: float = 0.125, spec: QuantSpec = QuantSpec(), max_blocks: int = 5):
    """VGG16-shaped CNN (the adaptive-precision paper's backbone) scaled by ``width``.

    Blocks of 3x3 convolutions (VGG16: 2, 2, 3, 3, 3 convs; 64..512 channels x width) each
    followed by 2x2 max pooling, as many blocks as the input allows (8x8: 3, 28x28: 4,
    32x32: 5), then a Dense classifier.
    """
    _check_shape(input_shape, 2, "vgg")
    h, w = int(input_shape[0]), int(input_shape[1])
    blocks = max(1, min(max_blocks, int(np.floor(np.log2(min(h, w))))))
    inp, x = _input(input_shape, spec)
    for b in range(blocks):
        filters = max(4, int(round(VGG_CHANNELS[b] * width)))
        for c in range(VGG_CONVS[b]):
            x = conv(filters, 3, spec, f"b{b + 1}_conv{c + 1}")(x)
            x = activation(spec, f"b{b + 1}_act{c + 1}")(x)
        x = tf.keras.layers.MaxPooling2D(2, name=f"b{b + 1}_pool")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    return tf.keras.Model(inp, dense(n_classes, spec, "logits")(x), name="vgg")


def resnet8(input_shape, n_classes: int = 10, width: int = 16, spec: QuantSpec = QuantSpec()):
    """MLPerf Tiny image-classification ResNet-8 shape (without BatchNormalization).

    conv3x3(w) -> residual stacks of w, 2w (stride 2), 4w (stride 2) channels, each two 3x3
    convolutions plus a 1x1 stride-2 shortcut where the shape changes, ``Add``, ReLU ->
    average pooling over the final map when its size is a power of two (exact in fixed point),
    else flatten -> Dense.
    """
    _check_shape(input_shape, 2, "resnet8")
    inp, x = _input(input_shape, spec)
    x = conv(width, 3, spec, "stem")(x)
    x = activation(spec, "stem_act")(x)
    for s, (filters, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2))):
        y = conv(filters, 3, spec, f"s{s + 1}_conv1", strides=stride)(x)
        y = activation(spec, f"s{s + 1}_act1")(y)
        y = conv(filters, 3, spec, f"s{s + 1}_conv2")(y)
        if stride != 1:
            x = conv(filters, 1, spec, f"s{s + 1}_shortcut", strides=stride)(x)
        x = tf.keras.layers.Add(name=f"s{s + 1}_add")([x, y])
        x = activation(spec, f"s{s + 1}_act2")(x)
    fh, fw = int(x.shape[1]), int(x.shape[2])
    if fh == fw and fh & (fh - 1) == 0 and fh > 1:
        x = tf.keras.layers.AveragePooling2D(fh, name="avg_pool")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    return tf.keras.Model(inp, dense(n_classes, spec, "logits")(x), name="resnet8")


def cnn1d(input_shape=(40, 1), n_classes: int = 10, channels=(25, 25, 25), kernel: int = 5, spec: QuantSpec = QuantSpec()):
    """The MNIST-1D paper's CNN: three Conv1D (kernel 5, stride 2) with ReLU, then Dense."""
    _check_shape(input_shape, 1, "cnn1d")
    inp, x = _input(input_shape, spec)
    for i, filters in enumerate(channels):
        x = conv(filters, kernel, spec, f"conv{i + 1}", strides=2, dims=1)(x)
        x = activation(spec, f"act{i + 1}")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    return tf.keras.Model(inp, dense(n_classes, spec, "logits")(x), name="cnn1d")


ZOO = {"mlp": mlp, "thesis_mlp": thesis_mlp, "vgg": vgg, "resnet8": resnet8, "cnn1d": cnn1d}
