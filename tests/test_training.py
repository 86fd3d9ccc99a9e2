"""ADMM and STE training on a small slice of digits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flow.data import load_digits
from flow.models import QuantSpec, mlp
from flow.quantizers import levels
from flow.train import ADMMConfig, TrainConfig, evaluate, train, train_admm, transfer_weights
from flow.train.admm import float_kernels, row_quantized_layers


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return dataclasses.replace(d, x_train=d.x_train[:600], y_train=d.y_train[:600])


@pytest.fixture(scope="module")
def float_model(digits):
    model = mlp(64, 10, (32,), QuantSpec("float"))
    train(model, digits, TrainConfig(epochs=25, progress=False))
    return model


def _quantized(digits, float_model, scheme):
    in_bits, in_int = digits.input_quantizer_args()
    model = mlp(64, 10, (32,), QuantSpec(scheme, 4, 0.6, in_bits=in_bits, in_integer=in_int))
    transfer_weights(float_model, model)
    return model


def test_float_baseline_learns(digits, float_model):
    assert evaluate(float_model, digits.x_test, digits.y_test) > 0.9


def test_admm_drives_weights_onto_their_level_sets(digits, float_model):
    model = _quantized(digits, float_model, "msq")
    cfg = ADMMConfig(epochs=12, epochs_per_update=2, rho=0.05, rho_growth=1.6, finetune_epochs=2, progress=False)
    log = train_admm(model, digits, cfg)
    residual = log["primal_residual"]
    assert residual[-1] < residual[0], f"||W - Z|| did not shrink: {residual}"
    assert evaluate(model, digits.x_test, digits.y_test) > 0.85
    for layer in row_quantized_layers(model):
        q = layer.kernel_quantizer_internal
        assert q.frozen and q.row_scheme.sum() == levels.sp2_row_count(layer.units, 0.6)


def test_float_kernels_context_restores_quantizers(digits, float_model):
    model = _quantized(digits, float_model, "sp2")
    layers = row_quantized_layers(model)
    x = digits.x_test[:20]
    before = model(x).numpy()
    with float_kernels(layers):
        float_out = model(x).numpy()
    np.testing.assert_array_equal(model(x).numpy(), before)
    assert not np.array_equal(float_out, before)


def test_plain_ste_training_works_too(digits, float_model):
    model = _quantized(digits, float_model, "sp2")
    history = train(model, digits, TrainConfig(epochs=3, learning_rate=5e-4, progress=False))
    assert np.isfinite(history["loss"]).all()
    assert evaluate(model, digits.x_test, digits.y_test) > 0.85


def test_admm_without_row_quantizers_is_a_clear_error(digits, float_model):
    with pytest.raises(ValueError, match="no layer with an SP2/MSQ kernel quantizer"):
        train_admm(float_model, digits, ADMMConfig(epochs=1, progress=False))
