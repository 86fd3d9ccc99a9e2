"""Board side: the driver's guards against hardware that stalls, ends its output early or gets an
unaligned buffer, against the simulated device's DMA and accelerator status (pynq's own DMA driver).

Run by tests/test_board_sim.py with MSQ_OVERLAY_DIRS naming overlay directories ``python -m flow build`` wrote.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

DIRS = [Path(p) for p in os.environ.get("MSQ_OVERLAY_DIRS", "").split(os.pathsep) if p]
pytestmark = pytest.mark.skipif(not DIRS, reason="MSQ_OVERLAY_DIRS not set (tests/test_board_sim.py sets it)")


def _overlay(directory=None, metadata="manifest", **kwargs):
    from msq_overlay.driver import MSQOverlay
    from msq_overlay.sim import SimDevice

    dev = SimDevice(directory or DIRS[0], metadata=metadata)
    bit = dev.placeholder_bitfile()
    return MSQOverlay(bit, device=dev, **kwargs), dev, bit


def _reference(directory=None, n=6):
    with np.load((directory or DIRS[0]) / "csim_reference.npz") as ref:
        return ref["x"][:n], ref["y_backbone"][:n]


def _bytes(ol, n):
    """Bytes of a batch of n samples each way: whole beats per sample (the manifest's beat format)."""
    return n * ol.input_spec.bytes_per_sample, n * ol.output_spec.bytes_per_sample


def test_stall_times_out_on_mm2s_then_busy_until_reloaded():
    from msq_overlay.driver import AcceleratorBusyError, MSQOverlay

    ol, dev, bit = _overlay()
    x, y = _reference()
    in_bytes, _ = _bytes(ol, len(x))
    dev.fault = "stall"
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=rf"^MM2S \(memory to stream, accelerator input\) did not finish within 0.3 s "
                                           rf"\({len(x)} samples\): expected {in_bytes} bytes, moved so far 0 bytes"
                                           r".*ap_idle 0\).*MSQOverlay\(bitfile\)"):
        ol.predict(x, raw=True, timeout_s=0.3)
    assert 0.3 <= time.monotonic() - start < 3.0
    dev.fault = None  # the hardware works again, but the stalled run still holds the accelerator
    with pytest.raises(AcceleratorBusyError, match=r"'msq_accel_0' is busy or stalled: its control register reads 0x1 "
                                                   r"\(ap_idle not set\).*create the overlay again"):
        ol.predict(x, raw=True)
    ol = MSQOverlay(bit, device=dev)  # reprogramming resets the DMA and the accelerator
    np.testing.assert_array_equal(ol.predict(x, raw=True), y)


def test_missing_tlast_times_out_on_s2mm():
    ol, dev, _ = _overlay()
    x, _ = _reference()
    in_bytes, out_bytes = _bytes(ol, len(x))
    dev.fault = "no_output"
    with pytest.raises(TimeoutError, match=rf"^S2MM \(stream to memory, accelerator output\) did not finish within 0.2 s "
                                           rf"\({len(x)} samples\): expected {out_bytes} bytes, moved so far 0 bytes.*"
                                           rf"MM2S has finished \({in_bytes} bytes sent\).*never reached TLAST"):
        ol.predict(x, raw=True, timeout_s=0.2)


def test_default_deadline_applies(monkeypatch):
    """Without timeout_s the derived deadline is used (made short here), not an unbounded wait."""
    import msq_overlay.driver as driver

    ol, dev, _ = _overlay()
    x, _ = _reference()
    assert ol.timeout_s is None
    base = ol.batch_timeout(1)
    assert base > driver.TIMEOUT_BASE_S and ol.batch_timeout(1000) > base  # grows with the batch
    monkeypatch.setattr(driver, "TIMEOUT_BASE_S", 0.1)
    monkeypatch.setattr(driver, "TIMEOUT_CYCLES_PER_SAMPLE", 0.0)
    dev.fault = "stall"
    with pytest.raises(TimeoutError, match=r"did not finish within 0.1\d* s"):
        ol.predict(x, raw=True)


def test_timeout_argument(tmp_path):
    ol, _, bit = _overlay(timeout_s=2.5)
    assert ol.batch_timeout(1) == ol.batch_timeout(10**6) == 2.5
    for bad in (0, -1.0, "1", True):
        with pytest.raises(ValueError, match="timeout_s must be a positive number of seconds"):
            ol.predict(np.zeros((1, *ol.input_spec.shape)), timeout_s=bad)


def test_short_output_stream_is_an_error():
    from msq_overlay.driver import ShortTransferError

    ol, dev, _ = _overlay()
    x, y = _reference()
    _, out_bytes = _bytes(ol, len(x))
    beat = ol.output_spec.beat_bits // 8
    dev.fault = "short"
    with pytest.raises(ShortTransferError, match=rf"^S2MM \(accelerator output\) received {out_bytes - beat} bytes up to "
                                                 rf"TLAST, expected {out_bytes} \({len(x)} samples x "
                                                 rf"{ol.output_spec.beats_per_sample} beats x {beat} bytes\)"):
        ol.predict(x, raw=True)
    dev.fault = None  # a short transfer completes: the accelerator is idle, the next run works
    np.testing.assert_array_equal(ol.predict(x, raw=True), y)


def test_unaligned_buffers_refused_without_dre():
    ol, dev, _ = _overlay()
    x, y = _reference()
    manifest = ol.manifest["dma"]
    align = manifest["mm2s_mm_bits"] // 8
    assert manifest["dre"] is False and manifest["mm2s_mm_bits"] == ol.input_spec.beat_bits  # the beat, 32 or 64
    dev.misalign = 2
    with pytest.raises(ValueError, match=rf"^MM2S buffer at physical address 0x[0-9a-f]+ is not aligned to {align} bytes: "
                                         r"DMA 'axi_dma_0' has no data realignment engine \(DRE\)"):
        ol.predict(x, raw=True)
    with pytest.raises(ValueError, match=f"is not aligned to {align} bytes"):  # checked on every batch, not only when allocated
        ol.predict(x, raw=True)
    ol, dev, _ = _overlay()
    dev.misalign = max(align, ol.output_spec.beat_bits // 8)  # aligned to both memory sides, though not to a page: fine
    np.testing.assert_array_equal(ol.predict(x, raw=True), y)
    assert ol._in_buf.physical_address % 4096 == dev.misalign


def test_simulated_status_registers():
    """ap_idle / ap_done and the DMA's halted / idle / length, as the driver and pynq read them."""
    from msq_overlay.sim import AP_DONE, AP_IDLE

    ol, dev, _ = _overlay()
    ctrl = ol.manifest["ip"]["registers"]["ctrl"]
    assert ol.accel.read(ctrl) == AP_IDLE
    assert ol.dma.sendchannel.running and ol.dma.recvchannel.running  # pynq's start() set the run bits
    x, _ = _reference()
    ol.predict(x, raw=True)
    assert ol.accel.read(ctrl) == AP_DONE | AP_IDLE and ol.accel.read(ctrl) == AP_IDLE  # ap_done clears on read
    assert ol.dma.sendchannel.idle and ol.dma.recvchannel.idle
    in_bytes, out_bytes = _bytes(ol, len(x))
    assert (ol.dma.sendchannel.transferred, ol.dma.recvchannel.transferred) == (in_bytes, out_bytes)
    ol.dma.recvchannel.stop()
    assert not ol.dma.recvchannel.running


@pytest.mark.parametrize("directory", DIRS, ids=[d.parent.name for d in DIRS])
def test_sim_ip_dict_mirrors_the_manifest_dma(directory):
    from msq_overlay.sim import parse_hwh

    ol, dev, bit = _overlay(directory)
    dma = ol.manifest["dma"]
    params = ol.ip_dict[dma["name"]]["parameters"]
    dre = "1" if dma["dre"] else "0"
    assert (params["c_m_axi_mm2s_data_width"], params["c_m_axi_s2mm_data_width"]) == (str(dma["mm2s_mm_bits"]), str(dma["s2mm_mm_bits"]))
    assert (params["c_m_axis_mm2s_tdata_width"], params["c_s_axis_s2mm_tdata_width"]) == (
        str(ol.input_spec.beat_bits), str(ol.output_spec.beat_bits))
    assert (params["c_include_mm2s_dre"], params["c_include_s2mm_dre"], params["c_sg_length_width"]) == (dre, dre, str(dma["length_width"]))
    assert ol.dma.buffer_max_size == dma["max_transfer_bytes"]
    # the .hwh written next to the placeholder says the same, through pynq's parser
    parsed = parse_hwh(Path(bit).with_suffix(".hwh")).ip_dict[dma["name"]]["parameters"]
    assert {k: parsed[k] for k in params} == params


@pytest.mark.parametrize("directory", DIRS, ids=[d.parent.name for d in DIRS])
def test_predictions_through_the_parsed_hwh(directory):
    """The overlay metadata from the written .hwh and pynq's parser: the DMA driver configured from it."""
    ol, dev, _ = _overlay(directory, metadata="hwh")
    assert type(ol.dma).__name__ == "DMA" and "processing_system7_0" in ol.ip_dict
    assert ol.ip_dict[ol.manifest["ip"]["name"]]["phys_addr"] == dev.IP_BASE
    x, y = _reference(directory, n=20)
    np.testing.assert_array_equal(ol.predict(x, raw=True), y)


def test_hwh_dma_parameters_checked_against_the_manifest(tmp_path):
    from msq_overlay.driver import MSQOverlay
    from msq_overlay.sim import SimDevice

    dev = SimDevice(DIRS[0], metadata="hwh")
    bit = dev.placeholder_bitfile(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    built = manifest["dma"]["s2mm_mm_bits"]  # what the .hwh says
    manifest["dma"]["s2mm_mm_bits"] = 128
    (tmp_path / "other.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=rf"configures DMA 'axi_dma_0' with c_m_axi_s2mm_data_width={built} \(manifest: 128\): "
                                         r"it and overlay manifest .*other.json come from different builds"):
        MSQOverlay(bit, manifest=tmp_path / "other.json", device=dev)


def test_dma_error_names_the_status_bits():
    from msq_overlay.driver import DMAError, MSQOverlay

    ol, dev, bit = _overlay()
    x, y = _reference()
    dev.fault = "overlong"
    with pytest.raises(DMAError, match=r"^S2MM DMA channel halted with DMAIntErr \(internal.*status register 0x11.*"
                                       r"create the overlay again"):
        ol.predict(x, raw=True)
    dev.fault = None
    ol = MSQOverlay(bit, device=dev)  # reprogramming resets the DMA and the accelerator
    np.testing.assert_array_equal(ol.predict(x, raw=True), y)
