"""TensorFlow quantizers: same values as the numpy reference, STE gradient, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits

import flow
from flow.quantizers import levels, quantized_msq, quantized_sp2


def _weights(rng, shape=(20, 12)):
    return (rng.normal(0, 0.3, shape) * rng.uniform(0.01, 3, shape[-1])).astype(np.float32)


@pytest.mark.parametrize("bits", [3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("per_row", [True, False])
def test_tf_equals_numpy_reference(bits, per_row, rng):
    w = _weights(rng)
    np.testing.assert_array_equal(quantized_sp2(bits, per_row=per_row)(w).numpy(), levels.sp2_quantize(w, bits, per_row)[0])
    q = quantized_msq(bits, 0.5, per_row=per_row)
    scheme = q.assign_rows(w)
    expected = np.where(scheme == 1, levels.sp2_quantize(w, bits, per_row)[0], levels.fixed_quantize(w, bits, per_row)[0])
    np.testing.assert_array_equal(q(w).numpy(), expected)


def test_conv_kernel_rows_are_the_last_axis(rng):
    w = _weights(rng, (3, 3, 2, 5))
    enc = quantized_msq(4, 0.4).encode(w)  # dynamic assignment
    assert enc.scheme.shape == (5,) and enc.exponent.shape == (5,)
    assert enc.scheme.sum() == 2


def test_straight_through_gradient_is_identity(rng):
    w = tf.Variable(_weights(rng))
    for q in (quantized_sp2(4), quantized_msq(4, 0.5)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(q(w) * 3.0)
        np.testing.assert_array_equal(tape.gradient(loss, w).numpy(), np.full(w.shape, 3.0, np.float32))


def test_dynamic_assignment_matches_frozen(rng):
    w = _weights(rng, (40, 16))
    dyn = quantized_msq(4, 0.6)
    frozen = quantized_msq(4, 0.6)
    frozen.assign_rows(w)
    np.testing.assert_array_equal(dyn.encode(w).scheme, frozen.row_scheme)
    np.testing.assert_array_equal(dyn(w).numpy(), frozen(w).numpy())


def test_qdense_does_not_turn_our_quantizer_into_auto_po2():
    q = quantized_msq(4, 0.5)
    QDense(4, kernel_quantizer=q)
    assert not hasattr(q, "alpha") and "alpha" not in q.get_config()


def test_model_saves_and_loads_with_identical_predictions(tmp_path, rng):
    inp = tf.keras.Input((10,))
    x = QActivation(quantized_bits(8, 2, alpha=1))(inp)
    q = quantized_msq(4, sp2_share=0.6)
    x = QDense(8, kernel_quantizer=q, bias_quantizer=quantized_bits(8, 3, alpha=1), name="d")(x)
    x = QDense(3, kernel_quantizer=quantized_sp2(5), bias_quantizer=quantized_bits(8, 3, alpha=1))(x)
    model = tf.keras.Model(inp, x)
    q.assign_rows(model.get_layer("d").kernel.numpy())
    path = tmp_path / "m.h5"
    model.save(path)
    xs = rng.normal(0, 1, (50, 10)).astype(np.float32)
    loaded = flow.load_model(path)
    np.testing.assert_array_equal(model.predict(xs, verbose=0), loaded.predict(xs, verbose=0))
    assert loaded.get_layer("d").kernel_quantizer_internal.row_scheme.tolist() == q.row_scheme.tolist()

    from qkeras.utils import load_qmodel

    np.testing.assert_array_equal(model.predict(xs, verbose=0), load_qmodel(str(path)).predict(xs, verbose=0))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="sp2_share"):
        quantized_msq(4, sp2_share=1.5)
    with pytest.raises(ValueError, match="bits"):
        quantized_sp2(12)
    with pytest.raises(ValueError, match="row_scheme"):
        quantized_msq(4, row_scheme=[0, 2, 1])
    q = quantized_msq(4, row_scheme=[0, 1, 1])
    with pytest.raises(ValueError, match="3 rows but the kernel has 5"):
        q(np.zeros((4, 5), np.float32))


def test_auto_share_comes_from_the_board_model():
    q = quantized_msq(4, sp2_share="auto", board="pynq-z2")
    assert 0.5 < q.sp2_share < 1.0 and q.get_config()["board"] == "pynq-z2"
    assert quantized_msq.from_config(q.get_config()).sp2_share == q.sp2_share
    with pytest.raises(ValueError, match="'auto' with board"):
        quantized_msq(4, sp2_share="auto")
    with pytest.raises(ValueError, match="known boards"):
        quantized_msq(4, sp2_share="auto", board="nope")
