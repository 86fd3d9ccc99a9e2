"""python -m flow build: generated HLS top, Tcl and manifest agree; tool steps stop honestly."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from flow.build import NAMES, BuildConfig, ToolFailed, build
from flow.build.steps import read_register_offsets
from flow.cli import main

pytestmark = pytest.mark.csim


def _vars(out: Path) -> dict:
    text = (out / "build_vars.tcl").read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"^set (\w+) \{(.*)\}$", text, re.M)}


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_generated_files_agree(overlay_builds, name):
    cfg, state = overlay_builds[name]
    out = Path(cfg.out)
    tv = _vars(out)
    manifest = json.loads((out / "overlay" / "manifest.json").read_text())
    header = (out / "hls4ml_prj" / "firmware" / "msq_axi_config.h").read_text()
    top = (out / "hls4ml_prj" / "firmware" / "msq_axi_top.cpp").read_text()
    top_h = (out / "hls4ml_prj" / "firmware" / "msq_axi_top.h").read_text()
    # the board's part and preset
    assert tv["part"] == manifest["part"] == "xc7z020clg400-1"
    assert tv["board_part"] == manifest["board_part"] == "tul.com.tw:pynq-z2:part0:1.0"
    # stream interfaces, a DATAFLOW top, TLAST on the last beat of the last sample
    assert f"#pragma HLS INTERFACE axis port = {tv['in_port']}" in top
    assert f"#pragma HLS INTERFACE axis port = {tv['out_port']}" in top
    assert "#pragma HLS INTERFACE s_axilite port = n_samples" in top and "#pragma HLS DATAFLOW" in top
    assert "s == n_samples - 1 && b == beats<CONFIG_T>::out - 1" in top_h
    assert "static const bool io_stream = false;" in header  # the default --io-type
    # widths: HLS config == Tcl (DMA stream widths) == manifest (driver packing), all from beat_format
    from flow.build.steps import stream_format

    for side, prefix, dma in (("input", "in", "mm2s"), ("output", "out", "s2mm")):
        fmt = stream_format(state["io"][side])
        lane, beat, per_beat = (int(re.search(rf"{prefix}_{k} = (\d+);", header).group(1)) for k in ("lane", "beat", "per_beat"))
        assert (lane, beat, per_beat) == (fmt.lane_bits, fmt.beat_bits, fmt.values_per_beat)
        assert beat == int(tv[f"dma_{dma}_stream_bits"]) == manifest["dma"][f"{dma}_stream_bits"] == manifest[side]["beat_bits"]
        assert {k: manifest[side][k] for k in ("lane_bits", "values_per_beat", "beats_per_sample")} == {
            "lane_bits": lane, "values_per_beat": per_beat, "beats_per_sample": -(-fmt.count // per_beat)}
        assert manifest[side]["type"]["width"] <= lane and beat in (32, 64)
    assert manifest["input"]["lane_bits"] == 8 and manifest["input"]["beat_bits"] == 64  # 64 fixed<6,2>: 8 a beat
    n_in = int(re.search(r"n_in = (\d+);", header).group(1))
    assert n_in == 64 and manifest["input"]["shape"] in ([64], [8, 8, 1])
    # names: one source (flow.build.names) reaches Tcl and manifest; the Tcl scripts hard-code none
    assert tv["ip_instance"] == manifest["ip"]["name"] == NAMES.ip_instance
    assert tv["dma_instance"] == manifest["dma"]["name"] == NAMES.dma_instance
    assert tv["ip_vlnv"] == manifest["ip"]["vlnv"]
    for script in (out / "tcl").glob("*.tcl"):
        text = script.read_text()
        for value in (NAMES.ip_instance, NAMES.dma_instance, NAMES.top, "xc7z020", "pynq"):
            assert value not in text, f"{script.name} hard-codes {value}"
    assert manifest["head"] == ("head.npz" if name == "cnn" else None)
    assert (out / "overlay" / "libmsq_axi_sim.so").exists()
    assert state["csim_check"]["outputs_equal"] > 0


def test_build_stops_before_vendor_tools(overlay_builds):
    cfg, state = overlay_builds["mlp"]
    if shutil.which("vitis_hls"):
        pytest.skip("vitis_hls is on PATH here; the stop is tested where it is not")
    assert state["stopped"]["step"] == "hls_synth"
    assert state["steps"]["hls_synth"] == {"status": "blocked", "tool": "vitis_hls", "command": "vitis_hls -f tcl/vitis_hls_build.tcl", "seconds": 0.0}
    assert "vivado" not in state["steps"] and "package" not in state["steps"]
    overlay = Path(cfg.out) / "overlay"
    assert not list(overlay.glob("*.bit")) and json.loads((overlay / "manifest.json").read_text())["bitstream"] is None


def test_refuses_existing_directory_and_resumes(overlay_builds, capsys):
    cfg, _ = overlay_builds["mlp"]
    with pytest.raises(FileExistsError, match="--resume"):
        build(cfg, echo=lambda *_: None)
    lines = []
    state = build(cfg, resume=True, echo=lines.append)
    assert lines[:4] == ["[fit] done earlier, skipped", "[convert] done earlier, skipped", "[accel_top] done earlier, skipped",
                         "[csim_lib] done earlier, skipped"]
    assert state["stopped"]["step"] == "hls_synth" or shutil.which("vitis_hls")
    model = cfg.model
    assert main(["build", model, "--out", cfg.out, "--input-precision", cfg.input_precision]) == 2
    assert "--force" in capsys.readouterr().err


def test_cli_exit_codes(tmp_path, capsys):
    from flow import golden

    model = str(golden.GOLDEN_DIR / "digits_fixed4.h5")
    assert main(["build", model, "--board", "zedboard", "--out", str(tmp_path / "b")]) == 2
    assert "known boards: pynq-z1, pynq-z2, zc706" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "b")]) == 2
    assert "nope.h5" in capsys.readouterr().err
    out = tmp_path / "zc706"
    assert main(["build", model, "--board", "zc706", "--out", str(out), "--until", "accel_top", "--optimize"]) == 0
    tv = _vars(out)
    assert tv["part"] == "xc7z045ffg900-2" and tv["board_part"] == "xilinx.com:zc706:part0:1.4" and tv["fclk_mhz"] == "200.0"
    if not shutil.which("vitis_hls"):
        assert main(["build", model, "--board", "zc706", "--out", str(out), "--resume", "--optimize"]) == 3
        assert "no bitstream was built" in capsys.readouterr().out


def _fake_tool(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def test_tool_exit_codes_are_checked(tmp_path, monkeypatch):
    from flow import golden

    cfg = BuildConfig(model=str(golden.GOLDEN_DIR / "digits_fixed4.h5"), out=str(tmp_path / "b"), allow_overbudget=True)
    build(cfg, until="csim_lib", echo=lambda *_: None)
    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "vitis_hls", "echo 'ERROR: [HLS 200-70] synthesis failed'; exit 1")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolFailed, match=r"vitis_hls -f tcl/vitis_hls_build.tcl` exited with 1; see .*hls_synth.log"):
        build(cfg, resume=True, echo=lambda *_: None)
    assert "synthesis failed" in (tmp_path / "b" / "logs" / "hls_synth.log").read_text()
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["steps"]["hls_synth"]["status"] == "failed"
    _fake_tool(bin_dir, "vitis_hls", "exit 0")  # "succeeds" but exports nothing
    with pytest.raises(ToolFailed, match="no driver header"):
        build(cfg, resume=True, echo=lambda *_: None)


def test_register_offsets_from_hls_driver_header(tmp_path):
    src = tmp_path / "solution1/impl/misc/drivers/msq_accel_v1_0/src"
    src.mkdir(parents=True)
    (src / f"x{NAMES.top}_hw.h").write_text(
        "#define XMSQ_ACCEL_CONTROL_ADDR_AP_CTRL        0x00\n#define XMSQ_ACCEL_CONTROL_ADDR_N_SAMPLES_DATA 0x18\n"
    )
    assert read_register_offsets(tmp_path) == {"ctrl": 0, "n_samples": 0x18}


@pytest.mark.vivado
@pytest.mark.skipif(not (shutil.which("vitis_hls") and shutil.which("vivado")), reason="needs vitis_hls and vivado on PATH")
def test_full_build_writes_bitstream(tmp_path, digits):
    from flow import golden

    cfg = BuildConfig(model=str(golden.GOLDEN_DIR / "digits_msq4.h5"), out=str(tmp_path / "b"), input_precision=digits.input_precision())
    state = build(cfg, optimize=True)
    assert "stopped" not in state
    overlay = tmp_path / "b" / "overlay"
    manifest = json.loads((overlay / "manifest.json").read_text())
    assert (overlay / manifest["bitstream"]["file"]).exists() and (overlay / manifest["hwh"]).exists()


@pytest.mark.skipif(not shutil.which("tclsh"), reason="needs tclsh (Debian package tcl)")
def test_static_tcl_runs_with_generated_variables(overlay_builds, tmp_path):
    """Both scripts run under tclsh with the vendor commands stubbed strictly (tests/data/vendor_stub.tcl:
    unknown commands fail, the project tree has Vivado 2020.2+'s .gen/ layout): every variable they read
    exists, and the calls carry the board's part, preset, the DMA's widths and DRE, current automation keys."""
    cfg, _ = overlay_builds["cnn"]
    work = tmp_path / "b"
    shutil.copytree(cfg.out, work)
    manifest = json.loads((work / "overlay" / "manifest.json").read_text())
    variables = _vars(work)

    hls, _ = _vendor_stub(work, "tcl/vitis_hls_build.tcl")
    assert "set_part xc7z020clg400-1" in hls and "create_clock -period 10.0 -name default" in hls
    assert "set_top msq_accel" in hls and hls[-1] == "exit"
    assert any(c.startswith("export_design -format ip_catalog") and "-ipname msq_accel" in c for c in hls)
    assert (work / "hls_ip/solution1/impl/ip/component.xml").exists()  # the stub's export, read by update_ip_catalog

    bd, cells = _vendor_stub(work, "tcl/vivado_block_design.tcl")
    assert "create_project vivado_prj vivado -part xc7z020clg400-1 -force" in bd
    assert "set_property board_part tul.com.tw:pynq-z2:part0:1.0 vivado_prj" in bd
    assert f"create_bd_cell -type ip -vlnv {manifest['ip']['vlnv']} {manifest['ip']['name']}" in bd
    assert f"connect_bd_intf_net {manifest['dma']['name']}/M_AXIS_MM2S {manifest['ip']['name']}/in_stream" in bd
    assert f"connect_bd_intf_net {manifest['ip']['name']}/out_stream {manifest['dma']['name']}/S_AXIS_S2MM" in bd
    # the DMA: stream widths are the beats, memory-mapped widths and DRE explicit, as build_vars and the manifest say
    dma = cells[manifest["dma"]["name"]]
    assert dma["VLNV"] == "xilinx.com:ip:axi_dma:7.1"
    for ch, stream, beat in (("mm2s", "c_m_axis_mm2s_tdata_width", manifest["input"]["beat_bits"]),
                             ("s2mm", "c_s_axis_s2mm_tdata_width", manifest["output"]["beat_bits"])):
        mm = int(dma[f"CONFIG.c_m_axi_{ch}_data_width"])
        assert int(dma[f"CONFIG.{stream}"]) == beat == manifest["dma"][f"{ch}_stream_bits"]
        assert mm == int(variables[f"dma_{ch}_mm_bits"]) == manifest["dma"][f"{ch}_mm_bits"] and mm >= max(32, beat)
        assert dma[f"CONFIG.c_include_{ch}_dre"] == variables["dma_dre"] == str(int(manifest["dma"]["dre"]))
    assert int(dma["CONFIG.c_sg_length_width"]) == manifest["dma"]["length_width"]
    # axi4 automation with the current clock keys; the wrapper is the path make_wrapper returned (.gen/)
    axi4 = [c for c in bd if c.startswith("apply_bd_automation -rule xilinx.com:bd_rule:axi4")]
    assert len(axi4) == 4 and all("Clk_master Auto Clk_slave Auto Clk_xbar Auto" in c for c in axi4)
    wrapper = (work / "vivado/vivado_prj.gen/sources_1/bd/msq_bd/hdl/msq_bd_wrapper.v").resolve()
    assert f"add_files -norecurse {wrapper}" in bd
    assert "set_property top msq_bd_wrapper sources_1" in bd
    assert any(c.startswith("launch_runs impl_1 -to_step write_bitstream") for c in bd) and bd[-1] == "exit"
    # the bitstream and the .gen/ handoff the stub's run wrote are copied where the manifest says
    assert (work / "overlay" / "msq_accel.bit").read_text() == "stub"
    assert (work / "overlay" / manifest["hwh"]).read_text() == "stub"


@pytest.mark.csim
def test_lq_model_builds_to_the_checked_csim_library(tmp_path, digits):
    """A post-training LQ model (bit-plane kernels) goes through convert -> accel_top -> csim_lib, whose
    g++ build of the AXI top is checked bit for bit against Keras."""
    import tensorflow as tf

    from flow.models import QuantSpec, mlp
    from flow.ptq import lq_quantize

    tf.keras.utils.set_random_seed(3)
    model = lq_quantize(mlp(64, 10, (16,), QuantSpec("float")), digits.x_train[:200], bits=2, mantissa_bits=4,
                        bias_bits=10)
    path = tmp_path / "lq2.h5"
    model.save(path)
    cfg = BuildConfig(model=str(path), out=str(tmp_path / "b"), input_precision=digits.input_precision())
    state = build(cfg, until="csim_lib", echo=lambda *_: None, optimize=True)
    assert all(state["steps"][s]["status"] == "done" for s in ("convert", "accel_top", "csim_lib"))
    assert "nnet::lq_dense_latency<" in (tmp_path / "b" / "hls4ml_prj" / "firmware" / "myproject.cpp").read_text()


def test_resume_refuses_changed_settings_and_model(tmp_path):
    from flow import golden

    model = tmp_path / "m.h5"
    shutil.copy(golden.GOLDEN_DIR / "digits_fixed4.h5", model)
    cfg = BuildConfig(model=str(model), out=str(tmp_path / "b"), allow_overbudget=True)
    build(cfg, until="convert", echo=lambda *_: None)
    import dataclasses

    for change, named in ((dict(board="zc706"), "board: 'pynq-z2' -> 'zc706'"),
                          (dict(strategy="Resource", reuse_factor=4), "reuse_factor: 1 -> 4"),
                          (dict(io_type="io_stream"), "io_type: 'io_parallel' -> 'io_stream'")):
        with pytest.raises(ValueError, match=re.escape(named)):
            build(dataclasses.replace(cfg, **change), resume=True, echo=lambda *_: None)
    shutil.copy(golden.GOLDEN_DIR / "digits_sp24.h5", model)  # same path, other content
    with pytest.raises(ValueError, match="model file's content changed.*--force"):
        build(cfg, resume=True, echo=lambda *_: None)


VENDOR_STUB = Path(__file__).parent / "data" / "vendor_stub.tcl"


def _vendor_stub(work: Path, script: str, ok: bool = True):
    """Runs ``script`` (relative to ``work``) under the strict vendor stub: (calls, cells) with cells the
    block design cells' final settings; with ``ok=False`` the run must fail and its output is returned."""
    import subprocess

    proc = subprocess.run(["tclsh", str(VENDOR_STUB), script], cwd=work, capture_output=True, text=True, timeout=60)
    if not ok:
        assert proc.returncode != 0, "the stub accepted the script"
        return proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = (work / "calls.log").read_text().splitlines()
    cells: dict = {}
    for line in (work / "bd_cells.log").read_text().splitlines():
        cell, key, value = line.split("\t")
        cells.setdefault(cell, {})[key] = value
    return calls, cells


def _stub_build_dir(work: Path, input_width: int = 6, output_width: int = 40, n_in: int = 64):
    """A build directory as accel_top lays it out (build_vars.tcl from steps.build_vars, the static Tcl,
    stand-in HLS sources) for a fake model with the given input/output widths: no conversion needed."""
    from flow import golden
    from flow.build.steps import BuildContext, dma_parameters, write_build_vars

    io = {"project": "myproject",
          "input": {"shape": [n_in], "type": {"width": input_width, "integer": 2, "signed": False}},
          "output": {"shape": [10], "type": {"width": output_width, "integer": 16, "signed": True}}}
    cfg = BuildConfig(model=str(golden.GOLDEN_DIR / "digits_msq4.h5"), out=str(work))
    ctx = BuildContext(cfg=cfg, out=work, state={"io": io}, echo=lambda *_: None)
    (work / "overlay").mkdir(parents=True)
    variables = write_build_vars(ctx)
    for src in variables["hls_sources"]:
        (work / src).parent.mkdir(parents=True, exist_ok=True)
        (work / src).write_text("// stand-in\n")
    return variables, dma_parameters(ctx)


@pytest.mark.parametrize("input_width, n_in, output_width, expected", [
    # 64 6-bit inputs: 8 a 64-bit beat; a 40-bit output: a 64-bit lane, one a 64-bit beat
    (6, 64, 40, {"mm2s": (64, 64), "s2mm": (64, 64)}),
    # 2 16-bit inputs fit one 32-bit beat; 10 16-bit outputs take 3 64-bit beats (5 of 32 bits)
    (16, 2, 16, {"mm2s": (32, 32), "s2mm": (64, 64)}),
])
def test_dma_widths_follow_the_beats(tmp_path, input_width, n_in, output_width, expected):
    """The DMA's streams are the top's beats (32 or 64 bits, from beat_format), its memory-mapped sides never
    narrower; DRE off; the Tcl sets exactly these."""
    work = tmp_path / "b"
    variables, dma = _stub_build_dir(work, input_width=input_width, output_width=output_width, n_in=n_in)
    for ch, (stream, mm) in expected.items():
        assert (dma[f"{ch}_stream_bits"], dma[f"{ch}_mm_bits"]) == (stream, mm)
        assert (variables[f"dma_{ch}_stream_bits"], variables[f"dma_{ch}_mm_bits"]) == (stream, mm)
    assert variables["dma_dre"] == 0
    _vendor_stub(work, "tcl/vitis_hls_build.tcl")
    _, cells = _vendor_stub(work, "tcl/vivado_block_design.tcl")
    got = {k[len("CONFIG."):]: v for k, v in cells[NAMES.dma_instance].items() if k.startswith("CONFIG.c_")}
    assert {k: got[k] for k in ("c_m_axis_mm2s_tdata_width", "c_m_axi_mm2s_data_width", "c_s_axis_s2mm_tdata_width",
                                "c_m_axi_s2mm_data_width", "c_include_mm2s_dre", "c_include_s2mm_dre")} == {
        "c_m_axis_mm2s_tdata_width": str(expected["mm2s"][0]), "c_m_axi_mm2s_data_width": str(expected["mm2s"][1]),
        "c_s_axis_s2mm_tdata_width": str(expected["s2mm"][0]), "c_m_axi_s2mm_data_width": str(expected["s2mm"][1]),
        "c_include_mm2s_dre": "0", "c_include_s2mm_dre": "0"}


_CLKRST = ("apply_bd_automation -rule xilinx.com:bd_rule:clkrst -config [list Clk /$ps_name/FCLK_CLK0] \\\n"
           "    [get_bd_pins $ip_instance/ap_clk]\n")


@pytest.mark.parametrize("edits, error", [
    # the old single axi4 automation clock key
    ([("Clk_master Auto Clk_slave Auto Clk_xbar Auto", "Clk Auto")], "bare 'Clk' is the old single clock key"),
    # the wrapper looked for next to the .bd (.srcs/) instead of where make_wrapper wrote it (.gen/)
    ([("set wrapper [make_wrapper -files [get_files $bd_name.bd] -top]\nadd_files -norecurse $wrapper",
       "set bd_file [get_files $bd_name.bd]\nmake_wrapper -files $bd_file -top\n"
       "add_files -norecurse [file join [file dirname $bd_file] hdl ${bd_name}_wrapper.v]")],
     "add_files: no such file: .*vivado_prj.srcs/sources_1/bd/msq_bd/hdl/msq_bd_wrapper.v"),
    # memory-mapped widths / DRE left to Vivado's defaults, or too narrow, or misspelt
    ([("    CONFIG.c_m_axi_s2mm_data_width $dma_s2mm_mm_bits \\\n", "")], "CONFIG.c_m_axi_s2mm_data_width is not set explicitly"),
    ([("    CONFIG.c_include_mm2s_dre $dma_dre \\\n", "")], "CONFIG.c_include_mm2s_dre is not set explicitly"),
    ([("CONFIG.c_m_axi_s2mm_data_width $dma_s2mm_mm_bits", "CONFIG.c_m_axi_s2mm_data_width {32}")],
     "s2mm memory-mapped width 32 is narrower than its stream \\(64\\)"),
    ([("CONFIG.c_s_axis_s2mm_tdata_width $dma_s2mm_stream_bits", "CONFIG.c_s_axis_s2mm_data_width $dma_s2mm_stream_bits")],
     "c_s_axis_s2mm_data_width is not an AXI DMA 7.1 parameter"),
    # clkrst on ap_clk after the axi4 automation has already clocked it
    ([(_CLKRST, ""), ("assign_bd_address\n", _CLKRST + "assign_bd_address\n")], "ap_clk is already driven"),
    # HP0 used before the PS enables it
    ([("CONFIG.PCW_USE_S_AXI_HP0 {1} ", "")], "S_AXI_HP0 does not exist until CONFIG.PCW_USE_S_AXI_HP0 is 1"),
    # a command Vivado does not have
    ([("assign_bd_address\n", "assign_bd_addresses\n")], "unknown command 'assign_bd_addresses'"),
    # the handoff looked for in the pre-2020.2 tree only: a clear error
    ([("[list $vivado_project.gen $vivado_project.srcs]", "[list $vivado_project.srcs]")],
     "Vivado wrote no hardware handoff; looked for vivado/vivado_prj.srcs/sources_1/bd/msq_bd/hw_handoff/msq_bd.hwh"),
])
def test_vendor_stub_rejects_broken_vivado_tcl(tmp_path, edits, error):
    """The strict stub catches each bug the block design script had (and a few likely ones): the current
    script with one such edit must fail, naming the problem."""
    work = tmp_path / "b"
    _stub_build_dir(work)
    _vendor_stub(work, "tcl/vitis_hls_build.tcl")
    script = work / "tcl" / "vivado_block_design.tcl"
    text = script.read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"edit does not apply: {old!r}"
        text = text.replace(old, new)
    script.write_text(text)
    assert re.search(error, _vendor_stub(work, "tcl/vivado_block_design.tcl", ok=False))
