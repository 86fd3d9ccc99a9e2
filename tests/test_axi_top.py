"""The AXI-stream top (flow/hls_templates/accel): several values per beat, TLAST on the last beat of a
batch, io_parallel and io_stream models.

- Packing: the C++ top around an identity model, compiled with the generated config header, against
  the driver's numpy packing (msq_overlay.packing): same beats bit for bit (padding included), for
  both interface styles, packets narrower and wider than a beat, 32- and 64-bit beats and lanes.
- ``flow build --io-type io_stream`` of a small CNN to the C-simulation library: the AXI top's output
  equals hls4ml's C-simulation and Keras bit for bit on batches of several samples, with the beat
  count and TLAST where the manifest says; the board driver (SimDevice) runs on the same overlay.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from msq_overlay.packing import FixedType, beat_format, pack_beats, unpack_beats
from msq_overlay.simlib import library_format, load_library, run

from flow.package_data import TEMPLATES

pytestmark = pytest.mark.csim

HLS4ML_TEMPLATES = Path(__import__("hls4ml").__file__).parent / "templates" / "vivado"

IDENTITY_PARALLEL = """
#include "identity.h"

void identity(input_t x[N], result_t y[N]) {
    for (unsigned i = 0; i < N; i++)
        y[i] = x[i];
}
"""

IDENTITY_STREAM = """
#include "identity.h"

void identity(hls::stream<input_t> &x, hls::stream<result_t> &y) {
    input_t::value_type values[N];
    for (unsigned p = 0; p < N / input_t::size; p++) {
        input_t packet = x.read();
        for (unsigned j = 0; j < input_t::size; j++)
            values[p * input_t::size + j] = packet[j];
    }
    for (unsigned p = 0; p < N / result_t::size; p++) {
        result_t packet;
        for (unsigned j = 0; j < result_t::size; j++)
            packet[j] = values[p * result_t::size + j];
        y.write(packet);
    }
}
"""


def identity_library(work: Path, io_type: str, n: int, tin: FixedType, tout: FixedType, pin: int, pout: int) -> Path:
    """The AXI top around an identity model (``y = x``, ``tout`` at least as wide as ``tin``), with the
    config header the build generates; io_stream packets of ``pin`` / ``pout`` values."""
    from flow.build.steps import _config_header

    work.mkdir(parents=True)
    if io_type == "io_stream":
        typedefs = f"typedef nnet::array<{tin}, {pin}> input_t;\ntypedef nnet::array<{tout}, {pout}> result_t;\n"
        proto = "void identity(hls::stream<input_t> &x, hls::stream<result_t> &y);"
        body = IDENTITY_STREAM
    else:
        typedefs = f"typedef {tin} input_t;\ntypedef {tout} result_t;\n"
        proto = "void identity(input_t x[N], result_t y[N]);"
        body = IDENTITY_PARALLEL
    (work / "identity.h").write_text(
        '#include "ap_fixed.h"\n#include "hls_stream.h"\n#include "nnet_types.h"\n'
        f"static const unsigned N = {n};\n{typedefs}{proto}\n"
    )
    (work / "identity.cpp").write_text(body)
    io = {"project": "identity", "io_type": io_type,
          "input": {"shape": [n], "type": tin.to_dict(), "ctype": "input_t"},
          "output": {"shape": [n], "type": tout.to_dict(), "ctype": "result_t"}}
    (work / "msq_axi_config.h").write_text(_config_header(io))
    lib = work / "libidentity.so"
    accel = TEMPLATES / "accel"
    subprocess.run(["g++", "-O1", "-std=c++14", "-fPIC", "-shared", "-fvisibility=hidden", f"-I{work}", f"-I{accel}",
                    f"-I{HLS4ML_TEMPLATES / 'ap_types'}", f"-I{HLS4ML_TEMPLATES / 'nnet_utils'}",
                    str(work / "identity.cpp"), str(accel / "msq_axi_top.cpp"), str(accel / "msq_axi_bridge.cpp"),
                    "-o", str(lib)], check=True, capture_output=True, text=True)
    return lib


#: io type, values per sample, input type and packet, output type and packet
PACKING_CASES = [
    ("io_parallel", 64, FixedType(6, 2), 0, FixedType(6, 2), 0),  # 8 values a 64-bit beat, no padding
    ("io_parallel", 5, FixedType(12, 4, False), 0, FixedType(20, 8), 0),  # 16-bit lanes in, 32-bit lanes out, padded
    ("io_parallel", 1, FixedType(16, 6), 0, FixedType(40, 16), 0),  # a 32-bit beat in, a 64-bit lane out
    ("io_stream", 75, FixedType(6, 2), 3, FixedType(16, 6), 3),  # RGB pixels: packets narrower than a beat
    ("io_stream", 48, FixedType(8, 3, False), 16, FixedType(25, 10), 1),  # packets wider than a beat
    ("io_stream", 64, FixedType(6, 2), 64, FixedType(6, 2), 4),  # one packet a sample (a Dense input)
    ("io_stream", 6, FixedType(24, 8), 2, FixedType(40, 16), 3),  # 32-bit lanes in, 64-bit lanes out (one a beat)
    ("io_stream", 2, FixedType(16, 6), 1, FixedType(16, 6), 2),  # 32-bit beats both ways
]


@pytest.mark.parametrize("case", PACKING_CASES, ids=lambda c: f"{c[0]}-n{c[1]}-{c[2].width}b{c[3]}-{c[4].width}b{c[5]}")
def test_cpp_beats_equal_python_packing(tmp_path, rng, case):
    io_type, n, tin, pin, tout, pout = case
    fin, fout = beat_format(tin, n), beat_format(tout, n)
    lib = load_library(identity_library(tmp_path / "lib", io_type, n, tin, tout, pin, pout))
    assert library_format(lib) == {
        "n_in": n, "n_out": n, "in_lane": fin.lane_bits, "out_lane": fout.lane_bits, "in_beat": fin.beat_bits,
        "out_beat": fout.beat_bits, "in_per_beat": fin.values_per_beat, "out_per_beat": fout.values_per_beat,
        "in_beats": fin.beats_per_sample, "out_beats": fout.beats_per_sample}
    assert lib.msq_axi_io_stream() == (io_type == "io_stream")
    lo, hi = tin.code_range
    for samples in (1, 3, 7):
        codes = rng.integers(lo, hi + 1, size=(samples, n))
        codes[0, :2] = [lo, hi][: min(2, n)]
        x = np.ldexp(codes.astype(np.float64), -tin.frac)
        words = pack_beats(x, tin, fin)
        n_beats = samples * fout.beats_per_sample
        got, out = run(lib, words, samples, n_beats + 2)
        assert got == n_beats, f"{got}: TLAST not on the last of {n_beats} beats"
        # the C++ beats are the driver's beats, bit for bit, zero padding included
        np.testing.assert_array_equal(out[:n_beats], pack_beats(x, tout, fout).reshape(-1).astype(np.uint64))
        np.testing.assert_array_equal(unpack_beats(out[:n_beats].reshape(samples, -1), tout, fout), x)


def test_bridge_reports_stream_errors(tmp_path, rng):
    from msq_overlay.simlib import RUN_ERRORS

    t = FixedType(6, 2)
    fmt = beat_format(t, 75)
    lib = load_library(identity_library(tmp_path / "lib", "io_stream", 75, t, t, 3, 3))
    words = pack_beats(np.zeros((2, 75)), t, fmt).reshape(-1)
    assert run(lib, words, 2, 2 * fmt.beats_per_sample)[0] == 2 * fmt.beats_per_sample
    assert RUN_ERRORS[run(lib, words, 2, fmt.beats_per_sample)[0]] == "output buffer too small"
    assert RUN_ERRORS[run(lib, np.append(words, 0), 2, 100)[0]] == "input beats left unread"


@pytest.fixture(scope="module")
def stream_cnn_build(tmp_path_factory):
    """A small MSQ CNN (conv -> ReLU -> pool -> conv -> ReLU -> Dense) built with --io-type io_stream to the
    C-simulation library through the command line."""
    import tensorflow as tf

    from flow.cli import main
    from flow.convert import freeze_msq_rows
    from flow.models import QuantSpec, _input, activation, conv, dense

    root = tmp_path_factory.mktemp("io_stream_build")
    tf.keras.utils.set_random_seed(11)
    spec = QuantSpec("msq", 4, 0.5, in_bits=6, in_integer=2)
    inp, x = _input((6, 6, 3), spec)
    x = activation(spec, "a1")(conv(4, 3, spec, "c1")(x))
    x = tf.keras.layers.MaxPooling2D(2, name="p1")(x)
    x = activation(spec, "a2")(conv(3, 2, spec, "c2")(x))
    x = tf.keras.layers.Flatten(name="flatten")(x)
    model = tf.keras.Model(inp, dense(5, spec, "logits")(x), name="stream_cnn")
    freeze_msq_rows(model)
    path = root / "cnn.h5"
    model.save(path)
    out = root / "b"
    code = main(["build", str(path), "--out", str(out), "--io-type", "io_stream", "--cut", "none", "--until", "csim_lib",
                 "--allow-overbudget"])
    assert code == 0
    return model, out


def test_io_stream_cnn_builds_to_the_csim_library(stream_cnn_build):
    model, out = stream_cnn_build
    state = json.loads((out / "state.json").read_text())
    assert all(state["steps"][s]["status"] == "done" for s in ("fit", "convert", "accel_top", "csim_lib"))
    assert state["config"]["io_type"] == "io_stream" and state["io"]["io_type"] == "io_stream"
    fw = out / "hls4ml_prj" / "firmware"
    assert "hls::stream<input_t> &" in (fw / "myproject.h").read_text()  # the model takes streams
    header = (fw / "msq_axi_config.h").read_text()
    assert "static const bool io_stream = true;" in header and "typedef input_t in_packet_t;" in header
    manifest = json.loads((out / "overlay" / "manifest.json").read_text())
    assert manifest["format"] == 2 and manifest["io_type"] == "io_stream"
    assert {k: manifest["input"][k] for k in ("lane_bits", "beat_bits", "values_per_beat", "beats_per_sample")} == {
        "lane_bits": 8, "beat_bits": 64, "values_per_beat": 8, "beats_per_sample": 14}  # 108 values of 6 bits
    assert manifest["dma"]["mm2s_stream_bits"] == manifest["input"]["beat_bits"]
    assert manifest["dma"]["s2mm_stream_bits"] == manifest["output"]["beat_bits"]
    assert state["csim_check"]["beats_out"] == 16 * manifest["output"]["beats_per_sample"]


def test_io_stream_axi_top_equals_hls4ml_csim_and_keras(stream_cnn_build):
    """Batches of 1, 3 and 32 samples through the compiled AXI top: exactly n x beats-per-sample output
    beats, TLAST on the last, outputs equal to hls4ml's C-simulation (the build's reference) and Keras."""
    from msq_overlay.manifest import load_manifest
    from msq_overlay.simlib import check_format

    model, out = stream_cnn_build
    overlay = out / "overlay"
    manifest = load_manifest(overlay)
    lib = load_library(overlay / "libmsq_axi_sim.so")
    check_format(lib, manifest)
    spec_in, spec_out = manifest["input_spec"], manifest["output_spec"]
    with np.load(overlay / "csim_reference.npz") as ref:
        x, y_csim = ref["x"], ref["y_backbone"]
    y_keras = model.predict(x, verbose=0)
    np.testing.assert_array_equal(y_csim, y_keras)
    for lo, hi in ((0, 1), (1, 4), (0, len(x))):
        n = hi - lo
        words = pack_beats(x[lo:hi].reshape(n, -1), spec_in.type, spec_in.beat)
        n_beats = n * spec_out.beats_per_sample
        got, beats = run(lib, words, n, n_beats + 4)
        assert got == n_beats, f"{n} samples: {got} beats up to TLAST, expected {n_beats}"
        y = unpack_beats(beats[:n_beats].reshape(n, -1), spec_out.type, spec_out.beat).reshape(y_csim[lo:hi].shape)
        np.testing.assert_array_equal(y, y_csim[lo:hi])


def test_io_stream_overlay_runs_on_the_simulated_board(stream_cnn_build):
    """The board driver (pynq's DMA driver, SimDevice) packs and unpacks by the manifest's beat format."""
    from tests.test_board_sim import run_board_pytest

    _, out = stream_cnn_build
    proc = run_board_pytest(["overlays/tests/test_sim_driver.py", "overlays/tests/test_guards.py", "-k",
                             "predictions or raw_floats or batches or short_output or status_registers"],
                            {"MSQ_OVERLAY_DIRS": str(out / "overlay")})
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0 and " failed" not in report and "passed" in report, report


def test_bad_io_type_is_refused():
    from flow import golden
    from flow.build import BuildConfig

    with pytest.raises(ValueError, match=r"^io_type: 'io_serial' is not one of \('io_parallel', 'io_stream'\)$"):
        BuildConfig(model=str(golden.GOLDEN_DIR / "digits_fixed4.h5"), io_type="io_serial")
