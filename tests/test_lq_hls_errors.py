"""LQ / binary layers in HLS: bad combinations get a clear error naming the layer and what to do."""

from __future__ import annotations

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, QDepthwiseConv2D, binary, quantized_bits

from flow.convert import ConvertConfig, convert
from flow.quantizers import quantized_lq

pytestmark = pytest.mark.csim


def _lq_mlp(per_channel_activation=False):
    inp = tf.keras.Input((8,), name="x")
    basis = np.tile([[0.25], [0.5]], (1, 8)) if per_channel_activation else [0.25, 0.5]
    act = quantized_lq(2, per_channel=per_channel_activation, basis=basis)
    h = QActivation(act, name="a0")(inp)
    h = QDense(4, kernel_quantizer=quantized_lq(2, mantissa_bits=4), bias_quantizer=quantized_bits(8, 2, alpha=1),
               name="d1")(h)
    return tf.keras.Model(inp, h)


def test_lq_activation_needs_backend_msq(project_dir):
    with pytest.raises(ValueError, match=r"layer 'a0': QActivation\(quantized_lq\) has an HLS kernel only in backend 'MSQ'"):
        convert(_lq_mlp(), project_dir, ConvertConfig(backend="Vitis"), compile=False)


def test_per_channel_lq_activation_is_refused(project_dir):
    with pytest.raises(ValueError, match="layer 'a0'.*one basis per layer"):
        convert(_lq_mlp(per_channel_activation=True), project_dir, compile=False)


def test_too_wide_fixed_point_input_is_refused(project_dir):
    inp = tf.keras.Input((8,), name="x")
    h = QDense(4, kernel_quantizer=quantized_lq(1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="d1")(inp)
    with pytest.raises(ValueError, match="layer 'd1': a 32-bit input would need 32 bit-planes"):
        convert(tf.keras.Model(inp, h), project_dir, ConvertConfig(input_precision="fixed<32,8>"), compile=False)


def test_lq_in_depthwise_conv_is_refused(project_dir):
    inp = tf.keras.Input((6, 6, 2), name="x")
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q_in")(inp)
    h = QDepthwiseConv2D(3, depthwise_quantizer=quantized_lq(2), bias_quantizer=quantized_bits(8, 2, alpha=1),
                         name="dw")(h)
    with pytest.raises(ValueError, match="layer 'dw'.*SP2/MSQ/LQ quantizer.*only in QDense, QConv1D, QConv2D"):
        convert(tf.keras.Model(inp, h), project_dir, compile=False)


def test_distributed_arithmetic_on_binary_kernel_is_refused(project_dir):
    inp = tf.keras.Input((12,), name="x")
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q_in")(inp)
    h = QDense(6, kernel_quantizer=binary(alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="d1")(h)
    model = tf.keras.Model(inp, h)
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="MSQ")
    config["Model"]["Strategy"] = "distributed_arithmetic"
    for layer in config["LayerName"].values():
        layer["Strategy"] = "distributed_arithmetic"
    with pytest.raises(ValueError, match="layer 'd1': strategy 'distributed_arithmetic' computes wrong results for binary"):
        hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, backend="MSQ", output_dir=str(project_dir), io_type="io_parallel"
        )


def test_lq_kernel_with_other_strategy_is_refused(project_dir):
    model = _lq_mlp()
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="MSQ")
    config["LayerName"]["d1"]["Strategy"] = "distributed_arithmetic"
    with pytest.raises(ValueError, match="layer 'd1': Strategy 'distributed_arithmetic' is not supported"):
        hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, backend="MSQ", output_dir=str(project_dir), io_type="io_parallel"
        )


def test_lq_bits_outside_range_are_refused():
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4\], got 5"):
        quantized_lq(5)
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4\], got 0"):
        quantized_lq(0, per_channel=False)
