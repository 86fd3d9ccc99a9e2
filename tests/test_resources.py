"""Resource/throughput model: consistency, the ResNet-18 comparison, yosys calibration, errors."""

from __future__ import annotations

import json
import shutil

import pytest

from flow.boards import BOARDS, get_board
from flow.resources import calibrate
from flow.resources.estimate import (
    LayerWork,
    best_share,
    estimate,
    optimize,
    pe_array,
    resnet18_workload,
    throughput_at_share,
    works_from_model,
)

BOARD = get_board("pynq-z2")


def _layer(**kw):
    return LayerWork(**{"name": "l", "n_in": 64, "n_out": 32, "n_sp2": 16, "pixels": 1, "reuse_factor": 4, **kw})


def test_more_dsp_rows_use_more_dsp():
    few, many = estimate([_layer(n_sp2=24)], BOARD), estimate([_layer(n_sp2=8)], BOARD)
    assert many["total"]["dsp"] > few["total"]["dsp"] and many["total"]["lut"] < few["total"]["lut"]


def test_larger_reuse_factor_means_fewer_multipliers_and_more_cycles():
    small, large = estimate([_layer(reuse_factor=2)], BOARD), estimate([_layer(reuse_factor=8)], BOARD)
    assert large["total"]["dsp"] < small["total"]["dsp"] and large["total"]["cycles"] > small["total"]["cycles"]


def test_sp2_only_layer_uses_no_dsp():
    assert estimate([_layer(n_sp2=32)], BOARD)["total"]["dsp"] == 0


def test_total_is_the_sum_of_layers():
    works = [_layer(name="a"), _layer(name="b", n_in=27, n_out=16, n_sp2=10, pixels=64, reuse_factor=3)]
    result = estimate(works, BOARD)
    for key in ("dsp", "lut", "ff", "bram36", "cycles", "macs"):
        assert result["total"][key] == sum(layer[key] for layer in result["layers"])


def test_msq_beats_fixed_only_and_balanced_share_is_best():
    works = resnet18_workload(4)
    for name in ("pynq-z2", "zc706"):
        board = get_board(name)
        array = pe_array(board)
        assert array["gain"] > 1.5 and array["lut_lanes"] > array["dsp_lanes"]
        share, gops = best_share(works, array, board.clock_mhz)
        assert abs(share - array["sp2_share"]) <= 0.05
        assert gops > throughput_at_share(works, array, 0.0, board.clock_mhz)


def test_estimate_from_a_saved_model():
    import flow
    from flow import golden

    model = flow.load_model(golden.GOLDEN_DIR / "digits_msq4.h5")
    works = works_from_model(model, reuse_factor=64)
    assert [w.name for w in works] == ["fc1", "fc2", "logits"]
    q = model.get_layer("fc1").kernel_quantizer_internal
    assert works[0].n_sp2 == q.n_sp2 and works[0].n_in == 64
    assert estimate(works, BOARD)["fits"]["dsp"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="known boards: pynq-z1, pynq-z2, zc706"):
        get_board("zcu999")
    with pytest.raises(ValueError, match="n_sp2 must be in"):
        _layer(n_sp2=40)
    assert estimate([_layer(n_in=4096, n_out=1024, n_sp2=0, reuse_factor=1)], BOARD)["fits"]["dsp"] is False
    assert set(BOARDS) == {"pynq-z1", "pynq-z2", "zc706"}


def test_missing_yosys_says_how_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="apt-get install yosys"):
        calibrate.require_yosys()


@pytest.mark.yosys
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (apt-get install yosys)")
def test_calibration_regenerates_to_the_stored_file():
    stored = json.loads(calibrate.CALIBRATION.read_text())
    fresh = calibrate.calibrate(output=None)
    if fresh["yosys"] != stored["yosys"]:
        pytest.skip(f"stored calibration is from {stored['yosys']}, this machine has {fresh['yosys']}")
    assert fresh["blocks"] == stored["blocks"]
    dsp = [b for b in fresh["blocks"] if b["block"] == "fixed_mul_dsp"]
    sp2 = [b for b in fresh["blocks"] if b["block"] == "sp2_runtime"]
    assert all(b["dsp"] == 1 and b["lut"] == 0 for b in dsp) and all(b["dsp"] == 0 and b["lut"] > 0 for b in sp2)


def test_optimizer_picks_a_fitting_design_or_names_the_resource():
    works = [LayerWork("a", 64, 64, 0), LayerWork("b", 64, 10, 0)]
    best = optimize(works, BOARD)
    assert all(best["fits"].values()) and 0 <= best["sp2_share"] <= 1
    huge = [LayerWork("big", 100_000, 4096, 0, weight_bits=8)]
    with pytest.raises(ValueError, match=r"does not fit pynq-z2 .*bram36"):
        optimize(huge, BOARD)


@pytest.mark.parametrize("count, bits", [(64, 6), (3, 8), (4, 8), (5, 8), (10, 32), (3072, 8), (7, 12), (2, 16)])
def test_estimated_axi_beats_follow_the_stream_format(count, bits):
    from msq_overlay.packing import FixedType, beat_format

    from flow.resources.estimate import axi_beats

    assert axi_beats(count, bits) == beat_format(FixedType(bits, 1, True), count).beats_per_sample


def test_axi_beats_bound_the_interval_and_add_to_the_latency():
    works = [LayerWork("a", 64, 16, 8, reuse_factor=4)]
    plain = estimate(works, get_board("pynq-z2"))
    streamed = estimate(works, get_board("pynq-z2"), io_beats=(100, 3))
    assert streamed["total"]["interval"] == 100 > plain["total"]["interval"]
    assert streamed["total"]["cycles"] == plain["total"]["cycles"] + 103


def test_constant_products_by_zero_or_powers_of_two_need_no_dsp():
    from flow.resources.estimate import Costs, estimate_layer

    latency = LayerWork("l", 16, 8, 4, reuse_factor=1, strategy="latency", dsp_products=10)
    resource = LayerWork("l", 16, 8, 4, reuse_factor=2, strategy="resource", dsp_products=10, dsp_packing=False)
    assert estimate_layer(latency, Costs())["dsp"] == 10  # constants: only the non-trivial mantissas
    assert estimate_layer(resource, Costs())["dsp"] == 4 * 8  # weights from ROM: one DSP per lane
    packed = LayerWork("l", 16, 8, 4, reuse_factor=2, strategy="resource", dsp_products=10)
    assert estimate_layer(packed, Costs())["dsp"] == 2 * 8  # packed (the default): one DSP per pair of lanes


def test_multiplier_products_counts_mantissas_that_are_not_0_or_powers_of_two():
    import numpy as np

    from flow.hls.encode import encode_dense
    from flow.quantizers import quantized_msq
    from flow.resources.estimate import multiplier_products

    q = quantized_msq(4, 0.0)  # every row fixed point
    kernel = np.array([[1.0, 0.25], [0.5, 0.75], [0.0, -0.375], [-0.125, 0.625]], dtype=np.float32)
    k = np.abs(encode_dense(q.encode(kernel)).fix_weights)
    expected = int(np.count_nonzero((k != 0) & ((k & (k - 1)) != 0)))
    assert multiplier_products(q, kernel) == expected and 0 < expected < k.size


def test_layer_model_is_the_fit_of_its_yosys_records():
    """flow/resources/layer_model.json: its coefficients are what layer_fit.fit gives on its stored whole-layer
    yosys records (so a change to the terms without a refit fails here), DSPs are exact on every record, and the
    fitted LUT / FF stay within the documented ranges (README: 0.78-1.29 LUT, 0.83-1.48 FF)."""
    from flow.resources import layer_fit
    from flow.resources.estimate import Costs

    data = layer_fit.load()
    records = data["records"]
    assert len(layer_fit.dense_records(records)) >= 40 and data["yosys"].startswith("Yosys")
    assert layer_fit.fit(records) == data["coefficients"]
    checked = layer_fit.ratios(records, Costs())
    assert all(r["dsp"][0] == r["dsp"][1] for r in checked)
    assert all(0.75 <= r["lut"] <= 1.3 and 0.8 <= r["ff"] <= 1.5 for r in checked), checked
    # counted terms (registers, ROM, multiplexers) keep coefficient 1; fitted ones are non-negative
    assert all(data["coefficients"][kind][t] == 1.0 for kind, terms in layer_fit.PINNED.items() for t in terms
               if t in data["coefficients"][kind])


def test_constant_dsps_share_equal_constants_and_pack_pairs():
    """RF 1 constants: 0 and +-2^k need no DSP48E1, equal constants on one input are one multiplier (yosys merges
    them), a packed pair needs one unless w_a * 2^k + w_b is trivial (checked whole by tests/test_estimate_vs_yosys)."""
    from flow.hls.microarch import DSPPack
    from flow.resources.estimate import constant_dsps

    w = [[3, 3, 1, -4], [3, 5, 0, 3]]
    assert constant_dsps(w, None) == 1 + 2 + 0 + 1
    assert constant_dsps(w, DSPPack(4, 1, 4, 8)) == 1 + 1 + 0 + 1  # 51, 53, 16 (= 2^4), -61
    assert constant_dsps([[1, 2, 0], [1, 2, 0]], DSPPack(4, 1, 4, 8)) == 2  # 17, 34: the pair turns wiring into a DSP
