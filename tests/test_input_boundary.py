"""Exact at the input boundary: raw float inputs (not only inputs on a grid) give C-simulation equal to Keras.

The input type is the model's first quantizer (``flow.hls.input_rule``, the pass
``derive_input_precision``); the board driver packs raw floats with the same rule
(``msq_overlay.packing.quantize_codes``). Inputs: uniform beyond the range (saturation), Gaussian,
exact rounding midpoints, grid points; float32 and float64.
"""

from __future__ import annotations

import warnings

import hls4ml
import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

import flow
from flow import golden
from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.hls.input_rule import InputRule, lq_rule, model_input_rule, quantizer_rule, raw_inputs
from flow.hls.passes.derive_input_precision import InputPrecisionWarning
from flow.models import QuantSpec, mlp
from msq_overlay.packing import FixedType, quantize_codes, unpack

N = 400


def _raw(rule: InputRule, shape, seed=0) -> np.ndarray:
    return raw_inputs(rule.width, rule.integer, rule.signed, shape, N, seed)


def _float64_near(x: np.ndarray) -> np.ndarray:
    """float64 values that Keras' float32 cast turns back into ``x``: ``x +- 2**-30`` (where that is below
    half a float32 ulp). Where ``x`` is a rounding midpoint, converting the double directly rounds away."""
    x64 = x.astype(np.float64)
    nudge = np.where(np.abs(x64) >= 2.0**-5, np.random.default_rng(0).choice([-1.0, 1.0], x.shape) * 2.0**-30, 0.0)
    near = x64 + nudge
    assert np.array_equal(near.astype(np.float32), x)
    return near


def _assert_raw_exact(model, hm, x):
    expected = model.predict(x, verbose=0)
    for inputs in (x, _float64_near(x)):  # Keras casts float64 to float32; so does our bridge
        got = np.asarray(hm.predict(np.ascontiguousarray(inputs))).reshape(expected.shape)
        bad = int(np.sum(got != expected))
        assert bad == 0, f"{bad} of {got.size} outputs differ on raw {inputs.dtype} inputs"


def _input_rule(model) -> InputRule:
    rule = model_input_rule(model, model.input_names[0])
    assert isinstance(rule, InputRule), rule
    return rule


# --- the rule, without C-simulation -------------------------------------------------------------


@pytest.mark.parametrize(
    "quantizer, expected",
    [
        (quantized_bits(6, 1, alpha=1), "fixed<6,2,RND_CONV,SAT>"),
        (quantized_bits(8, 3, alpha=1, symmetric=True), "fixed<8,4,RND_CONV,SAT_SYM>"),
        (quantized_bits(5, 2, keep_negative=False, alpha=1), "ufixed<5,2,RND_CONV,SAT>"),
        (quantized_relu(8, 3), "ufixed<8,3,RND_CONV,SAT>"),
        (quantized_relu(3, 4), "ufixed<3,4,RND_CONV,SAT>"),
        (quantized_bits(4, 5, alpha=1), "fixed<4,6,RND_CONV,SAT>"),
        (quantized_relu(4, 2, relu_upper_bound=8.0, is_quantized_clip=False), "ufixed<4,2,RND_CONV,SAT>"),
    ],
)
def test_rule_is_the_quantizer_type(quantizer, expected):
    assert quantizer_rule(quantizer, "q").hls() == expected


@pytest.mark.parametrize(
    "quantizer, reason",
    [
        (quantized_bits(6, 1, alpha="auto_po2"), "alpha"),
        (quantized_bits(6, 1, alpha=1, use_stochastic_rounding=True), "stochastic"),
        (quantized_relu(6, 2, negative_slope=0.25), "leaky"),
        (quantized_bits(1, 0, alpha=1), "sign"),
        (quantized_relu(4, 2, relu_upper_bound=1.0, is_quantized_clip=False), "relu_upper_bound"),
    ],
)
def test_rule_refuses_quantizers_without_a_fixed_point_input(quantizer, reason):
    result = quantizer_rule(quantizer, "q")
    assert isinstance(result, str) and reason in result


@pytest.mark.parametrize(
    "quantizer",
    [quantized_bits(6, 1, alpha=1), quantized_bits(4, 0, alpha=1, symmetric=True),
     quantized_bits(5, 2, keep_negative=False, alpha=1), quantized_relu(8, 3), quantized_relu(3, 4),
     quantized_bits(4, 5, alpha=1)],
    ids=str,
)
def test_driver_packing_equals_the_keras_quantizer(quantizer):
    rule = quantizer_rule(quantizer, "q")
    x = _raw(rule, (64,), seed=5)
    t = FixedType(rule.width, rule.integer, rule.signed, rule.rounding, rule.saturation)
    packed = unpack(quantize_codes(x, t), t)
    np.testing.assert_array_equal(packed, quantizer(tf.constant(x)).numpy().astype(np.float64))


def test_lq_rule_floor_keeps_every_midpoint_decision(rng):
    mids = np.array([-1.375, -0.25, 0.0, 0.5, 1.125])
    rule = lq_rule(mids, "lq")
    assert (rule.rounding, rule.saturation) == ("TRN", "SAT")
    lo, hi = rule.value_range()
    assert lo < mids.min() and hi >= mids.max()
    x = np.concatenate([rng.uniform(-5, 5, 4000), mids, np.nextafter(mids, -np.inf), np.nextafter(mids, np.inf)])
    t = FixedType(rule.width, rule.integer, True, "TRN", "SAT")
    floored = unpack(quantize_codes(x.astype(np.float32), t), t)
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(floored[:, None] >= mids, x32[:, None] >= mids)


# --- C-simulation equals Keras on raw floats ------------------------------------------------------


@pytest.mark.csim
@pytest.mark.parametrize("name", golden.MODEL_NAMES)
@pytest.mark.parametrize("api", ["hls4ml", "flow.convert"])
def test_demo_models_raw_floats(name, api, project_dir):
    model = flow.load_model(golden.GOLDEN_DIR / f"{name}.h5")
    if api == "hls4ml":
        cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="MSQ")
        hm = hls4ml.converters.convert_from_keras_model(
            model, hls_config=cfg, backend="MSQ", output_dir=str(project_dir), part="xc7z020clg400-1"
        )
        hm.compile()
    else:
        hm = convert(model, project_dir)
    assert str(hm.get_input_variables()[0].type.precision).startswith("fixed<6,2,RND_CONV,SAT")
    x = _raw(_input_rule(model), (64,))
    _assert_raw_exact(model, hm, x)


@pytest.mark.csim
def test_plain_api_model_granularity_derives_the_input(project_dir):
    """hls4ml's default config (granularity='model') gives every type fixed<16,6>: the input still gets
    the quantizer's type (nothing was set for it), and every defaulted layer is named in one warning."""
    from flow.hls.passes.warn_default_precision import DefaultPrecisionWarning

    model = flow.load_model(golden.GOLDEN_DIR / "digits_msq4.h5")
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="model", backend="MSQ")
    with pytest.warns(DefaultPrecisionWarning, match="'act1'") as record:
        hm = hls4ml.converters.convert_from_keras_model(
            model, hls_config=cfg, backend="MSQ", output_dir=str(project_dir), part="xc7z020clg400-1"
        )
    assert not [w for w in record if issubclass(w.category, InputPrecisionWarning)]
    assert str(hm.get_input_variables()[0].type.precision).startswith("fixed<6,2,RND_CONV,SAT")
    assert {"act1", "act2"} <= set(hm.flow_approximations)


@pytest.mark.csim
def test_sequential_model_raw_floats(project_dir):
    from flow.quantizers import quantized_msq

    tf.keras.utils.set_random_seed(4)
    q = dict(kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1))
    model = tf.keras.Sequential(
        [tf.keras.Input((10,)), QActivation(quantized_bits(5, 1, alpha=1)), QDense(4, **q)], name="seq"
    )
    freeze_msq_rows(model)
    hm = convert(model, project_dir)
    assert str(hm.get_input_variables()[0].type.precision).startswith("fixed<5,2,RND_CONV,SAT")
    _assert_raw_exact(model, hm, _raw(_input_rule(model), (10,), seed=6))


def _scaled_mlp(scheme, share, seed):
    tf.keras.utils.set_random_seed(seed)
    spec = QuantSpec(scheme=scheme, bits=4, sp2_share=share, act_bits=6, act_integer=2, in_bits=7, in_integer=2)
    model = mlp(20, 5, (16, 9), spec)
    freeze_msq_rows(model)
    return model


@pytest.mark.csim
@pytest.mark.parametrize(
    "scheme, share, strategy, rf",
    [("msq", 0.6, "Latency", 1), ("sp2", 1.0, "Resource", 4), ("fixed", 0.0, "Resource", 3)],
)
def test_random_mlps_raw_floats(scheme, share, strategy, rf, project_dir):
    model = _scaled_mlp(scheme, share, seed=len(scheme) + rf)
    hm = convert(model, project_dir, ConvertConfig(strategy=strategy, reuse_factor=rf))
    _assert_raw_exact(model, hm, _raw(_input_rule(model), (20,), seed=rf))


def _cnn(first, seed):
    from flow.quantizers import quantized_msq

    tf.keras.utils.set_random_seed(seed)
    def q():
        return dict(kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1))

    inp = tf.keras.Input((6, 6, 2), name="x")
    x = QActivation(first, name="q_in")(inp)
    x = QConv2D(4, 3, padding="same", name="c1", **q())(x)
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    x = tf.keras.layers.Flatten(name="flat")(x)
    model = tf.keras.Model(inp, QDense(3, name="fc", **q())(x))
    freeze_msq_rows(model)
    return model


@pytest.mark.csim
@pytest.mark.parametrize(
    "first, io_type",
    [(quantized_bits(7, 1, alpha=1, symmetric=True), "io_parallel"), (quantized_relu(6, 2), "io_stream")],
    ids=["bits-symmetric-parallel", "relu-stream"],
)
def test_random_cnns_raw_floats(first, io_type, project_dir):
    model = _cnn(first, seed=3)
    hm = convert(model, project_dir, ConvertConfig(io_type=io_type))
    _assert_raw_exact(model, hm, _raw(_input_rule(model), (6, 6, 2), seed=4))


@pytest.mark.csim
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_lq_models_raw_floats(k, kind, project_dir):
    from tests.test_csim_lq import Chain, _kernel

    rng = np.random.default_rng(k)
    if kind == "dense":
        calib = rng.uniform(-2, 2, (200, 12)).astype(np.float32)
        chain = Chain((12,), calib).lq(k, "a0").add(QDense(8, name="d1", **_kernel(k, 1)))
        chain.lq(k, "a1").add(QDense(4, name="d2", **_kernel(k, 2)))
    else:
        calib = rng.uniform(-2, 2, (200, 6, 6, 2)).astype(np.float32)
        chain = Chain((6, 6, 2), calib).lq(k, "a0").add(QConv2D(3, 3, padding="same", name="c1", **_kernel(k, 1)))
        chain.lq(k, "a1").add(tf.keras.layers.Flatten(name="flat")).add(QDense(4, name="d2", **_kernel(k, 2)))
    model = chain.model()
    rule = _input_rule(model)
    assert (rule.rounding, rule.saturation) == ("TRN", "SAT")
    hm = convert(model, project_dir)
    x = _raw(rule, model.input_shape[1:], seed=k)
    x[:10] = rng.uniform(-40, 40, x[:10].shape)  # far beyond every level
    _assert_raw_exact(model, hm, x)


@pytest.mark.csim
@pytest.mark.parametrize("kind", ["ptq", "widths"])
def test_ptq_and_learned_width_models_raw_floats(kind, digits, project_dir):
    from flow.bitwidth import WidthConfig, freeze, to_learned_width
    from flow.ptq import quantize

    tf.keras.utils.set_random_seed(2)
    model = mlp(64, 10, (24, 12), QuantSpec("float"))
    calib = digits.x_train[:256]
    if kind == "ptq":
        quantized = quantize(model, calib, bits=4, act_bits=8)
    else:
        lw = to_learned_width(model, calib, WidthConfig(), WidthConfig())
        for layer, width in zip(lw.layers, np.random.default_rng(3).integers(2, 9, size=len(lw.layers))):
            if hasattr(layer, "alpha"):
                layer.alpha_ema.assign(float(width))
        quantized = freeze(lw)
    assert type(quantized.layers[1]).__name__ == "QActivation" and quantized.layers[1].name == "q_input"
    hm = convert(quantized, project_dir)
    x = _raw(_input_rule(quantized), (64,), seed=9)
    _assert_raw_exact(quantized, hm, x)
    grid = np.ascontiguousarray(digits.x_test[:100].astype(np.float32))  # the data set is unchanged by it
    np.testing.assert_array_equal(quantized.layers[1](tf.constant(grid)).numpy(), grid)


# --- no exact input type: named, not guessed -------------------------------------------------------


def _unquantized_input():
    from flow.quantizers import quantized_msq

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((8,), name="x")
    q = dict(kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1))
    model = tf.keras.Model(inp, QDense(3, name="fc", **q)(inp))
    freeze_msq_rows(model)
    return model


def test_no_input_quantizer_warns_with_the_type(project_dir):
    with pytest.warns(InputPrecisionWarning, match=r"layer 'fc' \(QDense\) without an input quantizer.*fixed<16,6>"):
        convert(_unquantized_input(), project_dir, compile=False)


def test_no_input_quantizer_is_an_error_when_strict(project_dir):
    with pytest.raises(ValueError, match="without an input quantizer"):
        convert(_unquantized_input(), project_dir, ConvertConfig(strict_input=True), compile=False)


def test_given_input_type_is_not_second_guessed_without_a_quantizer(project_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputPrecisionWarning)
        hm = convert(_unquantized_input(), project_dir, ConvertConfig(input_precision="fixed<8,3>"), compile=False)
    assert str(hm.get_input_variables()[0].type.precision).startswith("fixed<8,3")


def test_coarser_given_type_is_an_error_naming_both(project_dir):
    model = flow.load_model(golden.GOLDEN_DIR / "digits_msq4.h5")
    with pytest.raises(ValueError, match=r"fixed<5,2> is coarser than layer 'q_input'.*fixed<6,2,RND_CONV,SAT>"):
        convert(model, project_dir, ConvertConfig(input_precision="fixed<5,2>"), compile=False)


def test_same_grid_given_type_takes_the_quantizer_rounding(project_dir):
    model = flow.load_model(golden.GOLDEN_DIR / "digits_msq4.h5")
    hm = convert(model, project_dir, ConvertConfig(input_precision="fixed<6,2>"), compile=False)
    assert str(hm.get_input_variables()[0].type.precision).startswith("fixed<6,2,RND_CONV,SAT")


def test_finer_given_type_warns_of_double_rounding(project_dir):
    model = flow.load_model(golden.GOLDEN_DIR / "digits_msq4.h5")
    with pytest.warns(InputPrecisionWarning, match="finer than layer 'q_input'.*rounded to fixed<16,6> first"):
        convert(model, project_dir, ConvertConfig(input_precision="fixed<16,6>"), compile=False)
