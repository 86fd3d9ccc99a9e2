"""Built-in data sets: offline, on their input grids."""

from __future__ import annotations

import numpy as np
import pytest

from flow.data import load_digits, load_mnist1d, to_grid


def _on_grid(x, frac_bits, integer):
    scaled = x.astype(np.float64) * 2.0**frac_bits
    return np.array_equal(scaled, np.round(scaled)) and x.min() >= -(2.0**integer) and x.max() < 2.0**integer


def test_digits_split_and_grid():
    d = load_digits()
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    assert _on_grid(d.x_train, d.frac_bits, d.integer) and d.x_train.max() == 1.0
    assert d.input_quantizer_args() == (6, 1)
    assert set(np.unique(d.y_test)) == set(range(10))


def test_mnist1d_is_generated_locally_and_reproducible():
    state = np.random.get_state()
    a, b = load_mnist1d(), load_mnist1d()
    assert a.x_train.shape == (4000, 40) and a.x_test.shape == (1000, 40)
    assert np.array_equal(a.x_test, b.x_test)
    assert _on_grid(a.x_train, a.frac_bits, a.integer)
    assert np.array_equal(np.random.get_state()[1], state[1]), "global numpy RNG must be left as it was"


def test_to_grid_rounds_half_to_even_and_saturates():
    np.testing.assert_array_equal(to_grid(np.array([0.03125, 0.09375, 9.0, -9.0]), 4, 3), [0.0, 0.125, 7.9375, -8.0])


def test_image_sets_load_from_a_user_npz(tmp_path):
    from flow.data import load

    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (20, 28, 28)), y_train=np.arange(20) % 10,
             x_test=rng.integers(0, 256, (5, 28, 28)), y_test=np.arange(5))
    d = load("mnist", path)
    assert d.x_train.shape == (20, 784) and d.with_shape((28, 28, 1)).x_test.shape == (5, 28, 28, 1)
    assert _on_grid(d.x_train, d.frac_bits, d.integer) and d.input_quantizer_args() == (9, 0)


def test_missing_image_files_say_where_to_put_them(tmp_path, monkeypatch):
    from flow.data import load

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py not found and nothing is downloaded"):
        load("cifar10")
    with pytest.raises(FileNotFoundError, match="missing.npz does not exist"):
        load("mnist", tmp_path / "missing.npz")
