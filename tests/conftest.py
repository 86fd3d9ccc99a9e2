"""Shared fixtures: quiet TensorFlow, the MSQ backend, project directories, seeded data."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def msq_backend():
    from flow.hls import register

    return register()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def project_dir(tmp_path_factory, request):
    """A fresh, empty directory per test for a generated HLS project."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:80]
    return tmp_path_factory.mktemp(name) / "prj"


def grid_inputs(rng, n: int, dim: int, frac_bits: int = 5, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    """Inputs on the fixed-point grid 2**-frac_bits within [lo, hi)."""
    step = 2.0**-frac_bits
    k = rng.integers(int(lo / step), int(hi / step), size=(n, dim))
    return (k * step).astype(np.float32)


@pytest.fixture(scope="session")
def digits():
    """The digits data set (flat, 64 features on the grid 1/16)."""
    from flow.data import load_digits

    return load_digits()
