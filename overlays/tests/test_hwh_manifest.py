"""Board side, no build needed: the manifest's DMA section and the .hwh written from it, read back by
pynq's own parsers (the runtime metadata parser ``pynq.Overlay`` uses, and the legacy Zynq HWH parser)."""

from __future__ import annotations

import copy
import json

import pytest

from msq_overlay.hwh import DMA_BASE, DMA_VLNV, IP_BASE, write_hwh
from msq_overlay.manifest import check_manifest, load_manifest

BASE = {
    "format": 2, "overlay": "msq_accel", "board": "pynq-z2", "part": "xc7z020clg400-1", "clock_mhz": 100.0,
    "ip": {"name": "msq_accel_0", "vlnv": "msq.flow:hls:msq_accel:1.0", "registers": {"ctrl": 0, "n_samples": 16}},
    "dma": {"name": "axi_dma_0", "length_width": 26, "max_transfer_bytes": (1 << 26) - 1, "mm2s_stream_bits": 64,
            "s2mm_stream_bits": 64, "mm2s_mm_bits": 64, "s2mm_mm_bits": 64, "dre": False},
    "input": {"shape": [64], "type": {"width": 6, "integer": 2, "signed": True}, "lane_bits": 8, "beat_bits": 64,
              "values_per_beat": 8, "beats_per_sample": 8},
    "output": {"shape": [10], "type": {"width": 16, "integer": 8, "signed": True}, "lane_bits": 16, "beat_bits": 64,
               "values_per_beat": 4, "beats_per_sample": 3},
    "head": None, "bitstream": None, "hwh": "msq_accel.hwh",
}


def manifest(**dma) -> dict:
    data = copy.deepcopy(BASE)
    data["dma"].update(dma)
    return data


# a second configuration, so nothing passes by matching defaults: 64-bit lanes, a 32-bit output beat (one
# 32-bit value each), wider memory side, DRE on
WIDE = manifest(length_width=23, max_transfer_bytes=(1 << 23) - 1, mm2s_stream_bits=64, s2mm_stream_bits=32,
                mm2s_mm_bits=64, s2mm_mm_bits=128, dre=True)
WIDE["input"].update(lane_bits=64, beat_bits=64, values_per_beat=1, beats_per_sample=64)
WIDE["output"].update(lane_bits=32, beat_bits=32, values_per_beat=1, beats_per_sample=10)
WIDE["ip"]["registers"]["n_samples"] = 0x18
CONFIGS = {"pynq-z2-defaults": BASE, "wide-dre": WIDE}


def expected_parameters(data):
    dma = data["dma"]
    dre = "1" if dma["dre"] else "0"
    return {"c_include_sg": "0", "c_sg_length_width": str(dma["length_width"]),
            "c_m_axi_mm2s_data_width": str(dma["mm2s_mm_bits"]), "c_m_axi_s2mm_data_width": str(dma["s2mm_mm_bits"]),
            "c_m_axis_mm2s_tdata_width": str(dma["mm2s_stream_bits"]),
            "c_s_axis_s2mm_tdata_width": str(dma["s2mm_stream_bits"]),
            "c_include_mm2s": "1", "c_include_s2mm": "1", "c_include_mm2s_dre": dre, "c_include_s2mm_dre": dre}


def check_ip_dict(ip_dict, data):
    dma, accel = ip_dict["axi_dma_0"], ip_dict["msq_accel_0"]
    assert dma["type"] == DMA_VLNV and accel["type"] == data["ip"]["vlnv"]
    assert (dma["phys_addr"], dma["addr_range"]) == (DMA_BASE, 0x10000)
    assert (accel["phys_addr"], accel["addr_range"]) == (IP_BASE, 0x10000)
    params = dma["parameters"]
    for key, value in expected_parameters(data).items():
        assert params[key] == value, key
    ctrl, n_samples = accel["registers"]["CTRL"], accel["registers"]["n_samples"]
    assert ctrl["address_offset"] == data["ip"]["registers"]["ctrl"]
    assert {k: (v["bit_offset"], v["bit_width"]) for k, v in ctrl["fields"].items()} == {
        "AP_START": (0, 1), "AP_DONE": (1, 1), "AP_IDLE": (2, 1), "AP_READY": (3, 1), "AUTO_RESTART": (7, 1)}
    assert n_samples["address_offset"] == data["ip"]["registers"]["n_samples"] and n_samples["size"] == 32
    regs = dma["registers"]
    assert {k: regs[k]["address_offset"] for k in ("MM2S_DMASR", "MM2S_LENGTH", "S2MM_DMASR", "S2MM_LENGTH")} == {
        "MM2S_DMASR": 0x04, "MM2S_LENGTH": 0x28, "S2MM_DMASR": 0x34, "S2MM_LENGTH": 0x58}
    assert regs["S2MM_LENGTH"]["fields"]["Length"]["bit_width"] == data["dma"]["length_width"]


@pytest.mark.parametrize("name", CONFIGS)
def test_runtime_parser_reads_the_written_hwh(name, tmp_path):
    """The parser pynq.Overlay uses for a full bitstream (pynqmetadata's HwhFrontend + RuntimeMetadataParser)."""
    from msq_overlay.sim import parse_hwh

    data = CONFIGS[name]
    parser = parse_hwh(write_hwh(data, tmp_path / "msq_accel.hwh"))
    check_ip_dict(parser.ip_dict, data)
    assert parser.ip_dict["processing_system7_0"]["type"] == "xilinx.com:ip:processing_system7:5.5"
    # FCLK0 = 1600 MHz IO PLL / (4 * 4) = 100 MHz, the only PL clock enabled
    assert parser.clock_dict[0]["enable"] == 1 and parser.clock_dict[0]["divisor0"] * parser.clock_dict[0]["divisor1"] == 16
    assert [parser.clock_dict[i]["enable"] for i in (1, 2, 3)] == [0, 0, 0]


@pytest.mark.parametrize("name", CONFIGS)
def test_zynq_hwh_parser_reads_the_written_hwh(name, tmp_path):
    """pynq's element-tree parser (pynq.pl_server.hwh_parser; what a Zynq-7000 board uses for partial bitstreams)."""
    from pynq.pl_server.hwh_parser import _HWHZynq

    data = CONFIGS[name]
    parser = _HWHZynq(hwh_name=str(write_hwh(data, tmp_path / "msq_accel.hwh")))
    check_ip_dict(parser.ip_dict, data)
    assert parser.clock_dict[0] == {"enable": 1, "divisor0": 4, "divisor1": 4}


def test_written_hwh_is_deterministic_and_says_what_wrote_it(tmp_path):
    a = write_hwh(BASE, tmp_path / "a.hwh").read_bytes()
    b = write_hwh(json.loads(json.dumps(BASE)), tmp_path / "b.hwh").read_bytes()
    assert a == b
    assert a.startswith(b"<?xml") and b"not by Vivado" in a and b'MODTYPE="axi_dma"' in a
    # a manifest file (or its directory) works too
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(BASE))
    assert write_hwh(tmp_path / "m", tmp_path / "c.hwh").read_bytes() == a


def test_write_hwh_errors(tmp_path):
    other = copy.deepcopy(BASE)
    other["part"] = "xczu3eg-sbva484-1-e"
    with pytest.raises(ValueError, match="Zynq-7000 .*'xczu3eg-sbva484-1-e' is not one"):
        write_hwh(other, tmp_path / "x.hwh")
    other = copy.deepcopy(BASE)
    del other["ip"]["vlnv"]
    with pytest.raises(ValueError, match=r"'ip.vlnv' \(vendor:library:name:version\) is needed"):
        write_hwh(other, tmp_path / "x.hwh")
    with pytest.raises(ValueError, match="distinct 64 KiB blocks"):
        write_hwh(BASE, tmp_path / "x.hwh", dma_base=IP_BASE)


def test_manifest_dma_section_is_checked(tmp_path):
    assert check_manifest(BASE)["dma"]["mm2s_mm_bits"] == 64 and check_manifest(WIDE)["dma"]["dre"] is True
    old = copy.deepcopy(BASE)
    old["dma"] = {"name": "axi_dma_0", "max_transfer_bytes": (1 << 26) - 1}  # what builds before the widths wrote
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"manifest.json: 'dma' lacks \['length_width', 'mm2s_stream_bits', .*'dre'\]"
                                         r".*older build: rebuild with `python -m flow build \.\.\. --force`"):
        load_manifest(path)
    cases = [
        (dict(mm2s_stream_bits=8), r"'dma.mm2s_stream_bits' 8 is not the input beat width \(64 bits\)"),
        (dict(s2mm_mm_bits=48), r"'dma.s2mm_mm_bits' is 48, expected an integer \(one of \[32, 64,"),
        (dict(max_transfer_bytes=1 << 26), r"'dma.max_transfer_bytes' 67108864 is not 2\*\*length_width - 1 = 67108863"),
        (dict(length_width=27, max_transfer_bytes=(1 << 27) - 1), r"'dma.length_width' is 27"),
        (dict(dre=0), r"'dma.dre' is 0, expected true or false"),
        (dict(length_width="26"), r"'dma.length_width' is '26', expected an integer"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            check_manifest(manifest(**change))
    narrow = copy.deepcopy(WIDE)
    narrow["dma"]["mm2s_mm_bits"] = 32
    with pytest.raises(ValueError, match=r"'dma.mm2s_mm_bits' 32 is narrower than its stream \(64 bits\)"):
        check_manifest(narrow)


def test_manifest_beat_format_is_checked(tmp_path):
    """The stream beat format of each side: the driver packs by it, so it must be complete and consistent."""
    spec = check_manifest(BASE)["input_spec"]
    assert (spec.beat_bits, spec.lane_bits, spec.beat.values_per_beat, spec.beats_per_sample, spec.bytes_per_sample) == (
        64, 8, 8, 8, 64)
    out = check_manifest(BASE)["output_spec"]
    assert (out.beats_per_sample, out.bytes_per_sample) == (3, 24)  # 10 values of 16 bits: 3 beats, 2 lanes of padding

    def changed(side, **fields):
        data = copy.deepcopy(BASE)
        data[side].update(fields)
        return data

    cases = [
        (changed("input", beat_bits=48), r"input: beat_bits must be one of \(32, 64\), got 48"),
        (changed("input", beat_bits=128, values_per_beat=16), r"input: beat_bits must be one of \(32, 64\), got 128"),
        (changed("output", values_per_beat=3), r"output: values_per_beat must be beat_bits // lane_bits = 4, got 3"),
        (changed("output", beats_per_sample=10), r"output: beats_per_sample 10 is not ceil\(10 values / 4 per beat\) = 3"),
        (changed("output", lane_bits=8), r"output: lane_bits 8 must be one of .* and hold ap_fixed<16,8"),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            check_manifest(data)


def test_old_manifest_is_refused_with_the_advice_to_rebuild(tmp_path):
    """A manifest from a build before several values per beat (format 1, no beat fields): never guessed at."""
    old = copy.deepcopy(BASE)
    old["format"] = 1
    for side in ("input", "output"):
        for key in ("beat_bits", "values_per_beat", "beats_per_sample"):
            del old[side][key]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"manifest.json: format 1 \(one value per stream beat\) is older than this "
                                         r"driver .*rebuild with `python -m flow build \.\.\. --force`"):
        load_manifest(path)
    old["format"] = 2  # format 2 but without the beat fields (edited by hand): the same advice, naming the keys
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"input: lacks the stream beat format \['beat_bits', 'values_per_beat', "
                                         r"'beats_per_sample'\] .*rebuild with `python -m flow build"):
        load_manifest(path)
