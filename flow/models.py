"""Model builders with our quantizers as parameters.

A :class:`QuantSpec` says how weights and activations are quantized; :func:`mlp` builds a
QKeras MLP from it. Every quantized model starts with an input quantizer so that the HLS
input type and Keras agree on the input grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from flow.quantizers import quantized_msq, quantized_sp2

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
    sp2_share: float = 0.6
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
