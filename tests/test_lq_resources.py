"""Resource estimates of LQ/binary bit-plane layers (``flow.resources.lq``)."""

from __future__ import annotations

import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits

from flow.boards import get_board
from flow.quantizers import quantized_lq
from flow.resources.estimate import Costs, estimate, optimize, works_from_model
from flow.resources.lq import LQWork, estimate_lq_layer


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
    assert works["c1"] == LQWork("c1", 9, 4, kx=3, kw=1, levels=4, data_bits=6, pixels=36, reuse_factor=2)
    # fed by a fixed-point activation: its 6 bits are the planes, plus the offset plane
    assert works["fc"] == LQWork("fc", 144, 10, kx=7, kw=3, levels=0, data_bits=6, pixels=1, reuse_factor=2)


def test_lq_layer_costs_no_dsp_and_scales_with_planes_and_reuse():
    costs = Costs()
    binary = estimate_lq_layer(LQWork("b", 256, 64, kx=2, kw=1, levels=2), costs)
    int3 = estimate_lq_layer(LQWork("q", 256, 64, kx=4, kw=3, levels=8), costs)
    shared = estimate_lq_layer(LQWork("q", 256, 64, kx=4, kw=3, levels=8, reuse_factor=8), costs)
    assert binary["dsp"] == int3["dsp"] == shared["dsp"] == 0
    assert binary["lut"] < int3["lut"]
    assert shared["lut"] < int3["lut"] / 2 and shared["cycles"] == 8 and shared["bram36"] >= 1
    assert int3["bram36"] == 0 and int3["lut_lanes"] == 64 and shared["lut_lanes"] == 8


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
