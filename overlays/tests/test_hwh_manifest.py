"""Board side, no build needed: the manifest's DMA section and the .hwh written from it, read back by
pynq's own parsers (the runtime metadata parser ``pynq.Overlay`` uses, and the legacy Zynq HWH parser)."""

from __future__ import annotations

import copy
import json

import pytest

from msq_overlay.hwh import DMA_BASE, DMA_VLNV, IP_BASE, write_hwh
from msq_overlay.manifest import check_manifest, load_manifest

BASE = {
    "format": 1, "overlay": "msq_accel", "board": "pynq-z2", "part": "xc7z020clg400-1", "clock_mhz": 100.0,
    "ip": {"name": "msq_accel_0", "vlnv": "msq.flow:hls:msq_accel:1.0", "registers": {"ctrl": 0, "n_samples": 16}},
    "dma": {"name": "axi_dma_0", "length_width": 26, "max_transfer_bytes": (1 << 26) - 1, "mm2s_stream_bits": 8,
            "s2mm_stream_bits": 16, "mm2s_mm_bits": 32, "s2mm_mm_bits": 32, "dre": False},
    "input": {"shape": [64], "type": {"width": 6, "integer": 2, "signed": True}, "lane_bits": 8},
    "output": {"shape": [10], "type": {"width": 16, "integer": 8, "signed": True}, "lane_bits": 16},
    "head": None, "bitstream": None, "hwh": "msq_accel.hwh",
}


def manifest(**dma) -> dict:
    data = copy.deepcopy(BASE)
    data["dma"].update(dma)
    return data


# a second configuration, so nothing passes by matching defaults: 64-bit lanes, wider memory side, DRE on
WIDE = manifest(length_width=23, max_transfer_bytes=(1 << 23) - 1, mm2s_stream_bits=64, s2mm_stream_bits=32,
                mm2s_mm_bits=64, s2mm_mm_bits=128, dre=True)
WIDE["input"]["lane_bits"], WIDE["output"]["lane_bits"] = 64, 32
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
    assert check_manifest(BASE)["dma"]["mm2s_mm_bits"] == 32 and check_manifest(WIDE)["dma"]["dre"] is True
    old = copy.deepcopy(BASE)
    old["dma"] = {"name": "axi_dma_0", "max_transfer_bytes": (1 << 26) - 1}  # what builds before the widths wrote
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"manifest.json: 'dma' lacks \['length_width', 'mm2s_stream_bits', .*'dre'\]"
                                         r".*older build: rebuild with `python -m flow build \.\.\. --force`"):
        load_manifest(path)
    cases = [
        (dict(mm2s_stream_bits=16), r"'dma.mm2s_stream_bits' 16 is not the input lane width \(8 bits\)"),
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
