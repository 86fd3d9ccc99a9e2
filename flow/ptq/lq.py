"""Post-training LQ quantization (the thesis' tool): ``lq_quantize(model, calibration_x, bits)``.

Every Dense/Conv2D of the backbone gets a ``quantized_lq(bits)`` kernel quantizer whose
per-channel basis QEM fits to the float weights (then frozen), and every ReLU becomes a
``QActivation(quantized_lq(bits, per_channel=False))`` with a basis and an offset (levels
``c + <e, a>``, the offset folds into the next layer's bias) QEM fits to the real activations
on ``calibration_x``; the model input is quantized the same way (an input
``QActivation`` named ``lq_input``). The result is one flat model (hls4ml converts it). No retraining: train the result with ``flow.train.train``
for LQ QAT (the kernel bases then refit at every step).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from flow.bitwidth.build import head_layers
from flow.bitwidth.quantize import integer_bits
from flow.lq import reference
from flow.quantizers.lq import quantized_lq
from flow.rewrite import COPIED, activation_name, all_layers, call_flat, layer_config, layer_outputs, rewrite

_KERNELS = {"Dense": QDense, "Conv2D": QConv2D}


def _check(model, calibration_x, head):
    if calibration_x is None or len(calibration_x) == 0:
        raise ValueError("LQ post-training quantization needs calibration data (calibration_x) to fit the activation bases")
    shape = tuple(model.input_shape[1:])
    if tuple(np.shape(calibration_x)[1:]) != shape:
        raise ValueError(f"calibration_x: expected inputs of shape (n, {', '.join(map(str, shape))}), got {np.shape(calibration_x)}")
    for layer in model.layers:
        cls, act = type(layer).__name__, activation_name(layer)
        if layer.name in head or cls in COPIED or (cls in ("Activation", "ReLU") and act in ("relu", "linear")):
            continue
        if cls in _KERNELS and act == "linear":
            continue
        raise ValueError(
            f"layer '{layer.name}' ({cls}, activation '{act}') has no LQ form; supported: Dense/Conv2D without an inline "
            "activation, Activation('relu'), pooling, Flatten, Add, Dropout; layers after cut=... stay float"
        )


def lq_quantize(model, calibration_x, bits: int = 2, qem_iters: int = 10, bias_bits: int = 16, cut: str | None = None,
                mantissa_bits: int = 8):
    """The LQ copy of float ``model`` (see the module docstring).

    ``mantissa_bits`` is the basis grid (signed bits per basis value). For C-simulation that equals
    Keras bit for bit, keep every layer's exact sum within float32's 24-bit mantissa (the converter
    warns where it may not be), e.g. ``mantissa_bits=4`` and ``bias_bits=10``.
    """
    k = reference.check_k(bits)
    head = head_layers(model, cut)
    _check(model, calibration_x, head)
    x = np.asarray(calibration_x, dtype=np.float32)
    relus = [l.name for l in model.layers if l.name not in head and activation_name(l) == "relu"]
    acts = layer_outputs(model, relus, x) if relus else {}

    def replace(layer):
        cls = type(layer).__name__
        if layer.name in head:
            return None
        if cls in _KERNELS:
            kernel = layer.kernel.numpy()
            basis = reference.qem_fit_channels(kernel, k, qem_iters)
            bias_max = float(np.max(np.abs(layer.bias.numpy()))) if layer.use_bias else 0.0
            return _KERNELS[cls](
                **layer_config(layer),
                kernel_quantizer=quantized_lq(k, per_channel=True, basis=basis, mantissa_bits=mantissa_bits),
                bias_quantizer=quantized_bits(bias_bits, integer_bits(bias_max), alpha=1),
            )
        if layer.name in acts:
            return QActivation(_activation_quantizer(acts[layer.name], k, qem_iters, mantissa_bits), name=layer.name)
        return None

    body = rewrite(model, replace)
    inp = tf.keras.Input(model.input_shape[1:], name=model.input_names[0])
    q_in = QActivation(_activation_quantizer(x, k, qem_iters, mantissa_bits), name="lq_input")(inp)
    return tf.keras.Model(inp, call_flat(body, q_in), name=f"{model.name}_lq{k}")


def _activation_quantizer(values, k: int, iters: int, mantissa_bits: int) -> quantized_lq:
    """Levels ``c + <e, a>`` fitted to real activations (the offset folds into the next layer's bias)."""
    basis, offset = reference.qem_fit(values, k, iters, offset=True)
    return quantized_lq(k, per_channel=False, basis=basis, offset=offset, mantissa_bits=mantissa_bits)


def unfreeze_kernels(model, momentum: float | None = None) -> int:
    """Let the kernel bases follow the weights during training (QAT after PTQ); returns the count.

    Without ``momentum`` a basis is refit by QEM at every step; with it, it becomes LQ-Nets' moving
    average starting from the PTQ basis (``flow.train.train`` updates it after every batch).
    Call before compiling/training the model (Keras traces the quantizers then).
    """
    count = 0
    for layer in all_layers(model):
        q = getattr(layer, "kernel_quantizer_internal", None)
        if isinstance(q, quantized_lq) and q.per_channel and q.basis is not None:
            if momentum is None:
                q.basis = None
            else:
                q.start_moving_average(momentum)
            count += 1
    return count

