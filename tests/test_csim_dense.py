"""C-simulation battery: random Dense models through backend 'MSQ' equal QKeras bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.models import QuantSpec, mlp
from tests.conftest import grid_inputs
from tests.kernel_checks import assert_estimate_matches_config, assert_our_kernels

SHAPES = [(16, (12,), 5), (24, (20, 9), 7), (10, (33, 16, 8), 4)]  # (n_in, hidden, n_out)
BITS = (3, 4, 6, 8)
SHARES = (0.0, 0.4, 0.6, 1.0)
# (strategy, reuse factor): RF 7 divides none of the layers above.
SCHEDULES = [("Latency", 1), ("Resource", 2), ("Resource", 4), ("Resource", 7)]


def _cases():
    for i, (bits, share) in enumerate(itertools.product(BITS, SHARES)):
        yield pytest.param(SHAPES[i % len(SHAPES)], bits, share, *SCHEDULES[i % len(SCHEDULES)], id=f"b{bits}-s{share}-{SCHEDULES[i % 4][0]}{SCHEDULES[i % 4][1]}-shape{i % 3}")
    for strategy, rf in SCHEDULES:  # every schedule on one deep mixed model
        yield pytest.param(SHAPES[2], 4, 0.6, strategy, rf, id=f"deep-{strategy}{rf}")
    # RF 33 = n_in of fc2; lowered to 30, 32, 32 (folded: 3, 2, 4 rows per lane) on the other layers
    yield pytest.param(SHAPES[2], 4, 0.6, "Resource", 33, id="deep-Resource33-rf-n_in")
    # folded schedules: 2..n_out rows one after the other on each lane (lowered per layer to a multiple of n_in)
    yield pytest.param(SHAPES[1], 4, 0.4, "Resource", 48, id="fold-Resource48")
    yield pytest.param(SHAPES[0], 6, 0.6, "Resource", 1000, id="fold-Resource1000-one-lane-per-matrix")


def build(shape, bits, share, seed):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    n_in, hidden, n_out = shape
    spec = QuantSpec(scheme="msq", bits=bits, sp2_share=share, act_bits=min(8, bits + 2), act_integer=2)
    model = mlp(n_in, n_out, hidden, spec)
    # Spread row magnitudes so that row scales differ and variance ranking matters.
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            k = layer.kernel.numpy()
            k *= np.random.default_rng(seed).uniform(0.1, 1.0, size=k.shape[-1]).astype(np.float32)
            b = np.random.default_rng(seed + 1).normal(0, 0.5, size=k.shape[-1]).astype(np.float32)
            layer.set_weights([k, b])
    freeze_msq_rows(model)
    return model


@pytest.mark.csim
@pytest.mark.parametrize("shape, bits, share, strategy, rf", list(_cases()))
def test_dense_battery_bit_exact(shape, bits, share, strategy, rf, project_dir, rng):
    model = build(shape, bits, share, seed=bits * 100 + int(share * 10))
    x = grid_inputs(rng, 300, shape[0], frac_bits=5, lo=-4, hi=4)
    hm = convert(model, project_dir, ConvertConfig(strategy=strategy, reuse_factor=rf))
    assert_our_kernels(hm, model)
    assert_estimate_matches_config(hm, model, rf, strategy)
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y_keras.shape)
    assert np.array_equal(y_keras, y_csim), f"{np.sum(y_keras != y_csim)} of {y_keras.size} outputs differ"


@pytest.mark.csim
@pytest.mark.parametrize("quantizer", ["sp2", "msq"])
def test_per_layer_scale_bit_exact(quantizer, project_dir, rng):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    from flow.quantizers import quantized_msq, quantized_sp2

    tf.keras.utils.set_random_seed(21)
    q = quantized_sp2(5, per_row=False) if quantizer == "sp2" else quantized_msq(5, 0.5, per_row=False)
    inp = tf.keras.Input((14,))
    x = QActivation(quantized_bits(8, 2, alpha=1))(inp)
    x = QDense(9, kernel_quantizer=q, bias_quantizer=quantized_bits(8, 3, alpha=1), name="d")(x)
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    enc = q.encode(model.get_layer("d").kernel.numpy())
    for scheme in set(enc.scheme.tolist()):  # one scale per scheme for the whole layer
        assert len(set(enc.exponent[enc.scheme == scheme].tolist())) == 1
    x = grid_inputs(rng, 200, 14)
    hm = convert(model, project_dir, ConvertConfig(strategy="Resource", reuse_factor=3))
    y = model.predict(x, verbose=0)
    assert np.array_equal(y, hm.predict(x).reshape(y.shape))
