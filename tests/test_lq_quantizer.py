"""quantized_lq (Keras/QKeras) and flow.ptq.lq_quantize: same levels as the numpy reference,
serialisation, offsets folded exactly, errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from flow.lq import reference as R
from flow.quantizers import quantized_lq


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_kernel_quantizer_is_nearest_level_of_its_basis(rng, k):
    w = rng.normal(0, 0.2, (48, 6)).astype(np.float32)
    values, codes, basis = quantized_lq(k).encode(w)
    assert basis.shape == (k, 6) and np.array_equal(R.on_grid(basis), basis)  # on the fixed-point grid
    for j in range(6):
        np.testing.assert_allclose(values[:, j], R.decode(codes[:, j], basis[:, j]), rtol=0, atol=1e-6)
        np.testing.assert_allclose(values[:, j], R.quantize(w[:, j], basis[:, j]), rtol=0, atol=1e-6)
    assert len(np.unique(values[:, 0])) <= 2**k
    np.testing.assert_array_equal(quantized_lq(k)(w).numpy(), values.astype(np.float32))


def test_activation_quantizer_with_offset(rng):
    x = np.maximum(rng.normal(0.5, 1, 4000), 0).astype(np.float32)
    basis, offset = R.qem_fit(x, 2, offset=True)
    q = quantized_lq(2, per_channel=False, basis=basis, offset=offset)
    got = q(x).numpy()
    np.testing.assert_allclose(got, R.quantize(x, R.on_grid(basis), q.offset_value()), rtol=0, atol=1e-6)
    err_offset = np.mean((got - x) ** 2)
    err_plain = np.mean((quantized_lq(2, per_channel=False, basis=R.qem_fit(x, 2))(x).numpy() - x) ** 2)
    assert err_offset < err_plain  # ReLU outputs: the offset puts a level at 0


def test_gradient_is_straight_through(rng):
    w = tf.Variable(rng.normal(0, 0.2, (16, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(quantized_lq(2)(w) * 3.0)
    np.testing.assert_array_equal(tape.gradient(loss, w).numpy(), np.full((16, 3), 3.0, np.float32))


def test_errors():
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4\]"):
        quantized_lq(5)
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4\]"):
        quantized_lq(0)
    with pytest.raises(ValueError, match="has no basis: calibrate it"):
        quantized_lq(2, per_channel=False)(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"basis must have shape \(2,\)"):
        quantized_lq(2, per_channel=False, basis=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="offset is for activations"):
        quantized_lq(2, offset=0.5)


@pytest.fixture(scope="module")
def float_mlp(digits):
    from flow.models import QuantSpec, mlp
    from flow.train import TrainConfig, train

    tf.keras.utils.set_random_seed(2)
    model = mlp(64, 10, (64,), QuantSpec("float"))
    train(model, digits, TrainConfig(epochs=10, progress=False))
    return model


def test_lq_ptq_model_and_cpu_kernel_agree(float_mlp, digits, tmp_path):
    import flow
    from flow.lq.cpu import LQDense
    from flow.ptq import lq_quantize
    from flow.train import evaluate

    q = lq_quantize(float_mlp, digits.x_train[:500], bits=3)
    assert evaluate(q, digits.x_test, digits.y_test) >= evaluate(float_mlp, digits.x_test, digits.y_test) - 0.05
    # the first layer through the bitwise CPU kernel equals the Keras layer on its quantized input
    q_in = q.get_layer("lq_input").quantizer
    fc1 = q.get_layer("fc1")
    _, codes, w_basis = fc1.kernel_quantizer_internal.encode(fc1.kernel.numpy())
    layer = LQDense.from_kernel(fc1.kernel.numpy(), fc1.bias_quantizer_internal(fc1.bias).numpy(),
                                R.on_grid(q_in.basis), w_basis, q_in.offset_value())
    x = digits.x_test[:64]
    xq = q_in(x).numpy().astype(np.float64)
    wq = fc1.kernel_quantizer_internal(fc1.kernel).numpy().astype(np.float64)
    expected = xq @ wq + fc1.bias_quantizer_internal(fc1.bias).numpy()
    np.testing.assert_allclose(layer(x), expected, rtol=1e-9, atol=1e-9)
    # saved and loaded with the bases
    path = tmp_path / "lq.h5"
    q.save(path)
    back = flow.load_model(path)
    np.testing.assert_array_equal(back.predict(x, verbose=0), q.predict(x, verbose=0))


@pytest.mark.csim
@pytest.mark.parametrize("bits", [1, 3])
def test_lq_ptq_model_converts_bit_exact(float_mlp, digits, project_dir, bits):
    """The thesis' flow end to end: post-training LQ, backend 'MSQ', C-simulation equals Keras."""
    from flow.convert import ConvertConfig, convert
    from flow.ptq import lq_quantize

    q = lq_quantize(float_mlp, digits.x_train[:300], bits=bits, mantissa_bits=4, bias_bits=10)
    assert [l.name for l in q.layers][:2] == [float_mlp.input_names[0], "lq_input"]  # one flat model
    hls = convert(q, project_dir, ConvertConfig())  # the input type is lq_input's (a floor to its midpoints' grid)
    x = np.ascontiguousarray(digits.x_test[:200].astype(np.float64))
    expected = q.predict(x, verbose=0)
    np.testing.assert_array_equal(hls.predict(x).reshape(expected.shape), expected)


def test_lq_ptq_errors(float_mlp, digits):
    from flow.ptq import lq_quantize

    with pytest.raises(ValueError, match="needs calibration data"):
        lq_quantize(float_mlp, None)
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4\]"):
        lq_quantize(float_mlp, digits.x_train[:10], bits=6)
    with pytest.raises(ValueError, match=r"expected inputs of shape \(n, 64\)"):
        lq_quantize(float_mlp, digits.x_train[:10, :8])
