"""Real (non-power-of-two) max-abs scales: the quantizer, its encoding, and bit-exact C-simulation.

``quantized_symmetric(scale='real')`` is the adaptive-precision paper's clip at max|w| with a scale of
``scale_bits`` significant bits; backend 'MSQ' multiplies the b-bit mantissas on the DSPs and applies the
row's integer multiplier once per output after the accumulator (an ``ApplyAlpha`` node).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from flow.hls.encode import FixedSpec, decode_dense, encode_dense, exact_spec, size_types, without_multiplier
from flow.quantizers import quantized_symmetric
from flow.quantizers.symmetric import DEFAULT_SCALE_BITS


def reference(w: np.ndarray, bits: int, scale_bits: int, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Numpy reference (float32 arithmetic like Keras): ``(w_q, s)``."""
    w = np.asarray(w, np.float32)
    m = np.max(np.abs(w), axis=0) if per_channel else np.max(np.abs(w))
    k = np.float32(2 ** (bits - 1) - 1)
    ideal = (np.float32(m) / k).astype(np.float32)
    f = np.floor(np.log2(ideal.astype(np.float64))) - (scale_bits - 1)
    c = np.round(ideal / np.exp2(f))
    top = c >= 2**scale_bits
    c, f = np.where(top, 2 ** (scale_bits - 1), c), np.where(top, f + 1, f)
    s = (c * np.exp2(f)).astype(np.float32)
    return (np.clip(np.round(w / s), -k, k) * s).astype(np.float32), s


@pytest.mark.parametrize("bits", (2, 4, 8))
@pytest.mark.parametrize("scale_bits", (1, 4, 8, 16))
@pytest.mark.parametrize("per_channel", (True, False))
def test_real_scale_is_the_clip_at_max_abs(rng, bits, scale_bits, per_channel):
    w = (rng.normal(0, 0.3, (50, 7)) * rng.uniform(0.01, 3, 7)).astype(np.float32)
    q = quantized_symmetric(bits, per_channel=per_channel, scale="real", scale_bits=scale_bits)(w).numpy()
    expected, s = reference(w, bits, scale_bits, per_channel)
    np.testing.assert_array_equal(q, expected)
    # s is the nearest number of scale_bits significant bits to max|w| / k
    ideal = (np.max(np.abs(w), axis=0) if per_channel else np.max(np.abs(w))) / (2 ** (bits - 1) - 1)
    assert np.all(np.abs(s - ideal) <= ideal * 2.0**-scale_bits * 1.0001)
    mant = s / np.exp2(np.floor(np.log2(s)) - (scale_bits - 1))
    assert np.array_equal(mant, np.round(mant)) and np.all((mant >= 2 ** (scale_bits - 1)) & (mant < 2**scale_bits))


@pytest.mark.parametrize("bits", (3, 4, 8))
def test_real_scale_beats_po2_on_gaussian_rows(rng, bits):
    """The issue's measurement: po2 has 1.7x (4 bits) to 2.2x (8 bits) the squared error per channel."""
    w = (rng.normal(0, 1, (256, 64)) * rng.uniform(0.2, 3, 64)).astype(np.float32)
    err = {}
    for scale in ("po2", "real"):
        err[scale] = float(np.sum((w - quantized_symmetric(bits, scale=scale)(w).numpy()) ** 2))
    unrounded = np.max(np.abs(w), axis=0) / (2 ** (bits - 1) - 1)
    k = 2 ** (bits - 1) - 1
    ideal = float(np.sum((w - np.clip(np.round(w / unrounded), -k, k) * unrounded) ** 2))
    assert err["po2"] / err["real"] > {3: 1.1, 4: 1.4, 8: 1.8}[bits]
    assert err["real"] / ideal < 1.01  # 8-bit multipliers cost nothing measurable


def test_real_scale_config_and_errors():
    q = quantized_symmetric(4, per_channel=False, scale="real", scale_bits=6)
    again = quantized_symmetric.from_config(q.get_config())
    assert (again.scale, again.scale_bits, again.per_row, again.bits) == ("real", 6, False, 4)
    assert quantized_symmetric(4).scale == "po2" and quantized_symmetric(4).scale_bits == DEFAULT_SCALE_BITS
    assert "scale='real'" in str(q)
    with pytest.raises(ValueError, match=r"scale: 'pow2' is not one of \('po2', 'real'\)"):
        quantized_symmetric(4, scale="pow2")
    with pytest.raises(ValueError, match=r"scale_bits: must be an integer in \[1, 16\]"):
        quantized_symmetric(4, scale="real", scale_bits=20)


@pytest.mark.parametrize("per_channel", (True, False))
def test_encoding_factors_the_multiplier_out(rng, per_channel):
    bits = 4
    w = (rng.normal(0, 0.3, (30, 9)) * rng.uniform(0.05, 2, 9)).astype(np.float32)
    enc = quantized_symmetric(bits, per_channel=per_channel, scale="real").encode(w)
    d = encode_dense(enc)
    assert d.multiplier is not None and np.all(d.multiplier % 2 == 1)
    assert np.max(np.abs(d.fix_weights)) <= 2 ** (bits - 1) - 1  # b-bit mantissas on the DSPs
    assert np.max(d.multiplier) < 2**DEFAULT_SCALE_BITS
    np.testing.assert_array_equal(decode_dense(d), enc.values)  # exact: k * c * 2**shift
    kernel, multiplier = without_multiplier(d)
    assert kernel.multiplier is None and np.array_equal(multiplier, d.multiplier)
    np.testing.assert_array_equal(decode_dense(kernel) * multiplier[None, :], enc.values)
    with pytest.raises(ValueError, match="row multipliers"):
        size_types(d, FixedSpec(8, 2), np.zeros(9), exact_spec(np.zeros(9), "bias"))
    # po2 rows are encoded as before: no multiplier, the same mantissas
    po2 = encode_dense(quantized_symmetric(bits, per_channel=per_channel).encode(w))
    assert po2.multiplier is None and np.max(np.abs(po2.fix_weights)) <= 2 ** (bits - 1)


def test_ptq_scale_option_and_errors(digits):
    from flow.models import QuantSpec, mlp
    from flow.ptq import quantize

    tf.keras.utils.set_random_seed(2)
    model = mlp(64, 10, (16,), QuantSpec("float"))
    q = quantize(model, digits.x_train[:64], bits=4, granularity="layer", scale="real", scale_bits=5)
    kq = q.get_layer("fc1").kernel_quantizer_internal
    assert (kq.scale, kq.scale_bits, kq.per_row) == ("real", 5, False)
    assert quantize(model, digits.x_train[:64]).get_layer("fc1").kernel_quantizer_internal.scale == "po2"
    with pytest.raises(ValueError, match=r"scale: 'exact' is not one of \('po2', 'real'\)"):
        quantize(model, digits.x_train[:64], scale="exact")
    with pytest.raises(ValueError, match="scale: 'real' applies to mode='symmetric' only"):
        quantize(model, digits.x_train[:64], mode="asymmetric", scale="real")


# --- C-simulation: bit-exact against Keras ------------------------------------------------------------------


def _backbone_csim(model, data, project_dir, cfg_kwargs=None, n=200):
    from flow.bitwidth import default_cut
    from flow.convert import ConvertConfig, convert
    from flow.head import split

    backbone, _ = split(model, default_cut(model))
    hls = convert(backbone, project_dir, ConvertConfig(**(cfg_kwargs or {})))
    x = np.ascontiguousarray(data.x_test[:n].astype(np.float64))
    expected = backbone.predict(x, verbose=0)
    got = hls.predict(x).reshape(expected.shape)
    assert np.array_equal(got, expected)
    return backbone, hls


def _check_scale_nodes(backbone, hls):
    """Every quantized kernel: b-bit mantissas in the MSQ layer, an integer multiplier node after it."""
    kernels = [l for l in backbone.layers if getattr(l, "kernel_quantizer_internal", None) is not None]
    assert kernels
    for layer in kernels:
        node = hls.graph[layer.name]
        assert node.class_name.startswith("MSQ")
        assert node.get_weights("wf").type.precision.width == layer.kernel_quantizer_internal.bits
        assert not np.any(node.get_weights("bias").data)  # the bias moved after the multiplier
        scale = hls.graph[f"{layer.name}_scale"]
        assert scale.class_name == "ApplyAlpha"
        assert scale.inputs == node.outputs
        assert scale.get_weights("scale").type.precision.width <= DEFAULT_SCALE_BITS
        np.testing.assert_array_equal(scale.get_weights("bias").data, layer.bias_quantizer_internal(layer.bias).numpy())


def _float_model(kind):
    from flow.models import QuantSpec, mlp, vgg

    tf.keras.utils.set_random_seed(11)
    if kind == "mlp":
        return mlp(64, 10, (24, 12), QuantSpec("float"))
    return vgg((8, 8, 1), 10, width=0.0625, spec=QuantSpec("float"))


@pytest.mark.csim
@pytest.mark.parametrize(
    "kind,bits,granularity,cfg",
    [
        ("mlp", 8, "channel", {}),
        ("mlp", 4, "layer", {"strategy": "Resource", "reuse_factor": 4}),
        ("vgg", 4, "channel", {"io_type": "io_stream"}),
    ],
)
def test_real_scale_ptq_bit_exact(digits, kind, bits, granularity, cfg, project_dir):
    from flow.bitwidth import default_cut
    from flow.ptq import quantize

    model = _float_model(kind)
    data = digits if kind == "mlp" else digits.with_shape((8, 8, 1))
    q = quantize(model, data.x_train[:256], bits=bits, granularity=granularity, cut=default_cut(model), scale="real")
    backbone, hls = _backbone_csim(q, data, project_dir, cfg)
    _check_scale_nodes(backbone, hls)


@pytest.mark.csim
@pytest.mark.parametrize("kind", ["mlp", "vgg"])
def test_real_scale_frozen_learned_widths_bit_exact(digits, kind, project_dir):
    from flow.bitwidth import WidthConfig, default_cut, freeze, to_learned_width

    model = _float_model(kind)
    data = digits if kind == "mlp" else digits.with_shape((8, 8, 1))
    lw = to_learned_width(model, data.x_train[:256], WidthConfig(), WidthConfig(), cut=default_cut(model), scale="real")
    widths = np.random.default_rng(3).integers(2, 9, size=len(lw.layers))
    for layer, width in zip(lw.layers, widths):
        if hasattr(layer, "alpha"):
            layer.alpha_ema.assign(float(width))
            layer.alpha.assign(float(width))
    frozen = freeze(lw)
    kernels = [l.kernel_quantizer_internal for l in frozen.layers if hasattr(l, "kernel_quantizer_internal")]
    assert kernels and all(type(q).__name__ == "quantized_symmetric" and q.scale == "real" for q in kernels)
    x = data.x_test[:100]
    np.testing.assert_array_equal(frozen.predict(x, verbose=0), lw.predict(x, verbose=0))  # freezing changes nothing
    _backbone_csim(frozen, data, project_dir)


@pytest.mark.csim
def test_real_scale_stock_vitis_folds_the_scale(digits, project_dir):
    """Stock 'Vitis' gets the weights k * c * 2**f as exact (wider) fixed point: same outputs."""
    from flow.bitwidth import default_cut
    from flow.ptq import quantize

    model = _float_model("mlp")
    q = quantize(model, digits.x_train[:256], bits=4, granularity="channel", cut=default_cut(model), scale="real")
    _, hls = _backbone_csim(q, digits, project_dir, {"backend": "Vitis"}, n=100)
    assert not any(node.class_name == "ApplyAlpha" for node in hls.get_layers())
