"""Resource estimates of LQ/binary bit-plane layers (``flow.resources.lq``)."""

from __future__ import annotations

import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from flow.boards import get_board
from flow.hls.lq_microarch import LQ_DENSE_DEPTH, LQ_SCAN_DEPTH
from flow.hls.microarch import ConvScan, bram18
from flow.quantizers import quantized_lq
from flow.resources.estimate import Costs, estimate, optimize, works_from_model
from flow.resources.lq import LQWork, estimate_lq_layer, lq_rows


def _model():
    inp = tf.keras.Input((8, 8, 1), name="x")
    h = QActivation(quantized_lq(2, per_channel=False, basis=[0.25, 0.5], offset=0.5), name="a0")(inp)
    h = QConv2D(4, 3, kernel_quantizer=quantized_lq(1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="c1")(h)
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q1")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = QDense(10, kernel_quantizer=quantized_lq(3), bias_quantizer=quantized_bits(8, 2, alpha=1), name="fc")(h)
    return tf.keras.Model(inp, h)


def test_works_from_an_lq_model():
    works = {w.name: w for w in works_from_model(_model(), reuse_factor=2, data_bits=6)}
    assert works["c1"] == LQWork("c1", 9, 4, kx=3, kw=1, levels=4, data_bits=6, pixels=36, reuse_factor=2,
                                 scan=ConvScan(8, 8, 1, 3, 3))
    # fed by a fixed-point activation: its 6 bits are the planes, plus the offset plane
    assert works["fc"] == LQWork("fc", 144, 10, kx=7, kw=3, levels=0, data_bits=6, pixels=1, reuse_factor=2)


def test_lq_layer_costs_no_dsp_and_scales_with_planes_and_reuse():
    costs = Costs()
    binary = estimate_lq_layer(LQWork("b", 256, 64, kx=2, kw=1, levels=2), costs)
    int3 = estimate_lq_layer(LQWork("q", 256, 64, kx=4, kw=3, levels=8), costs)
    shared = estimate_lq_layer(LQWork("q", 256, 64, kx=4, kw=3, levels=8, reuse_factor=8), costs)
    assert binary["dsp"] == int3["dsp"] == shared["dsp"] == 0
    assert binary["lut"] < int3["lut"]
    assert shared["lut"] < int3["lut"] / 2 and shared["cycles"] == 8 + LQ_DENSE_DEPTH and shared["bram36"] >= 1
    assert int3["bram36"] == 0 and int3["lut_lanes"] == 64 and shared["lut_lanes"] == 8
    assert int3["cycles"] == 1 + LQ_DENSE_DEPTH


def test_estimate_and_optimize_an_lq_model():
    works = works_from_model(_model())
    board = get_board("pynq-z2")
    result = estimate(works, board)
    assert result["total"]["dsp"] == 0 and result["total"]["lut"] > 0
    best = optimize(works, board)
    assert all(best["fits"].values())


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="layer 'x': sizes, planes and reuse factor must be positive"):
        LQWork("x", 16, 4, kx=0, kw=1)


def test_a_padded_conv_keeps_its_offset_plane():
    """Without padding the converter folds the offset plane into the bias; a 'same' conv keeps it."""
    costs = Costs()
    valid = estimate_lq_layer(LQWork("v", 64, 8, kx=3, kw=1, levels=4, pixels=16), costs)
    same = estimate_lq_layer(LQWork("s", 64, 8, kx=3, kw=1, levels=4, pixels=16, padded=True), costs)
    assert valid["lut"] < same["lut"]


def test_code_rom_is_costed_by_its_width_and_depth():
    """One word per cycle: lanes x row bits wide, RF deep, in RAMB18 tiles by the aspect ratios."""
    costs = Costs()
    work = LQWork("q", 256, 64, kx=4, kw=3, levels=8, reuse_factor=8)
    arch = lq_rows(work)
    est = estimate_lq_layer(work, costs)
    assert arch.rom_shape == (8 * 16 * 48, 8)  # 8 lanes, 16 segments of 16 inputs x 3 planes
    assert est["rom"] == [list(arch.rom_shape)] and est["bram18"] == bram18(*arch.rom_shape)
    deeper = estimate_lq_layer(LQWork("q", 256, 64, kx=4, kw=3, levels=8, reuse_factor=64), costs)
    assert deeper["bram18"] < est["bram18"]


def test_run_time_rows_cost_lut_multipliers_constant_rows_do_not():
    """Resource at RF 1 still reads its rows from ROM (a run-time mantissa: LUT multiplier); Latency
    at RF 1 has constant rows (constant multiples). No DSP either way."""
    costs = Costs()
    latency = estimate_lq_layer(LQWork("d", 64, 16, kx=3, kw=2, levels=4, strategy="latency"), costs)
    resource = estimate_lq_layer(LQWork("d", 64, 16, kx=3, kw=2, levels=4, strategy="resource"), costs)
    assert latency["dsp"] == resource["dsp"] == 0
    assert resource["lut"] > latency["lut"] and latency["rom"] == [] and resource["rom"]


def test_model_wide_reuse_factor_above_n_out_is_lowered_like_the_conversion():
    costs = Costs()
    est = estimate_lq_layer(LQWork("d", 64, 10, kx=3, kw=2, reuse_factor=1024), costs)
    assert est["reuse_factor"] == 10 and est["lut_lanes"] == 1 and est["cycles"] == 10 + LQ_DENSE_DEPTH


def test_conv_scans_its_padded_input_with_a_line_buffer_of_codes():
    costs = Costs()
    scan = ConvScan(32, 32, 16, 3, 3, 1, 1, 1, 1)
    work = LQWork("c", 144, 32, kx=3, kw=2, levels=4, pixels=32 * 32, reuse_factor=4, padded=True, scan=scan)
    est = estimate_lq_layer(work, costs)
    assert est["cycles"] == 34 * 34 * 4 + LQ_SCAN_DEPTH
    # two line-buffer rows of 32 words of 16 channels x 3 planes (48 bits): distributed RAM, 2 LUTs per bit
    assert scan.line_storage == 1 and est["bram18"] == bram18(*lq_rows(work).rom_shape)
    # the encoder is per channel (codes enter the line buffer), not per window input
    dense = estimate_lq_layer(LQWork("d", 144, 32, kx=3, kw=2, levels=4, reuse_factor=4, padded=True), costs)
    comparator = costs.block("adder", W=8)["lut"]
    assert est["lut"] == dense["lut"] - (144 - 16) * 3 * comparator + 2 * 2 * 48
