"""C-simulation: frozen learned-width models and symmetric PTQ models equal Keras bit for bit.

The backbone (up to the float head's cut) goes through backend 'MSQ'; the comparison is
``np.array_equal`` on the test split of digits (inputs on the data set's grid).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from flow.bitwidth import WidthConfig, default_cut, freeze, to_learned_width
from flow.convert import ConvertConfig, convert
from flow.head import split
from flow.models import QuantSpec, cnn1d, mlp, resnet8, vgg
from flow.ptq import quantize

pytestmark = pytest.mark.csim


def _float(kind):
    tf.keras.utils.set_random_seed(11)
    if kind == "mlp":
        return mlp(64, 10, (24, 12), QuantSpec("float"))
    if kind == "vgg":
        return vgg((8, 8, 1), 10, width=0.0625, spec=QuantSpec("float"))
    if kind == "resnet8":
        return resnet8((8, 8, 1), 10, width=4, spec=QuantSpec("float"))
    return cnn1d((64, 1), 10, channels=(6, 6), kernel=3, spec=QuantSpec("float"))


def _data(digits, kind):
    return digits if kind == "mlp" else digits.with_shape((64, 1) if kind == "cnn1d" else (8, 8, 1))


def _check_backbone(model, data, project_dir, cfg_kwargs=None):
    cut = default_cut(model)
    backbone, head = split(model, cut)
    cfg = ConvertConfig(**(cfg_kwargs or {}))  # the input type is the model's input quantizer (q_input)
    hls = convert(backbone, project_dir, cfg)
    x = np.ascontiguousarray(data.x_test[:200].astype(np.float64))
    expected = backbone.predict(x, verbose=0)
    got = hls.predict(x).reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)
    end_to_end = head.predict(got)
    np.testing.assert_array_equal(end_to_end.argmax(1), model.predict(x, verbose=0).argmax(1))


@pytest.mark.parametrize("kind", ["mlp", "vgg", "cnn1d", "resnet8"])
def test_frozen_learned_widths_bit_exact(digits, kind, project_dir):
    model = _float(kind)
    data = _data(digits, kind)
    lw = to_learned_width(model, data.x_train[:256], WidthConfig(), WidthConfig(), cut=default_cut(model))
    widths = np.random.default_rng(3).integers(2, 9, size=len(lw.layers))
    for layer, width in zip(lw.layers, widths):
        if hasattr(layer, "alpha"):
            layer.alpha_ema.assign(float(width))
    _check_backbone(freeze(lw), data, project_dir)


@pytest.mark.parametrize(
    "kind,bits,granularity,cfg",
    [
        ("mlp", 8, "channel", {}),
        ("mlp", 4, "layer", {"strategy": "Resource", "reuse_factor": 4}),
        ("vgg", 8, "channel", {}),
        ("vgg", 4, "channel", {"io_type": "io_stream"}),
    ],
)
def test_symmetric_ptq_bit_exact(digits, kind, bits, granularity, cfg, project_dir):
    model = _float(kind)
    data = _data(digits, kind)
    q = quantize(model, data.x_train[:256], bits=bits, granularity=granularity, cut=default_cut(model))
    _check_backbone(q, data, project_dir, cfg)


@pytest.mark.parametrize("quantizer", ["relu(4,4)", "relu(3,5)", "bits(4,3)", "bits(3,4)"])
def test_integer_width_activations_round_and_saturate(quantizer, project_dir):
    """hls4ml 1.3.0 types these uint<i>/int<i+1> (no rounding, no saturation); ours are exact."""
    from qkeras import QActivation, quantized_bits, quantized_relu

    kind, args = quantizer.split("(")
    b, i = (int(v) for v in args.rstrip(")").split(","))
    q = quantized_relu(b, i) if kind == "relu" else quantized_bits(b, i, alpha=1)
    inp = tf.keras.Input((32,))
    model = tf.keras.Model(inp, QActivation(q, name="a")(inp))
    x = (np.arange(-30, 30, 1 / 8.0)[:, None] + np.linspace(0, 0.12, 32)[None]).round(8)
    # The model is only the activation; a derived input type would make it the identity (nothing left to
    # test), so the input is the wider fixed<16,6> and the activation itself rounds and saturates.
    with pytest.warns(UserWarning, match="finer than"):
        hls = convert(model, project_dir, ConvertConfig(input_precision="fixed<16,6>"))
    np.testing.assert_array_equal(hls.predict(np.ascontiguousarray(x)).reshape(x.shape), model.predict(x, verbose=0))
