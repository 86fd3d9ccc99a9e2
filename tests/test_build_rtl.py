"""python -m flow build --rtl: the RTL route's step plan, its generated variables and static Tcl (IP packaging,
then the same block design), the same manifest format, and an honest stop where Vivado is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flow import golden
from flow.build import NAMES, RTL_STEPS, STEPS, BuildConfig, ToolFailed, build, steps_for
from flow.cli import main
from tests.test_build import _fake_tool, _stub_build_dir, _vars, _vendor_stub

MODEL = str(golden.GOLDEN_DIR / "digits_msq4.h5")
TCL = Path(__file__).resolve().parents[1] / "flow" / "hls_templates" / "tcl"
needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="verilator not installed (apt-get install verilator; .ci/run installs it)")
needs_tclsh = pytest.mark.skipif(not shutil.which("tclsh"), reason="needs tclsh (Debian package tcl)")


def test_rtl_step_plan():
    """--rtl replaces convert .. hls_check by rtl_emit and rtl_package; vivado and package are the same steps."""
    hls = BuildConfig(model=MODEL)
    rtl = BuildConfig(model=MODEL, rtl=True)
    assert [n for n, _ in steps_for(rtl)] == ["fit", "rtl_emit", "rtl_package", "vivado", "package"]
    assert steps_for(hls) is STEPS and steps_for(rtl) is RTL_STEPS
    shared = {n: f for n, f in STEPS}
    assert all(shared[n] is f for n, f in RTL_STEPS if n in ("fit", "vivado", "package"))


def test_rtl_config_and_cli_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="rtl: the RTL route takes io_type 'io_parallel' only"):
        BuildConfig(model=MODEL, rtl=True, io_type="io_stream")
    out = tmp_path / "b"
    assert main(["build", MODEL, "--rtl", "--io-type", "io_stream", "--out", str(out)]) == 2
    assert "io_parallel" in capsys.readouterr().err
    # an HLS step named with --rtl: refused before the build directory is touched
    assert main(["build", MODEL, "--rtl", "--until", "hls_synth", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a step of the RTL route" in err and "rtl_package" in err and not out.exists()
    assert main(["build", MODEL, "--rtl", "--board", "zedboard", "--out", str(out)]) == 2
    assert "known boards" in capsys.readouterr().err


def _script_reads(script: Path) -> set[str]:
    """The variables a static Tcl script reads and does not set itself (procs' arguments, set/foreach/lassign)."""
    text = script.read_text()
    text = re.sub(r"(?m)^\s*#.*$", "", text)
    used = set(re.findall(r"\$\{?(\w+)", text))
    local = set(re.findall(r"\b(?:set|foreach|lappend|incr)\s+(\w+)", text))
    for params in re.findall(r"\bproc\s+\w+\s+\{([^}]*)\}", text):
        local |= set(params.split())
    local |= {"errorInfo", "argv"}
    return used - local


def test_static_tcl_reads_only_generated_variables(tmp_path):
    """Every variable the packaging and block design scripts read is written by build_vars (RTL route: with
    the RTL variables, without the HLS ones); the HLS route's scripts likewise (a static check, no tool runs)."""
    from flow.build.steps import BuildContext, build_vars

    io = {"project": "myproject", "input": {"shape": [64], "type": {"width": 6, "integer": 2, "signed": False}},
          "output": {"shape": [10], "type": {"width": 16, "integer": 8, "signed": True}}}
    for rtl, scripts in ((True, ("rtl_package_ip.tcl", "vivado_block_design.tcl")),
                         (False, ("vitis_hls_build.tcl", "vivado_block_design.tcl"))):
        ctx = BuildContext(cfg=BuildConfig(model=MODEL, out=str(tmp_path), rtl=rtl), out=tmp_path, state={"io": io})
        variables = build_vars(ctx)
        for name in scripts:
            missing = _script_reads(TCL / name) - set(variables)
            assert not missing, f"{name} reads {sorted(missing)}, which build_vars (rtl={rtl}) does not write"
        assert (variables["ip_library"] == "rtl") == rtl and ("hls_sources" in variables) != rtl
    text = (TCL / "rtl_package_ip.tcl").read_text()
    for value in (NAMES.top, NAMES.ip_instance, NAMES.rtl_top, NAMES.in_port, NAMES.ctrl_port, "xc7z020", "pynq"):
        assert value not in text, f"rtl_package_ip.tcl hard-codes {value}"
    assert "ipx::package_project" in text and "ipx::associate_bus_interfaces" in text


@pytest.fixture(scope="module")
def rtl_build(tmp_path_factory):
    """The demo MSQ MLP through the RTL route, stopped where Vivado is missing (Resource RF 128 fits pynq-z2)."""
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed (apt-get install verilator; .ci/run installs it)")
    out = tmp_path_factory.mktemp("rtl_build") / "b"
    cfg = BuildConfig(model=MODEL, out=str(out), strategy="Resource", reuse_factor=128, rtl=True)
    return cfg, build(cfg, echo=lambda *_: None)


@pytest.mark.verilator
@pytest.mark.csim
def test_rtl_build_stops_honestly_at_vivado(rtl_build):
    cfg, state = rtl_build
    if shutil.which("vivado"):
        pytest.skip("vivado is on PATH here; the stop is tested where it is not")
    assert state["steps"]["fit"]["status"] == state["steps"]["rtl_emit"]["status"] == "done"
    assert state["stopped"]["step"] == "rtl_package"
    assert state["steps"]["rtl_package"] == {
        "status": "blocked", "tool": "vivado", "seconds": 0.0,
        "command": "vivado -mode batch -nojournal -log logs/rtl_package_vivado.log -source tcl/rtl_package_ip.tcl"}
    assert not {"convert", "hls_synth", "vivado", "package"} & set(state["steps"])
    out = Path(cfg.out)
    assert not (out / "hls_ip").exists() and not (out / "rtl_ip").exists()
    assert not list((out / "overlay").glob("*.bit"))
    assert json.loads((out / "overlay" / "manifest.json").read_text())["bitstream"] is None


@pytest.mark.verilator
@pytest.mark.csim
def test_rtl_build_generated_files_agree(rtl_build):
    """build_vars.tcl, the manifest and the Verilog agree: the RTL IP's VLNV, the register map from one place
    (flow.build.names -> flow.rtl.axilite -> manifest), the manifest format of the HLS route; the IP was checked
    in Verilator through AXI-Lite + AXI-Stream and its library is the overlay's simulation library."""
    from flow.build.steps import BuildContext, manifest_draft
    from flow.rtl.axilite import register_map

    cfg, state = rtl_build
    out = Path(cfg.out)
    tv = _vars(out)
    manifest = json.loads((out / "overlay" / "manifest.json").read_text())
    assert tv["ip_vlnv"] == manifest["ip"]["vlnv"] == f"{NAMES.ip_vendor}:rtl:{NAMES.top}:{NAMES.ip_version}"
    assert tv["ip_name"] == NAMES.top and tv["ip_instance"] == manifest["ip"]["name"] == NAMES.ip_instance
    assert tv["rtl_top"] == NAMES.rtl_top and tv["ip_repo"] == "rtl_ip" and tv["fclk_hz"] == "100000000"
    assert tv["ctrl_port"] == NAMES.ctrl_port and tv["clock_port"] == "ap_clk" and tv["reset_port"] == "ap_rst_n"
    assert not any(k.startswith("hls_") for k in tv)
    sources = re.search(r"^set rtl_sources \[list (.*)\]$", (out / "build_vars.tcl").read_text(), re.M).group(1)
    for src in re.findall(r"\{([^}]*)\}", sources):
        assert (out / src).is_file()
    ip_v = (out / "rtl" / "msq_rtl_ip.v").read_text()
    assert f"module {NAMES.rtl_top} (" in ip_v and f"{NAMES.in_port}_TDATA" in ip_v and f"{NAMES.ctrl_port}_AWADDR" in ip_v
    regs = register_map()
    assert manifest["ip"]["registers"] == regs.manifest == {"ctrl": NAMES.ctrl_offset, "n_samples": NAMES.n_samples_offset}
    assert f"ADDR_N_SAMPLES = {regs.addr_bits}'h{regs.n_samples:x};" in ip_v
    # the same manifest format as the HLS route (one driver): same keys, ip and dma entries
    hls_ctx = BuildContext(cfg=BuildConfig(model=MODEL, out=cfg.out), out=out, state=state)
    hls = manifest_draft(hls_ctx)
    assert set(hls) == set(manifest)
    assert hls["dma"] == manifest["dma"] and set(hls["ip"]) == set(manifest["ip"])
    assert hls["ip"]["registers"] == manifest["ip"]["registers"]
    # the checks of rtl_emit: lint clean, RTL IP == C-simulation, overlay library == Keras
    assert state["rtl_check"]["lint_warnings"] == 0
    assert state["rtl_check"]["outputs_equal"] == state["rtl_check"]["samples"] > 0
    assert state["csim_check"]["outputs_equal"] > 0
    import ctypes

    lib = ctypes.CDLL(str(out / "overlay" / "libmsq_axi_sim.so"))
    assert hasattr(lib, "msq_ip_write")  # the RTL IP harness (AXI-Lite), not the HLS C-simulation bridge


@pytest.mark.verilator
@pytest.mark.csim
@needs_tclsh
def test_rtl_tcl_runs_under_the_vendor_stub(rtl_build, tmp_path):
    """rtl_package_ip.tcl then vivado_block_design.tcl under the strict stub (tests/data/vendor_stub.tcl): the
    packager infers in_stream, out_stream, s_axi_control, ap_clk, ap_rst_n from the emitted Verilog's ports, the
    clock is associated with every bus, the reset is active low, FREQ_HZ is the fabric clock, the AXI-Lite slave
    has a memory map, and the block design instantiates the packaged IP by the VLNV of the manifest."""
    cfg, _ = rtl_build
    work = tmp_path / "b"
    shutil.copytree(cfg.out, work)
    manifest = json.loads((work / "overlay" / "manifest.json").read_text())
    calls, _ = _vendor_stub(work, "tcl/rtl_package_ip.tcl")
    root = (work / "rtl_ip").resolve()
    assert "create_project rtl_pkg rtl_pkg -part xc7z020clg400-1 -force" in calls
    assert f"ipx::package_project -root_dir {root} -vendor {NAMES.ip_vendor} -library rtl -taxonomy /UserIP " \
           "-import_files -set_current true -force" in calls
    assert "set_property top msq_rtl_ip sources_1" in calls
    for bus in ("in_stream", "out_stream", "s_axi_control"):
        assert f"ipx::associate_bus_interfaces -busif {bus} -clock ap_clk ipx:core" in calls
    assert "set_property value ACTIVE_LOW ipx:param:ap_rst_n:POLARITY" in calls
    assert "set_property value 100000000 ipx:param:ap_clk:FREQ_HZ" in calls
    assert calls[-4:] == ["ipx::check_integrity ipx:core", "ipx::save_core ipx:core", "close_project", "exit"]
    assert sorted(p.name for p in (root / "src").iterdir()) == ["design.v", "msq_rtl_ip.v"]
    bd, cells = _vendor_stub(work, "tcl/vivado_block_design.tcl")
    assert cells[manifest["ip"]["name"]]["VLNV"] == manifest["ip"]["vlnv"]
    assert f"set_property ip_repo_paths {root} vivado_prj" in bd
    assert f"connect_bd_intf_net {manifest['dma']['name']}/M_AXIS_MM2S {manifest['ip']['name']}/in_stream" in bd
    assert any(f"Slave /{manifest['ip']['name']}/s_axi_control" in c for c in bd)
    assert bd[-1] == "exit"


@pytest.mark.verilator
@pytest.mark.csim
@needs_tclsh
@pytest.mark.parametrize("edit, error", [
    # Verilog ports not named as the block design's interfaces: nothing inferred as in_stream
    (("rtl/msq_rtl_ip.v", "in_stream_", "s_axis_"), "inferred no bus interface 'in_stream'"),
    # the reset's polarity left to the packager's guess
    (("tcl/rtl_package_ip.tcl", "set_bus_parameter $reset POLARITY ACTIVE_LOW\n", ""), "reset ap_rst_n has no POLARITY"),
    # the AXI-Lite slave not associated with the clock
    (("tcl/rtl_package_ip.tcl", "[list $in_port $out_port $ctrl_port]", "[list $in_port $out_port]"),
     "bus interface s_axi_control is associated with no clock"),
])
def test_vendor_stub_rejects_broken_rtl_packaging(rtl_build, tmp_path, edit, error):
    cfg, _ = rtl_build
    work = tmp_path / "b"
    shutil.copytree(cfg.out, work)
    path, old, new = edit
    text = (work / path).read_text()
    assert old in text
    (work / path).write_text(text.replace(old, new))
    assert re.search(re.escape(error), _vendor_stub(work, "tcl/rtl_package_ip.tcl", ok=False))


@pytest.mark.verilator
@pytest.mark.csim
def test_rtl_resume_refusals_and_tool_failures(rtl_build, tmp_path, monkeypatch):
    """Without --force an existing build is never overwritten; resume keeps the route (switching is refused);
    a Vivado that fails or writes no IP fails the step: no IP, no bitstream is claimed."""
    import dataclasses

    cfg, _ = rtl_build
    with pytest.raises(FileExistsError, match="--resume"):
        build(cfg, echo=lambda *_: None)
    with pytest.raises(ValueError, match=re.escape("rtl: True -> None")):
        build(dataclasses.replace(cfg, rtl=False), resume=True, echo=lambda *_: None)
    work = tmp_path / "b"
    shutil.copytree(cfg.out, work)
    state = json.loads((work / "state.json").read_text())
    state["fingerprint"]["out"] = state["config"]["out"] = str(work)  # the copy resumes as its own build
    (work / "state.json").write_text(json.dumps(state))
    moved = dataclasses.replace(cfg, out=str(work))
    lines = []
    if not shutil.which("vivado"):
        state = build(moved, resume=True, echo=lines.append)
        assert lines[:2] == ["[fit] done earlier, skipped", "[rtl_emit] done earlier, skipped"]
        assert state["stopped"]["step"] == "rtl_package"
    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "vivado", "echo 'ERROR: [IP_Flow 19-167] Failed to package IP'; exit 1")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolFailed, match=r"vivado -mode batch .*rtl_package_ip.tcl` exited with 1; see .*rtl_package.log"):
        build(moved, resume=True, echo=lambda *_: None)
    assert json.loads((work / "state.json").read_text())["steps"]["rtl_package"]["status"] == "failed"
    _fake_tool(bin_dir, "vivado", "exit 0")  # "succeeds" but packages nothing
    with pytest.raises(ToolFailed, match=r"wrote no .*rtl_ip/component.xml"):
        build(moved, resume=True, echo=lambda *_: None)
    assert not list((work / "overlay").glob("*.bit"))


BOARD_CHECK = """
import json, sys
from pathlib import Path
import numpy as np
from msq_overlay.driver import MSQOverlay
from msq_overlay.sim import SimDevice
overlay = Path(sys.argv[1])
dev = SimDevice(overlay)  # the overlay's libmsq_axi_sim.so: the RTL IP in Verilator, run through its AXI-Lite map
ol = MSQOverlay(dev.placeholder_bitfile(), device=dev)
print(json.dumps(ol.self_test()))
"""


@pytest.mark.verilator
@pytest.mark.csim
def test_board_driver_runs_on_the_rtl_overlay(rtl_build, tmp_path):
    """The unchanged driver (MSQOverlay under pynq with SimDevice) on the RTL build's overlay directory: its
    manifest, and its simulation library (the RTL IP), pass the overlay's C-simulation self-test."""
    from tests.test_board_sim import BOARD_PYTHON

    if not BOARD_PYTHON.exists():
        pytest.skip(f"board environment {BOARD_PYTHON} missing; `make board-env` creates it")
    cfg, _ = rtl_build
    script = tmp_path / "check.py"
    script.write_text(BOARD_CHECK)
    proc = subprocess.run([str(BOARD_PYTHON), str(script), str(Path(cfg.out) / "overlay")], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["passed"] and result["equal"] == result["outputs"] > 0


@pytest.mark.vivado
@pytest.mark.skipif(not (shutil.which("vivado") and shutil.which("verilator")), reason="needs vivado and verilator on PATH")
def test_full_rtl_build_writes_bitstream(tmp_path):
    cfg = BuildConfig(model=MODEL, out=str(tmp_path / "b"), strategy="Resource", reuse_factor=128, rtl=True)
    state = build(cfg)
    assert "stopped" not in state
    overlay = tmp_path / "b" / "overlay"
    manifest = json.loads((overlay / "manifest.json").read_text())
    assert (tmp_path / "b" / "rtl_ip" / "component.xml").exists()
    assert (overlay / manifest["bitstream"]["file"]).exists() and (overlay / manifest["hwh"]).exists()
