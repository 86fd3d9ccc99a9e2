"""RTL route, Add (``Merge`` op ``add``): a fork, two branches of stages and their join with hls4ml's add (the exact
sum cast into the Merge's result type), simulated by Verilator, equal C-simulation and Keras bit for bit: a residual
MLP (an empty skip branch, then two non-empty branches, in series, folded lanes) and the zoo's ResNet-8 on the
digits test split; nested skips are refused naming the layer. Real-scale row multipliers (``<layer>_scale``, hls4ml's
``ApplyAlpha`` after the accumulator): the PTQ MLP and VGG of tests/test_real_scale.py, RTL == C-sim == Keras.
One Verilator build per design; the ResNet-8 and VGG cases are ``slow`` (about 2 and 3 minutes on 2 cores)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.quantizers import quantized_msq

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="verilator not installed (apt-get install verilator; .ci/run installs it)")
pytestmark = [pytest.mark.verilator, needs_verilator]


def _q(bits: int = 4, share: float = 0.5) -> dict:
    return dict(kernel_quantizer=quantized_msq(bits, share), bias_quantizer=quantized_bits(8, 3, alpha=1))


def residual_mlp(seed: int = 1):
    """q_in -> d1 -> a1 -> add1(a1, a2(d2(a1))) -> add2(a3(d3(.)), a4(d4(.))) -> fc."""
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((12,))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    a = QActivation(quantized_relu(6, 2), name="a1")(QDense(16, name="d1", **_q())(x))
    b = QActivation(quantized_relu(6, 2), name="a2")(QDense(16, name="d2", **_q())(a))
    x = tf.keras.layers.Add(name="add1")([a, b])
    c = QActivation(quantized_relu(5, 2), name="a3")(QDense(8, name="d3", **_q())(x))
    d = QActivation(quantized_bits(6, 2, alpha=1), name="a4")(QDense(8, name="d4", **_q(3, 0.25))(x))
    x = tf.keras.layers.Add(name="add2")([c, d])
    model = tf.keras.Model(inp, QDense(5, name="fc", **_q())(x))
    freeze_msq_rows(model)
    return model


def _resnet8():
    from flow.models import QuantSpec, resnet8

    tf.keras.utils.set_random_seed(3)
    model = resnet8((8, 8, 1), 10, width=4, spec=QuantSpec("msq", 4, 0.5))
    freeze_msq_rows(model)
    return model


@pytest.fixture(scope="module")
def mlp_design(tmp_path_factory):
    from flow.rtl import RTLModel, emit

    model = residual_mlp()
    root = tmp_path_factory.mktemp("resmlp")
    hm = convert(model, root / "hls", ConvertConfig(strategy="Resource", reuse_factor=5))
    design = emit(hm, root / "rtl")
    return model, hm, design, RTLModel(design)


def test_residual_mlp_rtl_equals_csim_and_keras(mlp_design, rng):
    from flow.rtl.netlist import AddBlock
    from flow.rtl.sim import lint

    model, hm, design, rtl = mlp_design
    assert lint(design.verilog) == []
    blocks = [st for st in design.netlist.stages if isinstance(st, AddBlock)]
    # a4 (a quantized_bits activation) is hls4ml's 'd4_linear'
    assert [(b.name, [s.name for s in b.branch_a], [s.name for s in b.branch_b]) for b in blocks] == [
        ("add1", [], ["d2", "a2"]), ("add2", ["d3", "a3"], ["d4", "d4_linear"])]
    x = (rng.integers(-128, 128, (300, 12)) / 32).astype(np.float32)
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y_keras.shape)
    y_rtl = rtl.predict(x)
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, y_rtl), f"{np.sum(y_csim != y_rtl)} of {y_rtl.size} RTL outputs differ"
    assert len(np.unique(y_rtl, axis=0)) > 200


@pytest.mark.parametrize("stalls, seed", [((50, 0), 1), ((0, 60), 2), ((60, 60), 3)])
def test_residual_stalls_lose_nothing(mlp_design, stalls, seed, rng):
    """The fork lets each branch take a sample on its own handshake; stalls must not unpair the join."""
    _, hm, _, rtl = mlp_design
    x = (np.random.default_rng(seed).integers(-128, 128, (50, 12)) / 32).astype(np.float32)
    assert np.array_equal(rtl.predict(x, stalls=stalls, seed=seed), hm.predict(x).reshape(len(x), -1))


@pytest.mark.slow
def test_resnet8_digits_rtl_equals_csim_and_keras(tmp_path, digits):
    """The zoo's ResNet-8 (an identity skip, then two 1x1 stride-2 shortcuts) on the digits test split."""
    from flow.rtl import RTLModel, emit
    from flow.rtl.sim import lint

    model = _resnet8()
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy="Resource", reuse_factor=4))
    design = emit(hm, tmp_path / "rtl")
    assert lint(design.verilog) == []
    x = digits.x_test.reshape(-1, 8, 8, 1)
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(np.ascontiguousarray(x)).reshape(y_keras.shape)
    y_rtl = RTLModel(design).predict(x.reshape(len(x), -1))
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, y_rtl), f"{np.sum(y_csim != y_rtl)} of {y_rtl.size} RTL outputs differ"


def test_nested_skip_is_refused_naming_the_layer(tmp_path):
    from flow.rtl import emit

    tf.keras.utils.set_random_seed(4)
    inp = tf.keras.Input((12,))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    a = QActivation(quantized_relu(6, 2), name="a1")(QDense(8, name="d1", **_q())(x))
    b = QActivation(quantized_relu(6, 2), name="a2")(QDense(8, name="d2", **_q())(a))
    inner = tf.keras.layers.Add(name="inner")([a, b])
    c = QActivation(quantized_relu(6, 2), name="a3")(QDense(8, name="d3", **_q())(inner))
    outer = tf.keras.layers.Add(name="outer")([a, c])  # around the inner skip
    model = tf.keras.Model(inp, QDense(3, name="fc", **_q())(outer))
    freeze_msq_rows(model)
    hm = convert(model, tmp_path / "hls", compile=False)
    with pytest.raises(ValueError, match=r"layer 'outer' \(Merge 'add'\): its branches fork before the merge 'inner'"):
        emit(hm, tmp_path / "rtl")


# --- real-scale row multipliers (``<layer>_scale``, flow/hls/row_scale.py) -------------------------------------------


def _real_scale_backbone(digits, kind: str):
    from flow.bitwidth import default_cut
    from flow.head import split
    from flow.models import QuantSpec, mlp, vgg
    from flow.ptq import quantize

    tf.keras.utils.set_random_seed(11)
    model = mlp(64, 10, (24, 12), QuantSpec("float")) if kind == "mlp" else vgg((8, 8, 1), 10, width=0.0625,
                                                                              spec=QuantSpec("float"))
    data = digits if kind == "mlp" else digits.with_shape((8, 8, 1))
    q = quantize(model, data.x_train[:256], bits=4, granularity="layer" if kind == "mlp" else "channel",
                 cut=default_cut(model), scale="real")
    return split(q, default_cut(q))[0], data


@pytest.mark.parametrize("kind, strategy, rf", [("mlp", "Resource", 4),
                                                pytest.param("vgg", "Latency", 1, marks=pytest.mark.slow)])
def test_real_scale_rtl_equals_csim_and_keras(digits, kind, strategy, rf, tmp_path):
    """The PTQ real-scale backbones of tests/test_real_scale.py: every quantized kernel is followed by its
    ``<layer>_scale`` row multipliers (per filter in the VGG: value i takes scale i % n_filt)."""
    from flow.rtl import RTLModel, emit
    from flow.rtl.netlist import ScaleStage
    from flow.rtl.sim import lint

    backbone, data = _real_scale_backbone(digits, kind)
    hm = convert(backbone, tmp_path / "hls", ConvertConfig(strategy=strategy, reuse_factor=rf))
    design = emit(hm, tmp_path / "rtl")
    assert lint(design.verilog) == []
    scales = [st for st in design.netlist.stages if isinstance(st, ScaleStage)]
    kernels = [l.name for l in backbone.layers if getattr(l, "kernel_quantizer_internal", None) is not None]
    assert [st.name for st in scales] == [f"{k}_scale" for k in kernels]
    x = np.ascontiguousarray(data.x_test.astype(np.float64))
    y_keras = backbone.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y_keras.shape)
    y_rtl = RTLModel(design).predict(x.reshape(len(x), -1)).reshape(y_keras.shape)
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, y_rtl), f"{np.sum(y_csim != y_rtl)} of {y_rtl.size} RTL outputs differ"
