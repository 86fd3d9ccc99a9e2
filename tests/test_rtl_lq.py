"""RTL route, LQ / binary layers: LQ MLPs on the digits test split (LQ activations and LQ/binary Dense through
XNOR-popcount, ``flow.rtl.lq``) simulated by Verilator equal C-simulation and Keras bit for bit, fully parallel
(constant weights) and folded lanes with RFs that divide no layer (ROMs, idle padded rows); the Verilog is lint
clean; LQ convolutions are still refused naming the layer.

One Verilator build per design (module-scoped fixtures)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from flow.convert import ConvertConfig, convert
from tests.test_csim_lq import INPUT, Chain, _kernel

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="verilator not installed (apt-get install verilator; .ci/run installs it)")
pytestmark = [pytest.mark.verilator, needs_verilator]


def lq_mlp(x, kx: int, kw: int, hidden: int = 20):
    """64 -> LQ activation (kx bits) -> LQ Dense (kw planes) -> LQ activation -> LQ Dense(10)."""
    chain = Chain((64,), x).lq(kx, "a0").add(QDense(hidden, name="d1", **_kernel(kw, 1)))
    chain.lq(kx, "a1").add(QDense(10, name="d2", **_kernel(kw, 2)))
    return chain.model()


def binary_on_fixed(kw2: int = 2):
    """Binary weights on a fixed-point input's own bits: q_in (6 bits) -> binary Dense(16) -> ReLU(4 bits) ->
    LQ Dense(10)."""
    inp = tf.keras.Input((64,), name="x")
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q_in")(inp)
    h = QDense(16, name="d1", **_kernel(1, 3))(h)
    h = QActivation(quantized_relu(4, 2), name="relu")(h)
    h = QDense(10, name="d2", **_kernel(kw2, 4))(h)
    return tf.keras.Model(inp, h)


def _convert(model, directory, compile: bool = True, **cfg):
    """As ``tests/test_csim_lq.py``: a model that starts with a quantizer gets its input type from it."""
    from flow.hls.input_rule import InputRule, model_input_rule

    derived = isinstance(model_input_rule(model, model.input_names[0]), InputRule)
    return convert(model, directory, ConvertConfig(input_precision=None if derived else INPUT, **cfg), compile=compile)


# id: (model, strategy, reuse factor); RF 3 divides neither 20 nor 10 rows, RF 7 neither 16 nor 10
DESIGNS = {
    "K2-Resource3": ("lq2", "Resource", 3),
    "binary-Latency1": ("lq1", "Latency", 1),
    "binary-on-fixed-Latency7": ("fixed", "Latency", 7),
}


@pytest.fixture(scope="module", params=list(DESIGNS))
def lq_design(request, tmp_path_factory, digits):
    from flow.rtl import RTLModel, emit

    kind, strategy, rf = DESIGNS[request.param]
    x = digits.x_test
    model = {"lq2": lambda: lq_mlp(x, 2, 2), "lq1": lambda: lq_mlp(x, 1, 1), "fixed": binary_on_fixed}[kind]()
    root = tmp_path_factory.mktemp(request.param)
    hm = _convert(model, root / "hls", strategy=strategy, reuse_factor=rf)
    design = emit(hm, root / "rtl")
    return request.param, model, hm, design, RTLModel(design)


def test_lq_mlp_digits_rtl_equals_csim_and_keras(lq_design, digits):
    name, model, hm, design, rtl = lq_design
    x = digits.x_test
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(np.ascontiguousarray(x)).reshape(y_keras.shape)
    y_rtl = rtl.predict(x)
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, y_rtl), f"{np.sum(y_csim != y_rtl)} of {y_rtl.size} RTL outputs differ"
    assert len(np.unique(y_rtl, axis=0)) > 50  # the outputs really depend on the sample (binary: 77 distinct)


def test_lq_design_lint_and_structure(lq_design):
    from flow.rtl.sim import lint

    name, _, hm, design, _ = lq_design
    assert lint(design.verilog) == []
    _, strategy, rf = DESIGNS[name]
    stages = {s["name"]: s for s in json.loads((design.directory / "rtl.json").read_text())["stages"]}
    text = design.verilog.read_text()
    for layer in ("d1", "d2"):
        st, rows = stages[layer], hm.graph[layer].microarch()  # the HLS kernel's lanes / RF / ROM layout
        assert st["kind"] == "LQDenseStage" and st["reuse_factor"] == rows.reuse_factor == rf
        assert st["lanes"] == rows.lanes == -(-st["n_out"] // rf)
        assert f"module msq_lq_dense_{layer} (" in text
    assert ('(* rom_style = "block" *)' in text) == (strategy == "Resource")  # the code ROM: BRAM as in the kernel
    assert ("wc_rom" in text) == (rf > 1)  # RF 1: every row word a constant in the logic
    planes = hm.graph["d1"].get_attr("lq_input")
    if name == "binary-on-fixed-Latency7":  # the planes are q_in's own two's-complement bits
        assert not planes.is_lq and stages["d1"]["kx"] == 6 and stages["d1"]["kw"] == 1
    else:  # the encoder compares with the midpoints of a0's levels
        assert planes.is_lq and stages["a0"]["kind"] == "LQActStage" and "module msq_lq_act_a1 (" in text


@pytest.mark.parametrize("lq_design", ["K2-Resource3"], indirect=True)
def test_lq_stalls_lose_nothing(lq_design, digits):
    """Random TVALID/TREADY stalls through the folded LQ lanes: nothing lost, repeated or swapped."""
    _, _, hm, _, rtl = lq_design
    x = digits.x_test[:60]
    y_csim = hm.predict(np.ascontiguousarray(x)).reshape(len(x), -1)
    assert np.array_equal(rtl.predict(x, stalls=(40, 40), seed=3), y_csim)


def test_lq_conv_is_refused_naming_the_layer(tmp_path, rng):
    from flow.rtl.netlist import netlist_from_model

    x = (np.round(rng.uniform(-2, 2, (20, 6, 6, 2)) * 16) / 16).astype(np.float32)
    chain = Chain((6, 6, 2), x).lq(2, "a0").add(QConv2D(3, 3, name="c1", **_kernel(2, 5)))
    chain.add(tf.keras.layers.Flatten(name="flat")).add(QDense(3, name="fc", **_kernel(1, 6)))
    hm = _convert(chain.model(), tmp_path / "hls", compile=False)
    with pytest.raises(ValueError, match=r"layer 'c1' \(LQConv2D\): LQ/binary convolutions have no RTL"):
        netlist_from_model(hm)
