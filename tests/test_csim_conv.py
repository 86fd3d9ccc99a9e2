"""C-simulation battery: random small CNNs through backend 'MSQ' equal QKeras bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits, quantized_relu

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.quantizers import quantized_msq
from tests.kernel_checks import assert_estimate_matches_config, assert_our_kernels

# (kernel, stride, padding, channels in, filters, sp2 share, io type, strategy, reuse factor)
CASES = [
    (1, 1, "valid", 3, 5, 0.0, "io_parallel", "Latency", 1),
    (3, 1, "same", 3, 5, 0.5, "io_parallel", "Latency", 1),
    (3, 2, "valid", 2, 7, 1.0, "io_parallel", "Resource", 3),
    (3, 2, "same", 5, 3, 0.5, "io_stream", "Latency", 1),
    (1, 2, "same", 4, 6, 1.0, "io_stream", "Resource", 2),
    (3, 1, "valid", 3, 4, 0.0, "io_stream", "Resource", 5),
    (2, 1, "same", 3, 5, 0.5, "io_parallel", "Resource", 7),
    (3, 2, "same", 2, 4, 0.5, "io_stream", "Resource", 18),  # RF = n_in of c1 (3 * 3 * 2)
    (2, 2, "same", 3, 3, 0.5, "io_stream", "Resource", 5),  # RF divides no layer
]


def _quant(share):
    return dict(kernel_quantizer=quantized_msq(4, share), bias_quantizer=quantized_bits(8, 3, alpha=1))


def cnn2d(kernel, stride, padding, c_in, filters, share, seed):
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((7, 6, c_in))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv2D(filters, kernel, strides=stride, padding=padding, name="c1", **_quant(share))(x)
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    x = QConv2D(filters + 2, 3, padding="same", name="c2", **_quant(share))(x)
    x = QActivation(quantized_relu(6, 2), name="a2")(x)
    x = tf.keras.layers.MaxPooling2D(2, name="pool")(x)
    x = tf.keras.layers.Flatten(name="flat")(x)
    x = QDense(4, name="fc", **_quant(share))(x)
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    return model


def _grid(rng, shape):
    return (rng.integers(-96, 96, shape) / 32).astype(np.float32)


@pytest.mark.csim
@pytest.mark.parametrize("kernel, stride, padding, c_in, filters, share, io_type, strategy, rf", CASES)
def test_conv2d_battery_bit_exact(kernel, stride, padding, c_in, filters, share, io_type, strategy, rf, project_dir, rng):
    model = cnn2d(kernel, stride, padding, c_in, filters, share, seed=kernel * 10 + filters)
    x = _grid(rng, (120, 7, 6, c_in))
    hm = convert(model, project_dir, ConvertConfig(io_type=io_type, strategy=strategy, reuse_factor=rf))
    assert hm.graph["c1"].class_name == "MSQConv2D"
    assert_our_kernels(hm, model)
    assert_estimate_matches_config(hm, model, rf, strategy)
    y = model.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y.shape)
    assert np.array_equal(y, y_csim), f"{np.sum(y != y_csim)} of {y.size} outputs differ"


@pytest.mark.csim
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_conv1d_with_pooling_and_residual_add(io_type, project_dir, rng):
    tf.keras.utils.set_random_seed(11)
    inp = tf.keras.Input((20, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv1D(6, 5, padding="same", name="c1", **_quant(0.5))(x)
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    y = QConv1D(6, 3, padding="same", name="c2", **_quant(0.5))(x)
    y = QActivation(quantized_relu(6, 2), name="a2")(y)
    x = tf.keras.layers.Add(name="add")([x, y])
    x = tf.keras.layers.AveragePooling1D(2, name="pool")(x)
    x = tf.keras.layers.Flatten(name="flat")(x)
    x = QDense(5, name="fc", **_quant(0.5))(x)
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    xs = _grid(rng, (150, 20, 2))
    hm = convert(model, project_dir, ConvertConfig(io_type=io_type))
    assert hm.graph["c1"].class_name == "MSQConv1D"
    y_keras = model.predict(xs, verbose=0)
    assert np.array_equal(y_keras, hm.predict(xs).reshape(y_keras.shape))


@pytest.mark.csim
def test_conv_codegen_binds_filters(project_dir):
    model = cnn2d(3, 1, "same", 3, 6, 0.5, seed=5)
    convert(model, project_dir, ConvertConfig(strategy="Resource", reuse_factor=2), compile=False).write()
    params = (project_dir / "firmware" / "parameters.h").read_text()
    calls = (project_dir / "firmware" / "myproject.cpp").read_text()
    scheme = model.get_layer("c1").kernel_quantizer_internal.row_scheme
    assert "nnet::msq_conv_resource<" in calls
    sp2 = ", ".join(str(i) for i in np.flatnonzero(scheme == 1))
    fixed = ", ".join(str(i) for i in np.flatnonzero(scheme == 0))
    assert f"// Rows on LUT (SP2): {sp2}" in params and f"// Rows on DSP (fixed point): {fixed}" in params
    assert "static const unsigned n_in = 27;" in params  # 3 x 3 x 3 receptive field
