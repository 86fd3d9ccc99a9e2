"""Padded max pooling of unsigned data: refused at conversion (hls4ml pads it with a large positive value)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.quantizers import quantized_msq


def _model(activation, padding: str):
    tf.keras.utils.set_random_seed(3)
    inp = tf.keras.Input((6, 6, 1))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv2D(2, 2, strides=2, kernel_quantizer=quantized_msq(4, sp2_share=0.5),
                bias_quantizer=quantized_bits(8, 3, alpha=1), name="c1")(x)  # 3x3
    x = QActivation(activation, name="a1")(x)
    x = tf.keras.layers.MaxPooling2D(2, padding=padding, name="mpool")(x)  # 'same': padded to 4x4
    x = tf.keras.layers.Flatten(name="flat")(x)
    model = tf.keras.Model(inp, QDense(3, kernel_quantizer=quantized_msq(4, sp2_share=0.5),
                                       bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc")(x))
    freeze_msq_rows(model)
    return model


def _x(n=64):
    return (np.random.default_rng(0).integers(-64, 64, (n, 6, 6, 1)) / 16).astype(np.float32)


def test_unsigned_padded_max_pool_is_refused_naming_the_layer(tmp_path):
    with pytest.raises(ValueError, match=r"'mpool': max Pooling2D pads \(pad_bottom 1, pad_right 1\) an unsigned input"):
        convert(_model(quantized_relu(6, 2), "same"), tmp_path / "prj", compile=False)


@pytest.mark.csim
def test_the_refusal_is_real_and_the_exact_cases_convert(tmp_path):
    """With allow_approximate the C-simulation differs from Keras (the reason for the refusal); signed data or
    no padding converts and is exact."""
    x = _x()
    reports = []
    model = _model(quantized_relu(6, 2), "same")
    hm = convert(model, tmp_path / "unsigned", allow_approximate=True, report=reports.append)
    assert any("mpool" in r for r in reports)
    assert not np.array_equal(hm.predict(x).reshape(len(x), -1), model.predict(x, verbose=0))
    for name, act, padding in (("signed", quantized_bits(6, 2, alpha=1), "same"),
                               ("valid", quantized_relu(6, 2), "valid")):
        model = _model(act, padding)
        hm = convert(model, tmp_path / name, ConvertConfig())
        assert np.array_equal(hm.predict(x).reshape(len(x), -1), model.predict(x, verbose=0)), name
