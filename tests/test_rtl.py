"""RTL route: emitted Verilog simulated by Verilator equals C-simulation and Keras bit for bit, through the
AXI4-Stream wrapper (random stalls included); lint clean; yosys maps every fixed lane to one DSP48E1."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from flow.convert import ConvertConfig, convert
from tests.conftest import grid_inputs
from tests.test_csim_dense import SHAPES, build

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="verilator not installed (apt-get install verilator; .ci/run installs it)")
pytestmark = [pytest.mark.verilator, needs_verilator]

# (shape, bits, share, strategy, reuse factor): bits 3-8, shares 0 / 0.5 / 1, fully parallel (constant weights),
# split lanes with RFs that divide no layer (idle padded lanes), folded lanes (several rows per lane)
BATTERY = [
    (SHAPES[0], 3, 0.0, "Latency", 1),
    (SHAPES[0], 8, 1.0, "Latency", 1),
    (SHAPES[1], 4, 0.5, "Latency", 1),
    (SHAPES[1], 6, 0.5, "Resource", 7),
    (SHAPES[2], 4, 0.5, "Resource", 2),
    (SHAPES[2], 8, 0.0, "Resource", 7),
    (SHAPES[0], 3, 1.0, "Resource", 5),
    (SHAPES[1], 4, 0.5, "Resource", 48),
    (SHAPES[0], 6, 0.5, "Resource", 1000),
]


def rtl_of(hm, directory):
    from flow.rtl import RTLModel, emit

    design = emit(hm, directory)
    return design, RTLModel(design)


@pytest.mark.parametrize("shape, bits, share, strategy, rf", BATTERY,
                         ids=[f"b{b}-s{s}-{st}{rf}-shape{SHAPES.index(sh)}" for sh, b, s, st, rf in BATTERY])
def test_rtl_battery_bit_exact(shape, bits, share, strategy, rf, tmp_path, rng):
    from flow.rtl.sim import lint

    model = build(shape, bits, share, seed=bits * 100 + int(share * 10) + rf)
    x = grid_inputs(rng, 120, shape[0], frac_bits=5, lo=-4, hi=4)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy=strategy, reuse_factor=rf))
    design, rtl = rtl_of(hm, tmp_path / "rtl")
    assert lint(design.verilog) == []
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y_keras.shape)
    y_rtl = rtl.predict(x)
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, y_rtl), f"{np.sum(y_csim != y_rtl)} of {y_rtl.size} RTL outputs differ"


@pytest.fixture(scope="module")
def stall_design(tmp_path_factory):
    model = build(SHAPES[1], 4, 0.5, seed=11)
    root = tmp_path_factory.mktemp("stalls")
    hm = convert(model, root / "hls", ConvertConfig(strategy="Resource", reuse_factor=3))
    design, rtl = rtl_of(hm, root / "rtl")
    return hm, rtl


@pytest.mark.parametrize("stalls, seed", [((0, 0), 1), ((50, 0), 2), ((0, 60), 3), ((40, 40), 4), ((90, 90), 5)])
def test_axi_stalls_lose_nothing(stall_design, stalls, seed):
    hm, rtl = stall_design
    x = grid_inputs(np.random.default_rng(seed), 40, SHAPES[1][0], frac_bits=5, lo=-4, hi=4)
    y_csim = hm.predict(x).reshape(len(x), -1)
    y_rtl = rtl.predict(x, stalls=stalls, seed=seed)  # TLAST on the last beat only, no beat after it
    assert np.array_equal(y_csim, y_rtl)
    assert len(np.unique(y_csim, axis=0)) > 30  # distinct samples: a lost, repeated or swapped one would show


def test_axi_stalls_cost_cycles(stall_design):
    _, rtl = stall_design
    x = grid_inputs(np.random.default_rng(0), 20, SHAPES[1][0], frac_bits=5, lo=-4, hi=4)
    rtl.predict(x)
    free = rtl.cycles
    rtl.predict(x, stalls=(50, 50), seed=9)
    assert rtl.cycles > free > 0
    rtl.predict(x[:1])  # a batch of one sample: TLAST on its last beat
    assert 0 < rtl.cycles < free


def test_digits_golden_mlp_rtl_equals_csim(tmp_path):
    """The demo's MSQ MLP on the whole digits test split: RTL == stored C-simulation outputs (== Keras)."""
    import flow
    from flow import golden

    data = np.load(golden.GOLDEN_DIR / "golden.npz")
    model = flow.load_model(golden.GOLDEN_DIR / "digits_msq4.h5")
    for strategy, rf in golden.SCHEDULES:
        hm = convert(model, tmp_path / f"hls{rf}", ConvertConfig(strategy=strategy, reuse_factor=rf), compile=False)
        _, rtl = rtl_of(hm, tmp_path / f"rtl{rf}")
        y = rtl.predict(data["x"], stalls=(10, 10))
        assert np.array_equal(y, data[golden.key("digits_msq4", strategy, rf)].reshape(y.shape)), strategy


def test_rtl_library_serves_the_driver_abi(stall_design):
    """libmsq_rtl_sim.so reports the stream format of the C-simulation bridge (msq_overlay.simlib)."""
    from msq_overlay.simlib import library_format

    _, rtl = stall_design
    fmt = library_format(rtl.lib)
    d = rtl.design
    assert fmt["n_in"] == d.in_format.count and fmt["in_beats"] == d.in_format.beats_per_sample
    assert fmt["out_lane"] == d.out_format.lane_bits and fmt["out_beats"] == d.out_format.beats_per_sample


@pytest.mark.yosys
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (apt-get install yosys)")
@pytest.mark.parametrize("packing", [None, False])
def test_yosys_dsp_count_is_the_microarchitecture(packing, tmp_path):
    """One DSP48E1 per fixed lane, or per packed pair of lanes (RowKernel.fix_dsps); SP2 lanes use none."""
    from flow.rtl.synth import MEASURED, synthesize

    model = build(SHAPES[1], 4, 0.5, seed=11)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy="Resource", reuse_factor=3, dsp_packing=packing),
                 compile=False)
    design, _ = rtl_of(hm, tmp_path / "rtl")
    measured = synthesize(design)
    kernels = {st.name: st.kernel for st in design.netlist.stages if hasattr(st, "kernel")}
    assert all((k.pack is None) == (packing is False) for k in kernels.values())
    for name, k in kernels.items():
        counts = measured["stages"][name]
        assert counts["dsp"] == k.fix_dsps, name
        assert counts["lut"] > 0 and counts["ff"] > 0
    assert measured["total"]["dsp"] == sum(k.fix_dsps for k in kernels.values())
    assert measured["source"] == MEASURED


@pytest.mark.parametrize("strategy, rf, packing", [("Latency", 1, None), ("Resource", 4, None), ("Resource", 48, None),
                                                   ("Resource", 4, False)])
def test_extreme_inputs_and_dsp_packing(strategy, rf, packing, tmp_path):
    """Inputs at the ends of the input type (saturating the input quantizer) through packed and unpacked DSP lanes."""
    model = build(SHAPES[1], 8, 0.25, seed=21)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy=strategy, reuse_factor=rf, dsp_packing=packing))
    _, rtl = rtl_of(hm, tmp_path / "rtl")
    n_in = SHAPES[1][0]
    rng = np.random.default_rng(rf)
    x = np.where(rng.random((64, n_in)) < 0.5, -100.0, 100.0).astype(np.float32)  # min / max codes
    x[:8] = 100.0
    x[8:16] = -100.0
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y_keras.shape)
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, rtl.predict(x))


def test_unsupported_layer_is_named(tmp_path):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    from flow.convert import freeze_msq_rows
    from flow.quantizers import quantized_msq
    from flow.rtl import emit

    tf.keras.utils.set_random_seed(3)
    def q():
        return dict(kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1))

    inp = tf.keras.Input((12,))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    a = QActivation(quantized_relu(6, 2), name="a1")(QDense(8, name="d1", **q())(x))
    b = QActivation(quantized_relu(6, 2), name="a2")(QDense(8, name="d2", **q())(x))
    y = tf.keras.layers.Concatenate(name="cat")([a, b])  # Add has RTL (tests/test_rtl_add.py), Concatenate not
    model = tf.keras.Model(inp, QDense(3, name="fc", **q())(y))
    freeze_msq_rows(model)
    hm = convert(model, tmp_path / "hls", compile=False)
    with pytest.raises(ValueError, match=r"layer 'cat' \(Concatenate\) has no RTL implementation yet"):
        emit(hm, tmp_path / "rtl")


def test_io_stream_and_missing_verilator_are_clear_errors(tmp_path, monkeypatch):
    from flow.rtl import emit
    from flow.rtl import sim

    model = build(SHAPES[0], 4, 0.5, seed=1)
    hm = convert(model, tmp_path / "hls", ConvertConfig(io_type="io_stream"), compile=False)
    with pytest.raises(ValueError, match="io_parallel"):
        emit(hm, tmp_path / "rtl")
    monkeypatch.setattr(sim.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install verilator"):
        sim.require_verilator()


def test_rtl_cli_refuses_to_overwrite(tmp_path, capsys):
    from flow.cli import main

    out = tmp_path / "rtl_out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    assert main(["rtl", "tests/golden/digits_msq4.h5", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "user data"


RTL_DRIVER_CHECK = """
import json, sys
from pathlib import Path
import numpy as np
from msq_overlay.driver import MSQOverlay
from msq_overlay.sim import SimDevice
overlay, library = Path(sys.argv[1]), sys.argv[2]
dev = SimDevice(overlay, library=library)  # the DMA transfers run the Verilator model of the RTL top
ol = MSQOverlay(dev.placeholder_bitfile(), device=dev)
with np.load(overlay / "csim_reference.npz") as ref:
    x, y = ref["x"], ref["y_backbone"]
equal = bool(np.array_equal(ol.predict(x, raw=True), y))
print(json.dumps({"equal": equal, "samples": int(len(x))}))
"""


@pytest.mark.csim
def test_board_driver_runs_on_the_rtl(overlay_builds, tmp_path):
    """MSQOverlay.predict through pynq's DMA driver and SimDevice, served by the Verilator library of the RTL
    top built from the same model and settings as the HLS overlay: the overlay's C-simulation reference."""
    import json
    import subprocess

    import flow
    from tests.test_board_sim import BOARD_PYTHON

    if not BOARD_PYTHON.exists():
        pytest.skip(f"board environment {BOARD_PYTHON} missing; `make board-env` creates it")
    cfg, _ = overlay_builds["mlp"]
    model = flow.load_model(cfg.model)
    conv = ConvertConfig(strategy=cfg.strategy, reuse_factor=cfg.reuse_factor, input_precision=cfg.input_precision)
    hm = convert(model, tmp_path / "hls", conv, compile=False)
    _, rtl = rtl_of(hm, tmp_path / "rtl")
    script = tmp_path / "check.py"
    script.write_text(RTL_DRIVER_CHECK)
    proc = subprocess.run([str(BOARD_PYTHON), str(script), str(Path(cfg.out) / "overlay"),
                           str(rtl.design.directory / "libmsq_rtl_sim.so")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"equal": True, "samples": result["samples"]} and result["samples"] > 0
