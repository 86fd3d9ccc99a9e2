"""The generated hardware is the circuit the estimator describes: structural checks on the kernels
and the generated projects (compile-time lane indices, line buffers, FIFO depths, top style), and an
io_stream VGG at 32x32x3 C-simulated bit-exactly."""

from __future__ import annotations

import re

import numpy as np
import pytest

from flow.hls import microarch
from flow.package_data import TEMPLATES
from tests.kernel_checks import (
    assert_estimate_matches_config, assert_our_kernels, config_structs, function_body, project_file,
)

HEADERS = TEMPLATES / "nnet_utils"


@pytest.mark.parametrize("function", ["msq_lanes_split", "msq_lanes_folded", "msq_lanes_step", "tick", "msq_fix_split",
                                      "msq_fix_folded", "msq_dsp_mac", "msq_dsp_high", "msq_dsp_low"])
def test_lane_path_has_no_division_or_modulo(function):
    body = function_body((HEADERS / "nnet_msq_dense.h").read_text(), function)
    assert "/" not in body and "%" not in body, "lane indices must be compile-time: no / or % on the lane path"


def test_lanes_read_word_cycle_of_their_rom_column():
    source = (HEADERS / "nnet_msq_dense.h").read_text()
    assert "wf[lane * rf + cycle]" in function_body(source, "msq_lanes_split")
    assert "wf[l * rf + clk.cycle]" in function_body(source, "msq_lanes_folded")


def test_one_reuse_loop_drives_both_lane_sets():
    body = function_body((HEADERS / "nnet_msq_dense.h").read_text(), "msq_dense_compute")
    assert body.count("PIPELINE II=1") == 1 and body.count("for (") == 1
    assert "msq_lanes_step" in body


def test_conv_scan_has_no_frame_buffer():
    body = function_body((HEADERS / "nnet_msq_conv.h").read_text(), "msq_conv_scan")
    assert "in_height" not in body, "the scan holds no array sized by the frame height"
    assert "line[geo::line_rows][CONFIG_T::in_width][CONFIG_T::n_chan]" in body
    assert "PIPELINE II=1" in body


def _lane_weight(arr, w, lane, c):
    """What lane ``lane`` multiplies at cycle ``c`` (the schedule spelled out with / and %)."""
    if arr.folded:
        r, i = lane * arr.rows_per_lane + c // arr.n_in, c % arr.n_in
    else:
        r, ch = divmod(lane, arr.chunks)
        i = ch * arr.reuse_factor + c
    return w[r, i] if r < arr.n_rows and i < arr.n_in else 0


@pytest.mark.parametrize("n_rows, n_in, rf", [(3, 16, 4), (3, 33, 7), (3, 10, 10), (3, 27, 5), (3, 9, 1),
                                               (5, 6, 12), (5, 6, 18), (3, 4, 12), (1, 7, 7)])
def test_lane_layout_puts_weight_of_lane_l_cycle_c_at_l_rf_plus_c(n_rows, n_in, rf):
    rng = np.random.default_rng(n_in * rf)
    w = rng.integers(-8, 8, size=(n_rows, n_in))
    arr = microarch.LaneArray(n_rows, n_in, rf, 4)
    flat = arr.layout(w)
    assert flat.size == arr.lanes * rf
    expected_lanes = -(-n_rows // (rf // n_in)) if rf > n_in else n_rows * -(-n_in // rf)
    assert arr.lanes == expected_lanes
    for lane in range(arr.lanes):
        for c in range(rf):
            assert flat[lane * rf + c] == _lane_weight(arr, w, lane, c), (lane, c)
    assert arr.padded == arr.lanes * rf - n_rows * n_in


def test_invalid_reuse_factor_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"ReuseFactor 13 is not valid for 5 rows of 12 inputs; use 1\.\.12 or a "
                                         r"multiple of 12 up to 60 \(without idle padded lanes: 1, 2, 3, 4, 6, 12\)"):
        microarch.check_reuse_factor(12, 5, 13, "layer 'fc'")
    for rf in (1, 7, 12, 24, 60):
        microarch.check_reuse_factor(12, 5, rf, "layer 'fc'")
    assert [microarch.effective_reuse_factor(12, 5, rf) for rf in (7, 13, 30, 100)] == [7, 12, 24, 60]


def test_bram18_uses_the_aspect_ratios():
    assert microarch.bram18(36, 512) == 1 and microarch.bram18(72, 512) == 2
    assert microarch.bram18(4, 4096) == 1 and microarch.bram18(128, 2) == 4  # wide and shallow: width / 36


def test_per_layer_reuse_factor_above_n_in_is_refused(project_dir):
    import hls4ml

    from flow.convert import ConvertConfig, hls_config
    from tests.test_csim_dense import build

    model = build((16, (12,), 5), 4, 0.5, seed=3)
    config = hls_config(model, ConvertConfig(strategy="Resource", reuse_factor=2))
    config["LayerName"]["logits"]["ReuseFactor"] = 13
    with pytest.raises(ValueError, match="layer .logits.: ReuseFactor 13 is not valid for 5 rows of 12 inputs"):
        hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, output_dir=str(project_dir), backend="MSQ", io_type="io_parallel"
        )


@pytest.fixture(scope="module")
def vgg_stream(tmp_path_factory):
    """VGG (width 0.25) at 32x32x3, MSQ 4-bit, io_stream, Resource RF 9, converted and compiled."""
    import tensorflow as tf

    from flow.convert import ConvertConfig, convert, freeze_msq_rows
    from flow.models import QuantSpec, vgg

    tf.keras.utils.set_random_seed(7)
    model = vgg((32, 32, 3), 10, width=0.25, spec=QuantSpec("msq", 4, 0.6, in_bits=8, in_integer=1))
    freeze_msq_rows(model)
    out = tmp_path_factory.mktemp("vgg_stream") / "prj"
    hm = convert(model, out, ConvertConfig(io_type="io_stream", strategy="Resource", reuse_factor=9))
    return model, hm


@pytest.mark.csim
@pytest.mark.slow
def test_io_stream_vgg_32x32x3_bit_exact(vgg_stream):
    model, hm = vgg_stream
    assert_our_kernels(hm, model)
    assert_estimate_matches_config(hm, model, 9, "Resource")
    rng = np.random.default_rng(0)
    x = (rng.integers(-128, 128, size=(8, 32, 32, 3)) / 128).astype(np.float32)  # CIFAR-shaped, on the input grid
    y = model.predict(x, verbose=0)
    y_csim = hm.predict(np.ascontiguousarray(x)).reshape(y.shape)
    assert np.array_equal(y, y_csim), f"{np.sum(y != y_csim)} of {y.size} outputs differ"


@pytest.mark.csim
@pytest.mark.slow
def test_io_stream_vgg_fifos_are_below_a_frame_and_line_buffers_hold_fh_minus_1_rows(vgg_stream):
    model, hm = vgg_stream
    source = project_file(hm, f"{hm.config.get_project_name()}.cpp")
    depths = {name: int(d) for name, d in re.findall(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", source)}
    assert depths, "no stream pragmas in the io_stream project"
    frames = {}
    for node in hm.get_layers():
        out = node.get_output_variable()
        if out.name in depths and len(out.shape) == 3:
            frames[out.name] = out.shape[0] * out.shape[1]
    assert max(frames.values()) == 32 * 32
    for name, frame in frames.items():
        # at most one padded row of the widest input (34 packets), never a frame
        assert depths[name] <= min(frame, 34), f"{name}: FIFO depth {depths[name]} (frame {frame})"
        assert depths[name] < frame or frame <= microarch.STREAM_DEPTH, f"{name}: FIFO depth {depths[name]} is a frame"
    structs = config_structs(hm)
    for layer in model.layers:
        if type(layer).__name__ != "QConv2D":
            continue
        node = hm.graph[layer.name]
        geo = structs[f"config{node.index}"]
        scan = node.conv_scan()
        assert scan.line_buffer_values == (geo["filt_height"] - 1) * geo["in_width"] * geo["n_chan"]
    assert "#pragma HLS DATAFLOW" in source


@pytest.mark.csim
def test_io_parallel_conv_model_gets_a_dataflow_top(project_dir):
    from flow.convert import ConvertConfig, convert
    from tests.test_csim_conv import cnn2d

    model = cnn2d(3, 1, "same", 2, 3, 0.5, seed=5)
    hm = convert(model, project_dir, ConvertConfig(io_type="io_parallel"), compile=False)
    hm.write()
    source = project_file(hm, f"{hm.config.get_project_name()}.cpp")
    assert "#pragma HLS DATAFLOW" in source and "#pragma HLS PIPELINE" not in source


def test_io_parallel_conv_above_the_frame_limit_is_refused(project_dir):
    import tensorflow as tf

    from flow.convert import ConvertConfig, convert, freeze_msq_rows
    from flow.models import QuantSpec, vgg

    tf.keras.utils.set_random_seed(1)
    model = vgg((96, 96, 3), 10, width=0.125, spec=QuantSpec("msq", 4, 0.5), max_blocks=1)
    freeze_msq_rows(model)
    with pytest.raises(ValueError, match="io_parallel convolution on a .* convert with io_type='io_stream'"):
        convert(model, project_dir, ConvertConfig(io_type="io_parallel"), compile=False)


def test_a_disabled_replacement_pass_fails_the_kernel_check(project_dir, monkeypatch):
    """The batteries' kernel check is not vacuous: without our pass the layers stay hls4ml's."""
    from flow.convert import ConvertConfig, convert
    from flow.hls.passes.replace_row_quantized_layers import ReplaceRowQuantizedLayers
    from tests.test_csim_dense import build

    model = build((16, (12,), 5), 4, 0.5, seed=3)
    monkeypatch.setattr(ReplaceRowQuantizedLayers, "match", lambda self, node: False)
    hm = convert(model, project_dir, ConvertConfig(), compile=False, allow_approximate=True, report=lambda *a: None)
    hm.write()
    with pytest.raises(AssertionError, match="not one of our MSQ kernels"):
        assert_our_kernels(hm, model)


def _dense_model(n_in: int, n_out: int, seed: int = 0):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    from flow.convert import freeze_msq_rows
    from flow.quantizers import quantized_msq

    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((n_in,))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QDense(n_out, kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc")(x)
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    return model


def test_a_weight_rom_wider_than_vitis_builds_is_refused(project_dir):
    from flow.convert import ConvertConfig, convert

    model = _dense_model(512, 256)  # RF 1 Resource: 512 * 256 lanes x 4 bits = 524288-bit words
    with pytest.raises(ValueError, match=r"layer 'fc': at ReuseFactor 1 the weight ROM word is \d+ bits, above the 65536"):
        convert(model, project_dir, ConvertConfig(strategy="Resource", reuse_factor=1), compile=False)


def test_a_stream_packet_wider_than_vitis_allows_is_refused(project_dir):
    from flow.convert import ConvertConfig, convert

    model = _dense_model(8, 600)
    with pytest.raises(ValueError, match=r"layer 'fc': its output packet is 600 values x \d+ bits = \d+ bits, above the 4096"):
        convert(model, project_dir, ConvertConfig(io_type="io_stream"), compile=False)


def test_pipeline_style_pipeline_with_our_convolutions_is_refused(project_dir):
    import hls4ml

    from flow.convert import ConvertConfig, hls_config
    from tests.test_csim_conv import cnn2d

    model = cnn2d(3, 1, "same", 2, 3, 0.5, seed=5)
    config = hls_config(model, ConvertConfig())
    config["Model"]["PipelineStyle"] = "pipeline"
    with pytest.raises(ValueError, match="PipelineStyle 'pipeline' with MSQ/LQ convolutions would unroll"):
        hls4ml.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(project_dir), backend="MSQ")


def test_latency_layers_folded_over_cycles_get_a_dataflow_top(project_dir):
    from flow.convert import ConvertConfig, convert

    model = _dense_model(16, 8)
    hm = convert(model, project_dir, ConvertConfig(strategy="Latency", reuse_factor=4), compile=False)
    hm.write()
    source = project_file(hm, f"{hm.config.get_project_name()}.cpp")
    assert "#pragma HLS DATAFLOW" in source and "#pragma HLS PIPELINE" not in source


def test_an_io_parallel_sample_wider_than_a_stream_word_is_refused():
    from flow.build.steps import check_sample_channels

    io = {"io_type": "io_parallel", "input": {"shape": [28, 28, 1], "type": {"width": 8}},
          "output": {"shape": [10], "type": {"width": 16}}}
    with pytest.raises(ValueError, match="the input sample is 6272 bits, above the 4096-bit .* --io-type io_stream"):
        check_sample_channels(io)
    check_sample_channels({**io, "io_type": "io_stream"})


def test_shallow_weight_roms_are_luts_deep_ones_ramb18():
    from flow.resources.estimate import Costs, LayerWork, estimate_layer

    shallow = microarch.RowKernel("l", 256, 64, 32, 16, 4, "resource")
    deep = microarch.RowKernel("l", 256, 64, 32, 128, 4, "resource")
    assert shallow.rom_lutram and not deep.rom_lutram
    assert not microarch.RowKernel("l", 256, 64, 32, 16, 4, "latency").rom_lutram
    costs = Costs()
    est_shallow = estimate_layer(LayerWork("l", 256, 64, 32, reuse_factor=16, strategy="resource"), costs)
    est_deep = estimate_layer(LayerWork("l", 256, 64, 32, reuse_factor=128, strategy="resource"), costs)
    assert est_shallow["bram36"] == 0 and est_deep["bram36"] > 0
    source = (HEADERS / "nnet_msq_dense.h").read_text()
    assert source.count("impl=lutram") == 4 and "rom_in_lutram<CONFIG_T::rom_lutram>()" in source
