"""Post-training quantization: the quantizers' math, the rebuilt model, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from flow.models import QuantSpec, mlp
from flow.ptq import quantize, weight_memory_bits
from flow.quantizers import quantized_asymmetric, quantized_symmetric


@pytest.mark.parametrize("bits", (2, 4, 8))
@pytest.mark.parametrize("per_channel", (True, False))
def test_symmetric_is_max_abs_power_of_two(rng, bits, per_channel):
    w = (rng.normal(0, 0.2, (30, 6)) * rng.uniform(0.1, 2, 6)).astype(np.float32)
    q = quantized_symmetric(bits, per_channel=per_channel)(w).numpy()
    m = np.max(np.abs(w), axis=0) if per_channel else np.max(np.abs(w))
    s = 2.0 ** np.ceil(np.log2(m))
    half = 2.0 ** (bits - 1)
    expected = np.clip(np.round(w / s * half), -(half - 1), half - 1) / half * s
    np.testing.assert_array_equal(q, expected.astype(np.float32))


@pytest.mark.parametrize("per_channel", (True, False))
def test_asymmetric_matches_reference(rng, per_channel):
    w = (rng.normal(0.1, 0.3, (50, 5))).astype(np.float32)
    q = quantized_asymmetric(8, per_channel=per_channel)(w).numpy()
    lo = np.minimum(w.min(axis=0) if per_channel else w.min(), 0)
    hi = np.maximum(w.max(axis=0) if per_channel else w.max(), 0)
    s = (hi - lo) / 255
    z = np.round(-lo / s)
    expected = s * (np.clip(np.round(w / s) + z, 0, 255) - z)
    np.testing.assert_allclose(q, expected, rtol=0, atol=1e-6)  # float32 vs float64 scale arithmetic
    assert len(np.unique(q[:, 0])) <= 256
    assert quantized_asymmetric(4, value_range=(0.0, 3.0))(np.array([0.0], np.float32)).numpy()[0] == 0.0


@pytest.fixture(scope="module")
def float_mlp(digits):
    from flow.train import TrainConfig, train

    tf.keras.utils.set_random_seed(3)
    model = mlp(64, 10, (32, 16), QuantSpec("float"))
    train(model, digits, TrainConfig(epochs=8, progress=False))
    return model


@pytest.mark.parametrize("mode", ("symmetric", "asymmetric"))
@pytest.mark.parametrize("granularity", ("layer", "channel"))
def test_ptq_model_structure_and_accuracy(float_mlp, digits, mode, granularity):
    from flow.train import evaluate

    q = quantize(float_mlp, digits.x_train[:300], bits=8, mode=mode, granularity=granularity)
    names = [l.name for l in float_mlp.layers]
    assert [l.name for l in q.layers] == [names[0], "q_input", *names[1:]]  # an input quantizer, then the same layers
    kq = q.get_layer("fc1").kernel_quantizer_internal
    assert type(kq).__name__ == f"quantized_{mode}" and kq.bits == 8
    act = q.get_layer("act1").quantizer
    assert (type(act).__name__ == "quantized_relu") == (mode == "symmetric")
    assert evaluate(q, digits.x_test, digits.y_test) >= evaluate(float_mlp, digits.x_test, digits.y_test) - 0.02
    # 8-bit kernels, 16-bit biases instead of 32-bit floats
    assert weight_memory_bits(q) == (64 * 32 + 32 * 16 + 16 * 10) * 8 + (32 + 16 + 10) * 16


def test_ptq_keeps_float_head(float_mlp, digits):
    q = quantize(float_mlp, digits.x_train[:100], bits=4, cut="act2")
    assert type(q.get_layer("logits")).__name__ == "Dense"
    assert type(q.get_layer("fc2")).__name__ == "QDense"


def test_ptq_errors(float_mlp, digits):
    with pytest.raises(ValueError, match="calibration data"):
        quantize(float_mlp, None)
    with pytest.raises(ValueError, match="calibration data"):
        quantize(float_mlp, digits.x_train[:0])
    with pytest.raises(ValueError, match=r"calibration_x: expected inputs of shape \(n, 64\)"):
        quantize(float_mlp, digits.x_train[:10, :32])
    with pytest.raises(ValueError, match="mode: 'sym' is not one of"):
        quantize(float_mlp, digits.x_train[:10], mode="sym")
    with pytest.raises(ValueError, match=r"bits: must be an integer in \[2, 8\]"):
        quantize(float_mlp, digits.x_train[:10], bits=12)
    with pytest.raises(ValueError, match="cut layer 'head' is not in model"):
        quantize(float_mlp, digits.x_train[:10], cut="head")
    bn = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(4), tf.keras.layers.BatchNormalization(name="bn")])
    with pytest.raises(ValueError, match="fold_batchnorm"):
        quantize(bn, np.ones((2, 4), np.float32))


def test_asymmetric_conversion_refused(float_mlp, digits, project_dir):
    from flow.convert import convert

    q = quantize(float_mlp, digits.x_train[:100], mode="asymmetric")
    with pytest.raises(ValueError, match="layer 'fc1' uses quantized_asymmetric, which has no exact HLS form"):
        convert(q, project_dir, compile=False)
    assert not project_dir.exists()  # refused before anything was written
