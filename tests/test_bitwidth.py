"""Learnable bit-width: levels at a width, interpolation gradient, moving average, cost, freeze, errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import quantized_bits, quantized_relu

from flow.bitwidth import (
    LWActivation,
    LWDense,
    WidthConfig,
    WidthTrainConfig,
    bops,
    bops_reference,
    default_cut,
    freeze,
    to_learned_width,
    train_widths,
)
from flow.bitwidth.quantize import fixed_at_width, learned_width_quantize, symmetric_at_width
from flow.models import QuantSpec, mlp, vgg
from flow.quantizers import quantized_symmetric


def _values(rng, n=4000, scale=3.0):
    x = rng.normal(0, scale, n).astype(np.float32)
    return np.concatenate([x, np.arange(-16, 16, 1 / 32, dtype=np.float32)])


@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("integer", (0, 1, 3))
def test_levels_at_integer_width_equal_qkeras(rng, bits, integer):
    x = _values(rng)
    np.testing.assert_array_equal(fixed_at_width(x, float(bits), integer, True).numpy(), quantized_bits(bits, integer, alpha=1)(x).numpy())
    np.testing.assert_array_equal(fixed_at_width(x, float(bits), integer, False).numpy(), quantized_relu(bits, integer)(x).numpy())


@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("scale", ("po2", "real"))
def test_kernel_levels_equal_quantized_symmetric(rng, bits, scale):
    w = rng.normal(0, 0.3, (40, 12)).astype(np.float32)
    expected = quantized_symmetric(bits, per_channel=False, scale=scale)(w).numpy()
    np.testing.assert_array_equal(symmetric_at_width(w, float(bits), scale).numpy(), expected)
    traced = symmetric_at_width(w, tf.constant(float(bits)), scale).numpy()  # a width tensor, as in training
    np.testing.assert_array_equal(traced, expected)
    if scale == "real":  # the paper's clip at max|w|: the largest weight lands on the top level
        k = 2 ** (bits - 1) - 1
        top = np.max(np.abs(expected))
        assert top == pytest.approx(np.max(np.abs(w)), rel=2.0**-7)
        assert len(np.unique(np.round(expected / (top / k)))) <= 2 * k + 1


def test_interpolation_value_and_gradients(rng):
    cfg = WidthConfig(low=2, high=8, init=8)
    x = tf.constant(rng.normal(0, 1, 500).astype(np.float32))
    q = lambda v, b: fixed_at_width(v, b, 1, signed=True)  # noqa: E731
    q4, q5 = q(x, 4.0).numpy(), q(x, 5.0).numpy()
    np.testing.assert_array_equal(learned_width_quantize(x, tf.constant(4.0), cfg, q).numpy(), q4)
    alpha = tf.Variable(4.25)
    upstream = tf.constant(rng.normal(0, 1, 500).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = learned_width_quantize(x, alpha, cfg, q)
        loss = tf.reduce_sum(y * upstream)
    np.testing.assert_allclose(y.numpy(), q4 + 0.25 * (q5 - q4), rtol=0, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(loss, alpha).numpy(), np.sum(upstream.numpy() * (q5 - q4)), rtol=1e-5)
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), upstream.numpy())  # straight through


def test_moving_average_and_rounding():
    layer = LWActivation(width=WidthConfig(low=2, high=6, init=6, momentum=0.9), integer=2)
    layer(tf.zeros((1, 4)))
    ema = 6.0
    for value in (3.0, 3.0, 4.0, 2.5):
        layer.alpha.assign(value)
        layer.update_ema()
        ema = 0.9 * ema + 0.1 * value
        assert layer.alpha_ema.numpy() == pytest.approx(ema, rel=1e-6)
    layer.alpha_ema.assign(4.49)
    assert layer.width() == 4
    layer.alpha_ema.assign(4.5)
    assert layer.width() == 5
    layer.alpha_ema.assign(1.0)  # rounded, then clipped to the bounds
    assert layer.width() == 2


@pytest.mark.parametrize("kwargs", [dict(low=0.5), dict(high=9), dict(low=5, high=4), dict(init=1.5, low=2), dict(momentum=1.0)])
def test_width_bounds_rejected(kwargs):
    with pytest.raises(ValueError, match="WidthConfig"):
        WidthConfig(**kwargs)


def _float_mlp(seed=0):
    tf.keras.utils.set_random_seed(seed)
    return mlp(64, 10, (32, 16), QuantSpec("float"))


def _mean_alpha(model):
    return float(np.mean([l.alpha.numpy() for l in model.layers if hasattr(l, "alpha")]))


def test_cost_weight_moves_widths_down(digits):
    results = {}
    for weight in (0.0, 1.0):
        model = to_learned_width(_float_mlp(), digits.x_train[:256], WidthConfig(init=6), WidthConfig(init=6))
        cfg = WidthTrainConfig(epochs=3, cost_weight=weight, alpha_learning_rate=0.05, progress=False)
        history = train_widths(model, digits, cfg)
        results[weight] = (_mean_alpha(model), history["cost"][-1])
    assert results[1.0][0] < results[0.0][0] - 1.0, results
    assert results[1.0][1] < results[0.0][1], results


def test_bops_follow_the_graph():
    float_model = _float_mlp()
    calib = np.ones((4, 64), np.float32)
    model = to_learned_width(float_model, calib, WidthConfig(init=4), WidthConfig(init=3))
    # fc1: 64*32 MACs x 4 bit x 8 bit input; fc2: 32*16 x 4 x 3 (act1); logits: 16*10 x 4 x 3 (act2)
    backbone = 64 * 32 * 4 * 8 + 32 * 16 * 4 * 3
    assert float(bops(model, input_bits=8.0)) == pytest.approx(backbone + 16 * 10 * 4 * 3)
    # with a float head, the head counts at 8-bit weights on its (learned-width) input
    model = to_learned_width(float_model, calib, WidthConfig(init=4), WidthConfig(init=3), cut="act2")
    assert float(bops(model, input_bits=8.0)) == pytest.approx(backbone + 16 * 10 * 8 * 3)


def test_bops_without_the_float_head():
    """The paper's accounting: the head runs on the host, so only the learned-width layers count."""
    float_model = _float_mlp()
    calib = np.ones((4, 64), np.float32)
    model = to_learned_width(float_model, calib, WidthConfig(init=4), WidthConfig(init=3), cut="act2")
    backbone = 64 * 32 * 4 * 8 + 32 * 16 * 4 * 3
    assert float(bops(model, input_bits=8.0, include_float=False)) == pytest.approx(backbone)
    assert bops_reference(model, include_float=False) == 64.0 * (64 * 32 + 32 * 16)
    assert bops_reference(model) == 64.0 * (64 * 32 + 32 * 16 + 16 * 10)


def test_head_not_charged_leaves_the_last_activation_free(digits):
    """Charged, the head's input width costs BOPs and moves down; not charged, nothing pushes it."""
    final = {}
    for charged in (True, False):
        start = WidthConfig(init=6)
        model = to_learned_width(_float_mlp(), digits.x_train[:256], start, start, cut="act2")
        cfg = WidthTrainConfig(
            epochs=2, cost_weight=1.0, alpha_learning_rate=0.05, progress=False, head_in_cost=charged
        )
        train_widths(model, digits, cfg)
        final[charged] = float(model.get_layer("act2").alpha.numpy())
    assert final[False] > final[True] + 0.3, final


@pytest.mark.parametrize("scale", ("po2", "real"))
def test_learned_width_scale_is_saved_and_frozen(tmp_path, digits, scale):
    import flow

    lw = to_learned_width(_float_mlp(), digits.x_train[:64], cut="act2", scale=scale, scale_bits=6)
    assert lw.get_layer("fc1").scale == scale and lw.get_layer("fc1").get_config()["scale_bits"] == 6
    lw.save(tmp_path / "lw.h5")
    back = flow.load_model(tmp_path / "lw.h5")
    assert (back.get_layer("fc2").scale, back.get_layer("fc2").scale_bits) == (scale, 6)
    frozen = freeze(back)
    kq = frozen.get_layer("fc1").kernel_quantizer_internal
    assert (kq.scale, kq.scale_bits, kq.per_row) == (scale, 6, False)
    with pytest.raises(ValueError, match=r"scale: 'float' is not one of"):
        to_learned_width(_float_mlp(), digits.x_train[:8], scale="float")


@pytest.mark.parametrize("build", ["mlp", "vgg"])
def test_freeze_equals_learned_model_at_its_widths(digits, build, rng):
    if build == "mlp":
        model, data = _float_mlp(), digits
    else:
        tf.keras.utils.set_random_seed(0)
        data = digits.with_shape((8, 8, 1))
        model = vgg((8, 8, 1), 10, width=0.0625, spec=QuantSpec("float"))
    lw = to_learned_width(model, data.x_train[:256], cut=default_cut(model))
    for layer in lw.layers:
        if hasattr(layer, "alpha"):
            layer.alpha_ema.assign(float(rng.uniform(2.0, 8.0)))
            layer.alpha.assign(float(layer.width()))
    frozen = freeze(lw)
    x = data.x_test[:200]
    np.testing.assert_array_equal(frozen.predict(x, verbose=0), lw.predict(x, verbose=0))
    assert type(frozen.get_layer(default_cut(model) if build == "mlp" else "b1_act1")).__name__ == "QActivation"
    assert type(frozen.layers[-1]).__name__ == "Dense"  # the float head stays float


def test_errors(digits):
    model = _float_mlp()
    with pytest.raises(ValueError, match="calibration data"):
        to_learned_width(model, None)
    with pytest.raises(ValueError, match="cut layer 'nope' is not in model"):
        to_learned_width(model, digits.x_train[:8], cut="nope")
    with pytest.raises(ValueError, match="at least 2 bits"):
        to_learned_width(model, digits.x_train[:8], WidthConfig(low=1.0))
    inline = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(8, activation="relu", name="d")])
    with pytest.raises(ValueError, match="'d' applies activation 'relu' inside"):
        to_learned_width(inline, digits.x_train[:8])
    lw = to_learned_width(model, digits.x_train[:8], active=False)
    with pytest.raises(ValueError, match="never quantized"):
        freeze(lw)


def test_layers_save_and_load(tmp_path, digits):
    import flow

    lw = to_learned_width(_float_mlp(), digits.x_train[:64], cut=None)
    lw.get_layer("fc1").alpha_ema.assign(3.2)
    path = tmp_path / "lw.h5"
    lw.save(path)
    back = flow.load_model(path)
    assert isinstance(back.get_layer("fc1"), LWDense) and back.get_layer("fc1").width() == 3
    np.testing.assert_array_equal(back.predict(digits.x_test[:50], verbose=0), lw.predict(digits.x_test[:50], verbose=0))
