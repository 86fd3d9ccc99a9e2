"""C-simulation battery: LQ (K = 1..3, weights and activations) and binary layers through backend
'MSQ' equal QKeras bit for bit (``np.array_equal``), Dense, Conv1D and Conv2D.

Bases use ``mantissa_bits=4`` so that every sum stays within float32's 24-bit mantissa (Keras
computes the layers in float32; the C++ is exact at any width). Every test also asserts that each LQ
layer became an ``LQDense``/``LQConv*`` node and that ``myproject.cpp`` calls ``nnet::lq_dense_*`` /
``nnet::lq_conv_*`` for it (``tests/kernel_checks.py``), so a disabled replacement pass fails here."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv1D, QConv2D, QDense, binary, quantized_bits, quantized_relu

from flow.convert import ConvertConfig, convert
from flow.lq import reference
from flow.quantizers import quantized_lq
from tests.kernel_checks import assert_our_kernels, config_structs, row_layers

pytestmark = pytest.mark.csim

MANTISSA = 4
INPUT = "fixed<8,3>"


def _kernel(kw, seed):
    return dict(
        kernel_quantizer=quantized_lq(kw, mantissa_bits=MANTISSA),
        bias_quantizer=quantized_bits(8, 2, alpha=1),
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed),
        bias_initializer=tf.keras.initializers.RandomUniform(-1, 1, seed),
    )


def _calibrated(values, kx):
    basis, offset = reference.qem_fit(np.asarray(values), kx, 5, offset=True)
    return quantized_lq(kx, per_channel=False, basis=basis, offset=offset, mantissa_bits=MANTISSA)


class Chain:
    """Builds a functional model layer by layer; an LQ activation is calibrated on what reaches it."""

    def __init__(self, shape, x):
        self.inp = tf.keras.Input(shape, name="x")
        self.out = self.inp
        self.x = x

    def add(self, layer):
        self.out = layer(self.out)
        return self

    def lq(self, kx, name):
        values = tf.keras.Model(self.inp, self.out).predict(self.x, verbose=0)
        return self.add(QActivation(_calibrated(values, kx), name=name))

    def model(self):
        return tf.keras.Model(self.inp, self.out)


def _grid(rng, shape):
    return (np.round(rng.uniform(-2, 2, shape) * 16) / 16).astype(np.float64)


def _check(model, x, project_dir, **cfg):
    from flow.hls.input_rule import InputRule, model_input_rule

    # A model that starts with a quantizer gets its input type from it; otherwise the inputs are on INPUT's grid.
    derived = isinstance(model_input_rule(model, model.input_names[0]), InputRule)
    hls = convert(model, project_dir, ConvertConfig(input_precision=None if derived else INPUT, **cfg))
    expected = model.predict(x, verbose=0)
    got = hls.predict(np.ascontiguousarray(x)).reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)
    if row_layers(model):  # a QKeras binary kernel stays hls4ml's own
        assert_our_kernels(hls, model)
    return hls


PAIRS = [(1, 1), (2, 2), (3, 3), (1, 3), (3, 1), (2, 3)]


@pytest.mark.parametrize("kx,kw", PAIRS)
def test_lq_dense_bit_exact(kx, kw, project_dir):
    rng = np.random.default_rng(kx * 10 + kw)
    x = _grid(rng, (150, 20))
    chain = Chain((20,), x).lq(kx, "a0").add(QDense(12, name="d1", **_kernel(kw, 1)))
    chain.lq(kx, "a1").add(QDense(5, name="d2", **_kernel(kw, 2)))
    _check(chain.model(), x, project_dir)


@pytest.mark.parametrize("kx,kw,io_type", [(kx, kw, "io_parallel") for kx, kw in PAIRS] + [(2, 2, "io_stream"), (1, 3, "io_stream")])
def test_lq_conv2d_bit_exact(kx, kw, io_type, project_dir):
    """Zero padding, stride 2, LQ levels through max pooling and through Flatten."""
    rng = np.random.default_rng(kx * 10 + kw + 100)
    x = _grid(rng, (60, 7, 6, 2))
    chain = Chain((7, 6, 2), x).lq(kx, "a0").add(QConv2D(4, 3, padding="same", name="c1", **_kernel(kw, 3)))
    chain.lq(kx, "a1").add(tf.keras.layers.MaxPooling2D(2, name="pool"))
    chain.add(QConv2D(5, 2, strides=2, padding="same", name="c2", **_kernel(kw, 4)))
    chain.lq(kx, "a2").add(tf.keras.layers.Flatten(name="flat")).add(QDense(3, name="fc", **_kernel(kw, 5)))
    hls = _check(chain.model(), x, project_dir, io_type=io_type)
    planes = {name: hls.graph[name].get_attr("lq_input") for name in ("c1", "c2", "fc")}
    assert all(p.is_lq for p in planes.values())
    assert planes["c1"].offset_plane and not planes["fc"].offset_plane  # padded conv keeps it, Dense folds it


def test_lq_conv1d_bit_exact(project_dir):
    rng = np.random.default_rng(7)
    x = _grid(rng, (60, 16, 3))
    chain = Chain((16, 3), x).lq(2, "a0").add(QConv1D(4, 3, padding="same", name="c1", **_kernel(2, 6)))
    chain.lq(2, "a1").add(QConv1D(3, 3, strides=2, name="c2", **_kernel(1, 7)))
    hls = _check(chain.model(), x, project_dir)
    assert hls.graph["c1"].get_attr("lq_input").offset_plane  # 'same'
    assert not hls.graph["c2"].get_attr("lq_input").offset_plane  # 'valid': the offset is in the bias


@pytest.mark.parametrize("reuse,io_type", [(3, "io_parallel"), (8, "io_parallel"), (4, "io_stream")])
def test_lq_resource_strategy_bit_exact(reuse, io_type, project_dir):
    """RF 3 and 4 do not divide d1's 10 rows (padded zero rows), RF 8 is lowered to d2's 4 rows (RF = n_out)."""
    rng = np.random.default_rng(reuse)
    x = _grid(rng, (100, 16))
    chain = Chain((16,), x).lq(2, "a0").add(QDense(10, name="d1", **_kernel(2, 8)))
    chain.lq(1, "a1").add(QDense(4, name="d2", **_kernel(3, 9)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hls = _check(chain.model(), x, project_dir, strategy="Resource", reuse_factor=reuse, io_type=io_type)
    lowered = [str(w.message) for w in caught if "above its 4 output rows" in str(w.message)]
    assert bool(lowered) == (reuse > 4) and all("layer 'd2'" in m for m in lowered)
    source = (project_dir / "firmware" / "myproject.cpp").read_text()
    assert "nnet::lq_dense_resource<" in source
    structs = config_structs(hls)
    for name, n_out in (("d1", 10), ("d2", 4)):
        rows = structs[f"config{hls.graph[name].index}"]
        rf = min(reuse, n_out)
        assert rows["reuse_factor"] == rf and rows["lanes"] == -(-n_out // rf)


@pytest.mark.parametrize("kw,io_type", [(1, "io_parallel"), (2, "io_parallel"), (1, "io_stream")])
def test_binary_weights_on_fixed_point_inputs(kw, io_type, project_dir):
    """No LQ activation: the planes are the input's own two's-complement bits (also after a conv + Flatten)."""
    rng = np.random.default_rng(kw)
    x = _grid(rng, (100, 6, 5, 2))
    inp = tf.keras.Input((6, 5, 2), name="x")
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q_in")(inp)
    h = QConv2D(3, 3, padding="same", name="c1", **_kernel(kw, 10))(h)
    h = QActivation(quantized_relu(5, 2), name="relu")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = QDense(4, name="d1", **_kernel(kw, 13))(h)
    hls = _check(tf.keras.Model(inp, h), x, project_dir, io_type=io_type)
    assert not hls.graph["c1"].get_attr("lq_input").is_lq and not hls.graph["d1"].get_attr("lq_input").is_lq


def test_generated_lq_code_uses_planes_and_packed_rows(project_dir):
    rng = np.random.default_rng(3)
    x = _grid(rng, (20, 16))
    chain = Chain((16,), x).lq(2, "a0").add(QDense(6, name="d1", **_kernel(1, 11)))
    _check(chain.model(), x, project_dir)
    source = (project_dir / "firmware" / "myproject.cpp").read_text()
    params = (project_dir / "firmware" / "parameters.h").read_text()
    assert "nnet::lq_activation<" in source and "nnet::lq_dense_latency<" in source
    assert "static const bool lq_input = true;" in params
    assert "static const unsigned kx = 2;" in params  # two LQ planes; a Dense layer's offset is in its bias
    assert "static const bool offset_plane = false;" in params
    assert "static const unsigned kw = 1;" in params
    assert "static const unsigned segments = 1;" in params  # a row of 16 one-bit codes is one word
    assert "typedef ap_uint<16> wc" in (project_dir / "firmware" / "defines.h").read_text()


def test_qkeras_binary_kernel_keeps_working(project_dir):
    rng = np.random.default_rng(5)
    x = _grid(rng, (100, 12))
    inp = tf.keras.Input((12,), name="x")
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q_in")(inp)
    h = QDense(6, kernel_quantizer=binary(alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="d1")(h)
    _check(tf.keras.Model(inp, h), x, project_dir)


def test_numpy_plane_reference_equals_keras():
    """``flow.hls.lq_encode.dense_reference`` (what the C++ computes) against the QKeras layer."""
    from flow.hls.lq_encode import dense_reference, encode_kernel, lq_levels

    rng = np.random.default_rng(9)
    x = _grid(rng, (80, 10))
    chain = Chain((10,), x).lq(3, "a0").add(QDense(4, name="d1", **_kernel(2, 12)))
    model = chain.model()
    act, dense = model.get_layer("a0"), model.get_layer("d1")
    q = act.quantizer
    inp = lq_levels(q.current_basis(tf.zeros([1])).numpy(), q.offset_value(), "a0")
    values, codes, basis = dense.kernel_quantizer_internal.encode(dense.kernel.numpy())
    kernel = encode_kernel(values, codes, basis, "d1")
    bias = dense.bias_quantizer_internal(dense.bias).numpy()
    xq = act(x).numpy()
    expected = model.predict(x, verbose=0).astype(np.float64)
    np.testing.assert_array_equal(dense_reference(xq, kernel, inp, bias), expected)
