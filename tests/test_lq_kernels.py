"""The LQ kernels are the hardware ``flow/hls/lq_microarch.py`` describes and ``flow/resources/lq.py``
costs: structural checks on the headers and on generated projects (compile-time lane indices, one
pipelined reuse loop, packed row words read one ROM word per cycle, LUT multipliers and no row
shifter, line-buffered convolutions without frame buffers), the lane layout spelled out, reuse
factor validation, estimator == written config for every battery layer, C-simulation bit-exact for
convolutions at reuse factors that do not divide the filters, and a csynth check where Vitis HLS exists."""

from __future__ import annotations

import dataclasses
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits

from flow.convert import ConvertConfig, convert
from flow.hls.lq_microarch import (
    LQ_DENSE_DEPTH,
    LQ_SCAN_DEPTH,
    SEGMENT_BITS,
    LQRows,
    check_lq_reuse_factor,
)
from flow.hls.microarch import ConvScan, bram18
from flow.package_data import TEMPLATES
from flow.quantizers import quantized_lq
from tests.kernel_checks import assert_our_kernels, config_structs, function_body, project_file

HEADERS = TEMPLATES / "nnet_utils"
DENSE = HEADERS / "nnet_lq_dense.h"
CONV = HEADERS / "nnet_lq_conv.h"


# --- the headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["lq_lanes_step", "lq_row", "lq_pack_planes", "lq_write_rows", "lq_popcount"])
def test_lane_path_has_no_division_or_modulo(function):
    body = function_body(DENSE.read_text(), function)
    assert "/" not in body and "%" not in body, "lane indices must be compile-time: no / or % on the lane path"


def test_lanes_read_one_word_of_each_rom_per_cycle():
    source = DENSE.read_text()
    step = function_body(source, "lq_lanes_step")
    assert "wc[(l * CONFIG_T::segments + s) * rf + cycle]" in step
    assert "aw[(l * CONFIG_T::kw + q) * rf + cycle]" in step and "biases[l * rf + cycle]" in step
    # results enter a per-lane shift register: every output has a compile-time position
    assert "rows[l * rf + rf - 1] = acc;" in step and "res[j]" not in step
    for wrapper in ("lq_dense_resource",):
        body = function_body(source, wrapper)
        assert "ARRAY_RESHAPE variable=wc block factor=CONFIG_T::code_words" in body
        assert "BIND_STORAGE variable=wc type=rom_1p impl=bram" in body
        assert "ARRAY_RESHAPE variable=aw block factor=CONFIG_T::basis_words" in body
        assert "ARRAY_RESHAPE variable=biases block factor=CONFIG_T::lanes" in body


def test_one_reuse_loop_pipelined_at_ii_1():
    body = function_body(DENSE.read_text(), "lq_dense_compute")
    assert body.count("PIPELINE II=1") == 1 and "ReuseLoop:" in body and "lq_lanes_step" in body


def test_basis_products_are_lut_multipliers_and_no_row_shifter():
    row = function_body(DENSE.read_text(), "lq_row")
    assert "BIND_OP variable=prod op=mul impl=fabric" in row
    for header in (DENSE, CONV):
        text = re.sub(r"//[^\n]*", "", header.read_text())
        assert "impl=dsp" not in text
        assert "row_shift" not in text and "<<" not in text and ">>" not in text, "the per-row scale is folded"


def test_conv_scan_has_a_line_buffer_and_no_frame_buffer():
    source = CONV.read_text()
    body = function_body(source, "lq_conv_scan")
    assert "in_height" not in body, "the scan holds no array sized by the frame height"
    assert "code_t line[geo::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan]" in body
    assert body.count("PIPELINE II=1") == 1 and "ScanPixels:" in body
    assert "conv_window_push<code_t, CONFIG_T>(line, window, valid, pixel_codes, scan)" in body
    assert "valid_in[w * CONFIG_T::n_chan + c] = valid[w]" in body  # padded positions count nowhere
    assert "scan.emits()" in body and "res.write(packet)" in body
    assert "msq_read_packets" not in source and "msq_write_packets" not in source
    frame = function_body(source, "lq_conv_frame")
    assert "DATAFLOW" in frame and "frame_to_pixels" in frame and "pixels_to_frame" in frame


# --- the description -----------------------------------------------------------------------------


@pytest.mark.parametrize("n_out, rf", [(10, 3), (10, 10), (10, 1), (7, 4), (4, 4), (5, 2)])
@pytest.mark.parametrize("n_in, kw", [(16, 1), (20, 3), (100, 2), (7, 4)])
def test_layout_puts_row_l_rf_plus_c_in_rom_word_c(n_out, rf, n_in, kw):
    rng = np.random.default_rng(n_in * 100 + n_out * 10 + rf)
    codes = rng.integers(0, 2**kw, size=(n_out, n_in))
    basis = rng.integers(-50, 50, size=(kw, n_out))
    bias = rng.integers(-1000, 1000, size=n_out)
    arch = LQRows("x", n_in, n_out, 3, kw, rf, "resource", basis_bits=7, bias_bits=11)
    S, segs = arch.seg_inputs, arch.segments
    assert arch.segment_bits <= SEGMENT_BITS and segs == -(-n_in // S)
    flat = arch.code_layout(codes)
    assert flat.size == arch.lanes * segs * rf and int(flat.max(initial=0)) < 2**arch.segment_bits
    # ARRAY_RESHAPE block factor=code_words: word c holds element b * rf + c of every block b
    rom = flat.reshape(arch.lanes * segs, rf).T
    assert rom.shape == (arch.rom_shape[1], arch.rom_shape[0] // arch.segment_bits)
    for c in range(rf):
        for lane in range(arch.lanes):
            row = lane * rf + c
            for s in range(segs):
                word = int(rom[c, lane * segs + s])
                for q in range(kw):
                    for t in range(S):
                        i = s * S + t
                        expected = (codes[row, i] >> q) & 1 if row < n_out and i < n_in else 0
                        assert (word >> (q * S + t)) & 1 == expected, (c, lane, s, q, t)
    b = arch.basis_layout(basis).reshape(arch.lanes * kw, rf).T
    z = arch.bias_layout(bias).reshape(arch.lanes, rf).T
    for c in range(rf):
        for lane in range(arch.lanes):
            row = lane * rf + c
            assert z[c, lane] == (bias[row] if row < n_out else 0)
            for q in range(kw):
                assert b[c, lane * kw + q] == (basis[q, row] if row < n_out else 0)
    assert arch.padded_rows == arch.lanes * rf - n_out
    assert arch.rom_shape == (arch.lanes * segs * kw * S, rf)
    assert arch.rom_bram18 == bram18(*arch.rom_shape)


def test_a_short_row_is_one_packed_word():
    arch = LQRows("x", 16, 6, 2, 3, 2)
    assert arch.segments == 1 and arch.segment_bits == 48  # ap_uint<n_in * kw>


@pytest.mark.parametrize("rf", [0, 11, 2.5, True])
def test_invalid_reuse_factor_lists_the_valid_ones(rf):
    with pytest.raises(ValueError, match=r"layer 'd': ReuseFactor .* LQ layer of 10 output rows.*use 1\.\.10 "
                                         r"\(without idle padded rows: 1, 2, 5, 10\)"):
        check_lq_reuse_factor(10, rf, "layer 'd'")


def test_cycles_and_memories():
    dense = LQRows("d", 64, 10, 3, 2, 4, "resource")
    assert dense.cycles == 4 + LQ_DENSE_DEPTH and dense.lanes == 3 and dense.rows_alloc == 12
    assert LQRows("d", 64, 10, 3, 2, 1, "latency").rom_bram18 == 0
    scan = ConvScan(7, 6, 2, 3, 3, 1, 1, 1, 1)
    conv = LQRows("c", 18, 4, 3, 2, 3, "resource", scan)
    assert conv.cycles == 9 * 8 * 3 + LQ_SCAN_DEPTH
    assert conv.line_buffer_bits == 2 * 6 * 2 * 3


# --- conversion ----------------------------------------------------------------------------------

LEVELS = dict(per_channel=False, basis=[0.25, 0.5], offset=0.5)


def _kernel(kw, seed):
    return dict(
        kernel_quantizer=quantized_lq(kw, mantissa_bits=4),
        bias_quantizer=quantized_bits(8, 2, alpha=1),
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed),
        bias_initializer=tf.keras.initializers.RandomUniform(-1, 1, seed),
    )


def conv_model():
    """The conv battery's shape: 'same' padding, stride 2, max pooling, Flatten, Dense."""
    inp = tf.keras.Input((7, 6, 2), name="x")
    h = QActivation(quantized_lq(2, **LEVELS), name="a0")(inp)
    h = QConv2D(4, 3, padding="same", name="c1", **_kernel(2, 3))(h)
    h = QActivation(quantized_lq(2, **LEVELS), name="a1")(h)
    h = tf.keras.layers.MaxPooling2D(2, name="pool")(h)
    h = QConv2D(5, 2, strides=2, padding="same", name="c2", **_kernel(2, 4))(h)
    h = QActivation(quantized_lq(2, **LEVELS), name="a2")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = QDense(3, name="fc", **_kernel(2, 5))(h)
    return tf.keras.Model(inp, h)


def dense_model():
    inp = tf.keras.Input((16,), name="x")
    h = QActivation(quantized_lq(2, **LEVELS), name="a0")(inp)
    h = QDense(10, name="d1", **_kernel(2, 8))(h)
    h = QActivation(quantized_lq(1, per_channel=False, basis=[0.5], offset=0.5), name="a1")(h)
    h = QDense(4, name="d2", **_kernel(3, 9))(h)
    return tf.keras.Model(inp, h)


def conv1d_model():
    inp = tf.keras.Input((16, 3), name="x")
    h = QActivation(quantized_lq(2, **LEVELS), name="a0")(inp)
    h = QConv1D(4, 3, padding="same", name="c1", **_kernel(2, 6))(h)
    h = QActivation(quantized_lq(2, **LEVELS), name="a1")(h)
    h = QConv1D(3, 3, strides=2, padding="same", name="c2", **_kernel(1, 7))(h)
    return tf.keras.Model(inp, h)


def _convert(model, project_dir, compile=False, **cfg):
    """Converted and written (compiled for C-simulation when ``compile``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hm = convert(model, project_dir, ConvertConfig(**cfg), compile=compile)
    if not compile:
        hm.write()
    return hm


def _lq_nodes(hm):
    return [n for n in hm.graph.values() if n.class_name in ("LQDense", "LQConv1D", "LQConv2D")]


def assert_lq_estimate_matches_config(hm, model, reuse_factor: int, strategy: str) -> None:
    """For every LQ layer: the config struct equals flow.hls.lq_microarch, and the estimator's lanes,
    reuse factor, cycles and code ROM (width x depth) equal the struct written into the project."""
    from flow.resources.estimate import Costs, works_from_model
    from flow.resources.lq import LQWork, estimate_lq_layer

    structs = config_structs(hm)
    defines = project_file(hm, "defines.h")
    costs = Costs()
    works = {w.name: dataclasses.replace(w, strategy=strategy.lower())
             for w in works_from_model(model, reuse_factor) if isinstance(w, LQWork)}
    nodes = _lq_nodes(hm)
    assert nodes and {n.name for n in nodes} == set(works)
    for node in nodes:
        conv = structs.get(f"config{node.index}") if node.class_name != "LQDense" else None
        rows = structs[f"config{node.index}_mult" if conv is not None else f"config{node.index}"]
        arch = node.microarch()
        assert {k: rows[k] for k in arch.config_values()} == arch.config_values(), node.name
        assert f"typedef ap_uint<{rows['kw'] * rows['seg_inputs']}> wc{node.index}_t;" in defines, node.name
        weights = (Path(hm.config.get_output_dir()) / "firmware" / "weights" / f"wc{node.index}.h").read_text()
        assert f"wc{node.index}[{rows['code_words'] * rows['reuse_factor']}]" in weights, node.name
        est = estimate_lq_layer(works[node.name], costs)
        rf = rows["reuse_factor"]
        assert est["lut_lanes"] == rows["lanes"] == -(-rows["n_out"] // rf), node.name
        assert est["reuse_factor"] == rf and est["dsp"] == 0, node.name
        if conv is None:
            cycles = rf + LQ_DENSE_DEPTH
        else:
            padded = (conv["in_height"] + conv["pad_top"] + conv["pad_bottom"]) * (
                conv["in_width"] + conv["pad_left"] + conv["pad_right"])
            cycles = padded * rf + LQ_SCAN_DEPTH
        assert est["cycles"] == cycles, node.name
        width = rows["lanes"] * rows["segments"] * rows["kw"] * rows["seg_inputs"]
        assert (rows["rom_width"], rows["rom_depth"]) == (width, rf), node.name
        assert est["rom"] == ([[width, rf]] if strategy.lower() == "resource" else []), node.name


@pytest.mark.parametrize("strategy,rf,io_type", [("Latency", 1, "io_parallel"), ("Resource", 3, "io_parallel"),
                                                 ("Resource", 4, "io_stream"), ("Resource", 5, "io_stream")])
@pytest.mark.parametrize("build", [conv_model, dense_model, conv1d_model])
def test_estimate_equals_written_config(build, strategy, rf, io_type, project_dir):
    model = build()
    hm = _convert(model, project_dir, strategy=strategy, reuse_factor=rf, io_type=io_type)
    assert_our_kernels(hm, model)
    assert_lq_estimate_matches_config(hm, model, rf, strategy)


def test_per_layer_invalid_reuse_factor_is_refused(project_dir):
    import hls4ml

    from flow.convert import hls_config

    model = dense_model()
    config = hls_config(model, ConvertConfig(strategy="Resource", reuse_factor=2))
    config["LayerName"]["d2"]["ReuseFactor"] = 5
    with pytest.raises(ValueError, match=r"layer 'd2': ReuseFactor 5 is not valid for an LQ layer of 4 output rows "
                                         r"\(its lanes fold rows\); use 1\.\.4 \(without idle padded rows: 1, 2, 4\)"):
        hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, backend="MSQ", output_dir=str(project_dir), io_type="io_parallel"
        )


def test_model_wide_reuse_factor_above_n_out_is_lowered_with_a_warning(project_dir):
    with pytest.warns(UserWarning, match="layer 'd2': the model-wide ReuseFactor 6 is above its 4 output rows"):
        hm = convert(dense_model(), project_dir, ConvertConfig(strategy="Resource", reuse_factor=6), compile=False)
    hm.write()
    structs = config_structs(hm)
    assert structs[f"config{hm.graph['d2'].index}"]["reuse_factor"] == 4
    assert structs[f"config{hm.graph['d1'].index}"]["reuse_factor"] == 6


def test_a_disabled_replacement_pass_fails_the_kernel_check(project_dir, monkeypatch):
    from flow.hls.passes.replace_lq_layers import ReplaceLqLayers

    monkeypatch.setattr(ReplaceLqLayers, "match", lambda self, node: False)
    model = dense_model()
    hm = _convert(model, project_dir)
    with pytest.raises(AssertionError, match="layer 'd1' became Dense"):
        assert_our_kernels(hm, model)


# --- C-simulation --------------------------------------------------------------------------------


def _grid(rng, shape):
    return (np.round(rng.uniform(-2, 2, shape) * 16) / 16).astype(np.float64)


@pytest.mark.csim
@pytest.mark.parametrize("build,shape,io_type,rf", [
    (conv_model, (7, 6, 2), "io_stream", 3),  # 3 divides neither c1's 4 nor c2's 5 filters; fc: RF = n_out
    (conv_model, (7, 6, 2), "io_parallel", 4),  # c1: RF = n_out; c2 padded; fc lowered to 3
    (conv1d_model, (16, 3), "io_stream", 2),
])
def test_resource_convolutions_bit_exact(build, shape, io_type, rf, project_dir):
    model = build()
    x = _grid(np.random.default_rng(rf), (40, *shape))
    hm = _convert(model, project_dir, compile=True, strategy="Resource", reuse_factor=rf, io_type=io_type)
    expected = model.predict(x, verbose=0)
    got = hm.predict(np.ascontiguousarray(x)).reshape(expected.shape)
    assert np.unique(expected).size > 20, "the outputs should not be trivial"
    np.testing.assert_array_equal(got, expected)
    assert_our_kernels(hm, model)
    assert_lq_estimate_matches_config(hm, model, rf, "Resource")


# --- Vitis HLS -----------------------------------------------------------------------------------


@pytest.mark.vivado
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("vitis_hls") is None, reason="needs Vitis HLS (vitis_hls on PATH)")
@pytest.mark.parametrize("build,io_type,rf", [(dense_model, "io_parallel", 4), (conv_model, "io_stream", 3)])
def test_csynth_matches_the_description(build, io_type, rf, tmp_path):
    """The reuse loops run at II 1 within the cycle formula; no DSP; LUT within 25 % of the estimate."""
    from flow.boards import get_board
    from flow.resources.estimate import estimate, works_from_model
    from tests.test_csynth import reuse_loops, top_report, used

    model = build()
    hm = _convert(model, tmp_path / "prj", strategy="Resource", reuse_factor=rf, io_type=io_type)
    hm.build(csim=False, synth=True, export=False)
    loops = reuse_loops(tmp_path / "prj")
    assert loops and all(loop["ii"] == 1 for loop in loops), loops
    for loop in loops:
        depth = LQ_SCAN_DEPTH if loop["name"].startswith("ScanPixels") else LQ_DENSE_DEPTH
        assert loop["latency"] <= 1.25 * (loop["trips"] + depth), loop
    works = [dataclasses.replace(w, strategy="resource") for w in works_from_model(model, rf)]
    est = estimate(works, get_board("pynq-z2"))["total"]
    root = top_report(tmp_path / "prj")
    dsp_tag = "DSP" if root.find("./AreaEstimates/Resources/DSP") is not None else "DSP48E"
    assert used(root, dsp_tag) == 0, "LQ kernels bind every product to fabric"
    lut = used(root, "LUT")
    assert abs(lut - est["lut"]) <= 0.25 * max(est["lut"], 1), f"LUT: csynth {lut}, estimate {est['lut']}"
