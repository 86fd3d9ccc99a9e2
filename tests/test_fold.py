"""BatchNormalization folding into the preceding layer, and the refusal of an unfolded one."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.fold import fold_batchnorm
from flow.quantizers import quantized_msq


def _model(quantized: bool):
    tf.keras.utils.set_random_seed(4)
    def kq():
        return dict(kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1))

    inp = tf.keras.Input((6, 6, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = (QConv2D(4, 3, use_bias=False, name="c1", **kq()) if quantized else tf.keras.layers.Conv2D(4, 3, use_bias=False, name="c1"))(x)
    x = tf.keras.layers.BatchNormalization(name="bn1")(x)
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    x = tf.keras.layers.Flatten(name="flat")(x)
    x = (QDense(3, name="fc", **kq()) if quantized else tf.keras.layers.Dense(3, name="fc"))(x)
    x = tf.keras.layers.BatchNormalization(name="bn2")(x)
    model = tf.keras.Model(inp, x)
    for bn in ("bn1", "bn2"):
        layer = model.get_layer(bn)
        n = layer.gamma.shape[0]
        rng = np.random.default_rng(n)
        layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.3, n), rng.uniform(0.2, 3, n)])
    return model


def test_folding_preserves_the_float_function(rng):
    model = _model(quantized=False)
    folded = fold_batchnorm(model)
    assert not any(isinstance(l, tf.keras.layers.BatchNormalization) for l in folded.layers)
    x = rng.normal(0, 1, (64, 6, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.csim
def test_unfolded_batchnorm_after_msq_is_refused_and_folded_converts_exactly(project_dir, rng):
    model = _model(quantized=True)
    freeze_msq_rows(model)
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn1' follows 'c1'.*fold_batchnorm"):
        convert(model, project_dir, compile=False)
    folded = fold_batchnorm(model)
    freeze_msq_rows(folded)
    hm = convert(folded, project_dir, ConvertConfig(), force=True)
    x = (rng.integers(-64, 64, (100, 6, 6, 2)) / 32).astype(np.float32)
    y = folded.predict(x, verbose=0)
    assert np.array_equal(y, hm.predict(x).reshape(y.shape))


def test_batchnorm_without_foldable_parent_is_a_clear_error():
    inp = tf.keras.Input((4,))
    x = tf.keras.layers.BatchNormalization(name="bn")(inp)
    with pytest.raises(ValueError, match="'bn' does not follow a Dense/Conv layer"):
        fold_batchnorm(tf.keras.Model(inp, x))
