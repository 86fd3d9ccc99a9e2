"""Stock QKeras layers still convert through backend 'MSQ' (on hls4ml's own kernels), and our
quantizers convert through stock 'Vitis' (exact fixed-point weights, plain multipliers)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, binary, quantized_bits, quantized_po2, quantized_relu, ternary

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.quantizers import quantized_msq
from tests.conftest import grid_inputs

STOCK_KERNELS = {
    "bits": lambda: quantized_bits(4, 0, alpha=1),
    "po2": lambda: quantized_po2(4),
    "binary": lambda: binary(alpha=1),
    "ternary": lambda: ternary(alpha=1),
}


def _model(kernel, seed=3, quantized_tail=True, our_tail=False):
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((12,))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    q = quantized_msq(4, 0.5)
    x = QDense(10, kernel_quantizer=q, bias_quantizer=quantized_bits(8, 3, alpha=1), name="ours")(x)
    if our_tail:  # a linear quantizer right after our layer (hls4ml 1.3.0 would drop it)
        x = QActivation(quantized_bits(7, 2, alpha=1), name="q_mid")(x)
    x = QActivation(quantized_relu(6, 2), name="act")(x)
    x = QDense(6, kernel_quantizer=kernel, bias_quantizer=quantized_bits(8, 3, alpha=1), name="stock")(x)
    if quantized_tail:
        x = QActivation(quantized_bits(10, 4, alpha=1), name="q_out")(x)
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    return model


@pytest.mark.csim
@pytest.mark.parametrize("kind", list(STOCK_KERNELS))
@pytest.mark.parametrize("our_tail", [False, True])
def test_stock_quantizers_through_msq_backend(kind, our_tail, project_dir, rng):
    model = _model(STOCK_KERNELS[kind](), our_tail=our_tail)
    x = grid_inputs(rng, 200, 12)
    hm = convert(model, project_dir)
    assert hm.graph["ours"].class_name == "MSQDense"
    assert hm.graph["stock"].class_name == "Dense"
    y = model.predict(x, verbose=0)
    np.testing.assert_array_equal(hm.predict(x).reshape(y.shape), y)


@pytest.mark.csim
def test_our_quantizers_through_stock_vitis(project_dir, rng):
    # No trailing QActivation(quantized_bits): stock hls4ml 1.3.0 drops it after a Dense
    # (merge_linear_activation); backend 'MSQ' keeps it (tests above).
    model = _model(quantized_bits(4, 0, alpha=1), quantized_tail=False)
    x = grid_inputs(rng, 200, 12)
    hm = convert(model, project_dir, ConvertConfig(backend="Vitis"))
    assert hm.graph["ours"].class_name == "Dense"
    y = model.predict(x, verbose=0)
    np.testing.assert_array_equal(hm.predict(x).reshape(y.shape), y)
