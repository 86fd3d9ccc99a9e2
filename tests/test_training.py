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


def test_rho_growth_keeps_the_unscaled_dual():
    """Boyd et al. 3.4.1: U is rho-scaled, so rho -> g * rho must take U -> U / g (rho * U unchanged)."""
    from flow.train.admm import _grow_rho

    u = [np.full((3, 2), 0.5, np.float32), np.ones(4, np.float32)]
    before = [2e-2 * ul for ul in u]
    rho = _grow_rho(2e-2, ADMMConfig(rho=2e-2, rho_growth=1.4), u)
    assert rho == pytest.approx(2e-2 * 1.4)
    for b, ul in zip(before, u):
        np.testing.assert_allclose(rho * ul, b, rtol=1e-6)
    old = [ul.copy() for ul in u]
    _grow_rho(rho, ADMMConfig(rescale_dual=False), u)
    for o, ul in zip(old, u):
        np.testing.assert_array_equal(o, ul)  # the old behaviour: U kept, so rho * U grows by rho_growth


def _quantized_loss(model, data) -> float:
    """Cross-entropy on the training split with the hard-quantized weights (the feasible point)."""
    import tensorflow as tf

    logits = model(data.x_train, training=False)
    return float(tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(data.y_train, logits))


def test_dual_fix_ends_closer_to_a_feasible_z(digits, float_model):
    """Same start, same settings: with the rescaled dual the effective dual rho * ||U|| stays smaller
    instead of growing with rho, and W ends closer to its level sets (margins of about 1.6x and 2x
    in every run measured). The hard-quantized training loss was lower in 5 of 6 runs, but TensorFlow's
    threaded training is not reproducible here and the gap is within run-to-run noise: printed, not asserted."""
    cfg = ADMMConfig(epochs=12, epochs_per_update=2, rho=0.05, rho_growth=1.6, finetune_epochs=0, progress=False)
    logs, losses = {}, {}
    for fixed in (True, False):
        model = _quantized(digits, float_model, "msq")
        logs[fixed] = train_admm(model, digits, dataclasses.replace(cfg, rescale_dual=fixed))
        losses[fixed] = _quantized_loss(model, digits)
    new, old = logs[True], logs[False]
    print("ADMM dual fix:", {k: (new[k][-1], old[k][-1]) for k in ("primal_residual", "dual_norm")}, losses)
    assert new["primal_residual"][-1] < new["primal_residual"][0], new["primal_residual"]
    assert new["primal_residual"][-1] < old["primal_residual"][-1], (new["primal_residual"], old["primal_residual"])
    assert new["dual_norm"][-1] < old["dual_norm"][-1], (new["dual_norm"], old["dual_norm"])
