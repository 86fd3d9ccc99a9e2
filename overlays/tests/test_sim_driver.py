"""Board side (pynq 4.0.0, numpy, no TensorFlow): the driver against the simulated PYNQ device.

Run by tests/test_board_sim.py in the board environment, with MSQ_OVERLAY_DIRS naming overlay
directories that ``python -m flow build`` wrote (manifest, C-simulation library, reference).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

DIRS = [Path(p) for p in os.environ.get("MSQ_OVERLAY_DIRS", "").split(os.pathsep) if p]
pytestmark = pytest.mark.skipif(not DIRS, reason="MSQ_OVERLAY_DIRS not set (tests/test_board_sim.py sets it)")


def _overlay(directory, **kwargs):
    from msq_overlay.driver import MSQOverlay
    from msq_overlay.sim import SimDevice

    dev = SimDevice(directory)
    return MSQOverlay(dev.placeholder_bitfile(), device=dev, **kwargs), dev


@pytest.mark.parametrize("directory", DIRS, ids=[d.parent.name for d in DIRS])
def test_predictions_equal_csim(directory):
    ol, _ = _overlay(directory)
    with np.load(directory / "csim_reference.npz") as ref:
        x, y_backbone = ref["x"], ref["y_backbone"]
        y = ref["y"] if "y" in ref else None
    got = ol.predict(x, raw=True)
    np.testing.assert_array_equal(got, y_backbone)  # bit for bit: C-simulation through pynq's DMA driver
    if y is not None:
        np.testing.assert_array_equal(ol.predict(x), y)  # float head in numpy, same arrays, same order
    assert ol.self_test() == {"outputs": y_backbone.size, "equal": y_backbone.size, "passed": True}
    timing = ol.last_timing
    assert timing["samples"] == len(x) and timing["inferences_per_s"] > 0 and timing["latency_per_batch_s"] > 0


@pytest.mark.parametrize("directory", DIRS, ids=[d.parent.name for d in DIRS])
def test_raw_floats_equal_keras(directory):
    """Raw floats (beyond the range, Gaussian, exact rounding midpoints): the driver packs them by the
    input type's own rounding and saturation, so the board equals Keras, not only on grid inputs."""
    ol, _ = _overlay(directory)
    with np.load(directory / "csim_reference.npz") as ref:
        assert "x_raw" in ref, "the build stored no raw-float reference (its input type is not a quantizer's)"
        x_raw, y_raw = ref["x_raw"], ref["y_raw_backbone"]
    assert x_raw.dtype == np.float32
    np.testing.assert_array_equal(ol.predict(x_raw, raw=True), y_raw)
    np.testing.assert_array_equal(ol.predict(x_raw.astype(np.float64), raw=True), y_raw)


@pytest.mark.parametrize("directory", DIRS, ids=[d.parent.name for d in DIRS])
def test_batches_split_by_transfer_size(directory):
    ol, _ = _overlay(directory, max_batch=5)
    with np.load(directory / "csim_reference.npz") as ref:
        x, y_backbone = ref["x"], ref["y_backbone"]
    np.testing.assert_array_equal(ol.predict(x, raw=True), y_backbone)
    assert ol.last_timing["batches"] == -(-len(x) // 5)
    np.testing.assert_array_equal(ol.predict(x[3], raw=True), y_backbone[3:4])  # one sample without a batch axis


def test_input_errors_name_the_expected_shape():
    ol, _ = _overlay(DIRS[0])
    shape = ol.input_spec.shape
    expected = f"(batch, {', '.join(map(str, shape))})"
    with pytest.raises(ValueError, match=rf"expected inputs of shape {re.escape(expected)}"):
        ol.predict(np.zeros((2, ol.input_spec.count + 1)))
    with pytest.raises(TypeError, match="real numbers"):
        ol.predict(np.zeros((2, *shape), dtype=np.complex64))
    with pytest.raises(TypeError, match="real numbers"):
        ol.predict([["a"] * ol.input_spec.count])


def test_file_errors_name_the_file(tmp_path):
    from msq_overlay.driver import MSQOverlay
    from msq_overlay.sim import SimDevice

    dev = SimDevice(DIRS[0])
    bit = Path(dev.placeholder_bitfile(tmp_path))
    bit.write_bytes(b"changed after the manifest was written")
    with pytest.raises(ValueError, match="msq_accel.sim.bit .* does not match overlay manifest"):
        MSQOverlay(str(bit), device=dev)
    with pytest.raises(FileNotFoundError, match="missing.bit"):
        MSQOverlay(str(tmp_path / "missing.bit"), device=dev)
    with pytest.raises(FileNotFoundError, match="libmsq_axi_sim.so"):
        SimDevice(DIRS[0], library=tmp_path / "libmsq_axi_sim.so")


def test_manifest_names_checked_against_the_ip_dictionary(tmp_path):
    from msq_overlay.driver import MSQOverlay
    from msq_overlay.sim import SimDevice

    dev = SimDevice(DIRS[0])
    bit = Path(dev.placeholder_bitfile(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["dma"]["name"] = "hier_0/axi_dma_1"
    (tmp_path / "other.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"names dma 'hier_0/axi_dma_1', which the hardware handoff .* does not have; its IPs are"):
        MSQOverlay(str(bit), manifest=tmp_path / "other.json", device=dev)


def test_board_side_imports_no_tensorflow():
    import msq_overlay.driver  # noqa: F401
    import msq_overlay.sim  # noqa: F401

    assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    assert sys.version_info[:2] >= (3, 10)


@pytest.mark.board
@pytest.mark.skipif(not Path("/sys/class/fpga_manager/fpga0").exists(), reason="needs a PYNQ board (no FPGA manager here)")
def test_on_board(tmp_path):
    from msq_overlay.driver import MSQOverlay

    directory = Path(os.environ.get("MSQ_BOARD_OVERLAY", DIRS[0]))
    manifest = json.loads((directory / "manifest.json").read_text())
    if not manifest.get("bitstream"):
        pytest.skip(f"{directory} has no bitstream (built without Vivado)")
    ol = MSQOverlay(str(directory / manifest["bitstream"]["file"]))
    assert ol.self_test()["passed"]



