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


@pytest.fixture(scope="session")
def overlay_builds(tmp_path_factory, digits):
    """Two builds stopped where Vitis HLS is missing: the demo MLP, and a small MSQ CNN with a float head."""
    import tensorflow as tf

    from flow import golden
    from flow.build import BuildConfig, build
    from flow.models import QuantSpec, vgg

    root = tmp_path_factory.mktemp("builds")
    tf.keras.utils.set_random_seed(7)
    bits, integer = digits.input_quantizer_args()
    spec = QuantSpec("msq", 4, 0.5, in_bits=bits, in_integer=integer)
    cnn = vgg((8, 8, 1), 10, width=0.0625, spec=spec)
    head_layer = tf.keras.layers.Dense(10, name="head")
    float_head = tf.keras.Model(cnn.input, head_layer(cnn.get_layer("flatten").output), name="vgg_float_head")
    from flow.build.fit_gate import optimize_config
    from flow.convert import freeze_msq_rows

    freeze_msq_rows(float_head)
    cnn_path = root / "cnn.h5"
    float_head.save(cnn_path)
    builds = {}
    for name, model in (("mlp", golden.GOLDEN_DIR / "digits_msq4.h5"), ("cnn", cnn_path)):
        # the MLP names the data grid by hand (same grid as its input quantizer); the CNN's type is derived
        precision = digits.input_precision() if name == "mlp" else None
        cfg = BuildConfig(model=str(model), board="pynq-z2", out=str(root / name), input_precision=precision)
        cfg = optimize_config(cfg, echo=lambda *_: None)  # the fastest design estimated to fit pynq-z2
        builds[name] = (cfg, build(cfg, echo=lambda *_: None))
    return builds
