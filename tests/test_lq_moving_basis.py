"""LQ-Nets' moving-average kernel basis: the recurrence, the forward pass reading it, the training
callback, serialisation and conversion of the trained model."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits

from flow.lq import reference as R
from flow.quantizers import quantized_lq
from flow.quantizers.lq import qem_channels, round_basis


def test_update_is_one_qem_step_averaged(rng):
    w = rng.normal(0, 0.2, (40, 5)).astype(np.float32)
    start = R.qem_fit_channels(rng.normal(0, 0.3, (40, 5)), 2, 3).astype(np.float32)
    q = quantized_lq(2, basis=start, momentum=0.75)
    q.update_basis(w)
    step = qem_channels(w, 2, 1, start=tf.constant(start)).numpy()
    expected = (0.75 * tf.constant(start) + 0.25 * tf.constant(step)).numpy()
    np.testing.assert_array_equal(q._ema.numpy(), expected)
    # the forward pass reads the moving average, rounded to the grid
    basis = round_basis(tf.constant(expected), q.mantissa_bits).numpy().astype(np.float64)
    values, _, used = q.encode(w)
    np.testing.assert_array_equal(used, basis)
    for j in range(5):
        np.testing.assert_allclose(values[:, j], R.quantize(w[:, j], basis[:, j]), rtol=0, atol=1e-6)


def test_without_a_start_the_first_update_is_a_full_qem_fit(rng):
    w = rng.normal(0, 0.2, (40, 3)).astype(np.float32)
    q = quantized_lq(3, momentum=0.9)
    before = q(w).numpy()  # not ready yet: refit per call, as without momentum
    np.testing.assert_array_equal(before, quantized_lq(3)(w).numpy())
    q.update_basis(w)
    np.testing.assert_array_equal(q._ema.numpy(), qem_channels(w, 3, q.qem_iters).numpy())


def _model(momentum):
    tf.keras.utils.set_random_seed(4)
    inp = tf.keras.Input((64,), name="x")
    h = QActivation(quantized_lq(2, per_channel=False, basis=[0.25, 0.5], offset=0.5, mantissa_bits=4), name="a0")(inp)
    h = QDense(10, kernel_quantizer=quantized_lq(2, momentum=momentum, mantissa_bits=4),
               bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc")(h)
    return tf.keras.Model(inp, h)


def test_training_moves_the_basis_and_it_is_saved(digits, tmp_path):
    import flow
    from flow.train import TrainConfig, train

    model = _model(0.9)
    q = model.get_layer("fc").kernel_quantizer_internal
    train(model, digits, TrainConfig(epochs=1, progress=False))
    assert bool(q._ready.numpy())
    trained = q._ema.numpy().copy()
    assert q.get_config()["basis"] == trained.astype(np.float64).tolist()
    path = tmp_path / "ema.h5"
    model.save(path)
    back = flow.load_model(path)
    x = digits.x_test[:50]
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.csim
def test_model_trained_with_moving_basis_converts_bit_exact(digits, project_dir):
    from flow.convert import ConvertConfig, convert
    from flow.train import TrainConfig, train

    model = _model(0.8)
    train(model, digits, TrainConfig(epochs=1, progress=False))
    hls = convert(model, project_dir, ConvertConfig(input_precision=digits.input_precision()))
    x = np.ascontiguousarray(digits.x_test[:100].astype(np.float64))
    expected = model.predict(x, verbose=0)
    np.testing.assert_array_equal(hls.predict(x).reshape(expected.shape), expected)


def test_momentum_errors():
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        quantized_lq(2, momentum=1.0)
    with pytest.raises(ValueError, match="is for kernels"):
        quantized_lq(2, per_channel=False, basis=[0.5, 1.0], momentum=0.9)
    with pytest.raises(ValueError, match="has no momentum"):
        quantized_lq(2).update_basis(np.ones((4, 2), np.float32))
