"""The fit gate: estimate before any tool, csynth.xml before Vivado, the demo's choice of design."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from flow import golden
from flow.boards import get_board
from flow.build import BuildConfig, build
from flow.build.fit_gate import optimize_config, read_csynth
from flow.build.tools import ToolFailed
from flow.cli import main
from flow.resources.fit import DoesNotFit, fit_at, gate, smallest_fit

MSQ = str(golden.GOLDEN_DIR / "digits_msq4.h5")


@pytest.fixture(scope="module")
def msq_model():
    import flow

    return flow.load_model(MSQ)


def test_gate_names_resources_and_the_fastest_fitting_design(msq_model):
    board = get_board("pynq-z2")
    point, better = gate(msq_model, board, "Latency", 1)
    assert not point.fits and {"DSP", "LUT"} <= {o.split()[0] for o in point.over()}
    assert better is not None and better.fits and better.strategy == "Resource"
    # fastest: the next smaller reuse factor does not fit
    assert not fit_at(msq_model, board, "Resource", better.reuse_factor // 2).fits
    # a larger part fits at a smaller reuse factor
    _, on_zc706 = gate(msq_model, get_board("zc706"), "Latency", 1)
    assert on_zc706.reuse_factor < better.reuse_factor


def test_build_stops_at_the_fit_gate_before_any_tool(tmp_path, capsys, msq_model):
    out = tmp_path / "b"
    fastest = smallest_fit(msq_model, get_board("pynq-z2")).reuse_factor  # RF 8 by the yosys-fitted estimate
    assert fastest > 1
    assert main(["build", MSQ, "--board", "pynq-z2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"DSP \d+ of 220 \(\d+%", err) and f"--reuse-factor {fastest}" in err and "--optimize" in err
    assert "estimated, not measured" in err and len(err.strip().splitlines()) == 1
    state = json.loads((out / "state.json").read_text())
    assert list(state["steps"]) == ["fit"] and state["steps"]["fit"]["status"] == "failed"
    assert not (out / "hls4ml_prj").exists()
    # a build refused by the gate left nothing to lose: the next try needs no --force
    assert main(["build", MSQ, "--board", "pynq-z2", "--out", str(out), "--until", "fit", "--optimize"]) == 0
    state = json.loads((out / "state.json").read_text())
    assert state["config"]["strategy"] == "Resource" and state["config"]["reuse_factor"] == fastest
    assert state["estimate"]["source"] == "estimated" and all(state["estimate"]["fits"].values())
    assert f"Resource ReuseFactor {fastest} fits pynq-z2" in (out / "logs" / "fit.log").read_text()


def test_allow_overbudget_goes_on_with_a_warning(tmp_path):
    lines = []
    cfg = BuildConfig(model=MSQ, out=str(tmp_path / "b"), allow_overbudget=True)
    state = build(cfg, until="fit", echo=lines.append)
    assert state["steps"]["fit"]["status"] == "done" and not all(state["estimate"]["fits"].values())
    assert any("warning" in line and "going on (--allow-overbudget)" in line for line in lines)


def test_optimize_keeps_a_design_that_fits(msq_model):
    cfg = BuildConfig(model=MSQ, board="zc706", strategy="Resource", reuse_factor=64)
    assert optimize_config(cfg, echo=lambda *_: None) == cfg


CSYNTH = """<?xml version="1.0" encoding="UTF-8"?>
<profile>
  <ReportVersion><Version>2023.1</Version></ReportVersion>
  <UserAssignments><Part>xc7z020-clg400-1</Part><TopModelName>msq_accel</TopModelName>
    <TargetClockPeriod>10.00</TargetClockPeriod></UserAssignments>
  <PerformanceEstimates>
    <SummaryOfTimingAnalysis><unit>ns</unit><EstimatedClockPeriod>7.300</EstimatedClockPeriod></SummaryOfTimingAnalysis>
    <SummaryOfOverallLatency><unit>clock cycles</unit><Best-caseLatency>120</Best-caseLatency>
      <Worst-caseLatency>130</Worst-caseLatency><Interval-min>121</Interval-min><Interval-max>131</Interval-max>
    </SummaryOfOverallLatency>
  </PerformanceEstimates>
  <AreaEstimates>
    <Resources><BRAM_18K>4</BRAM_18K><DSP>{dsp}</DSP><FF>9000</FF><LUT>21000</LUT><URAM>0</URAM></Resources>
    <AvailableResources><BRAM_18K>280</BRAM_18K><DSP>220</DSP><FF>106400</FF><LUT>53200</LUT><URAM>0</URAM></AvailableResources>
  </AreaEstimates>
</profile>
"""


def test_read_csynth(tmp_path):
    path = tmp_path / "csynth.xml"
    path.write_text(CSYNTH.format(dsp=100))
    report = read_csynth(path)
    assert report["used"] == {"bram36": 2, "dsp": 100, "ff": 9000, "lut": 21000}
    assert report["available"]["dsp"] == 220 and report["latency_cycles"]["Worst-caseLatency"] == 130
    path.write_text("<profile><ReportVersion/></profile>")
    with pytest.raises(ValueError, match="AreaEstimates"):
        read_csynth(path)
    path.write_text("not xml")
    with pytest.raises(ValueError, match="not valid XML"):
        read_csynth(path)
    with pytest.raises(ToolFailed, match="no synthesis report"):
        read_csynth(tmp_path / "absent.xml")


def _fake_vitis_hls(bin_dir: Path, dsp: int) -> None:
    """A vitis_hls that writes what the real one exports: the driver header and csynth.xml."""
    bin_dir.mkdir(exist_ok=True)
    report = bin_dir / "csynth.xml"
    report.write_text(CSYNTH.format(dsp=dsp))
    script = bin_dir / "vitis_hls"
    script.write_text(f"""#!/bin/sh
mkdir -p hls_ip/solution1/impl/misc/drivers/msq_accel_v1_0/src hls_ip/solution1/syn/report
printf '#define XMSQ_ACCEL_CONTROL_ADDR_AP_CTRL 0x00\\n#define XMSQ_ACCEL_CONTROL_ADDR_N_SAMPLES_DATA 0x10\\n' \\
    > hls_ip/solution1/impl/misc/drivers/msq_accel_v1_0/src/xmsq_accel_hw.h
cp {report} hls_ip/solution1/syn/report/csynth.xml
""")
    script.chmod(0o755)


@pytest.mark.csim
def test_csynth_over_the_part_stops_before_vivado(tmp_path, monkeypatch, digits):
    import dataclasses

    cfg = BuildConfig(model=MSQ, out=str(tmp_path / "b"), input_precision=digits.input_precision())
    build(cfg, until="csim_lib", echo=lambda *_: None, optimize=True)
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _fake_vitis_hls(bin_dir, dsp=300)
    lines = []
    with pytest.raises(DoesNotFit, match=r"DSP 300 of 220 \(136%\); stopped before Vivado.*--resume --allow-overbudget"):
        build(cfg, resume=True, echo=lines.append, optimize=True)
    assert any("reported by Vitis HLS csynth" in line and "| DSP |" in line for line in lines)
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["steps"]["hls_synth"]["status"] == "done" and state["steps"]["hls_check"]["status"] == "failed"
    assert "vivado" not in state["steps"]
    assert state["csynth"]["used"]["dsp"] == 300 and state["csynth"]["source"].startswith("reported by Vitis HLS")
    table = (tmp_path / "b" / "logs" / "hls_report.log").read_text()
    assert re.search(r"\| DSP \| \d+ \| 300 \| 220 \| 136.4% \|", table), table
    # going on anyway: no second Vitis HLS run (a failing one would show), on to the (missing) vivado step
    (bin_dir / "vitis_hls").write_text("#!/bin/sh\nexit 1\n")
    lines = []
    state = build(dataclasses.replace(cfg, allow_overbudget=True), resume=True, echo=lines.append, optimize=True)
    assert "[hls_synth] done earlier, skipped" in lines and state["steps"]["hls_check"]["status"] == "done"
    assert any("going on (--allow-overbudget)" in line for line in lines)
    assert state["stopped"]["step"] == "vivado" or state["steps"]["vivado"]["status"] == "done"


def test_refused_build_directory_with_user_files_needs_force(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["build", MSQ, "--out", str(out)]) == 1
    (out / "notes.txt").write_text("mine")
    assert main(["build", MSQ, "--out", str(out), "--optimize", "--until", "fit"]) == 2
    assert "--force" in capsys.readouterr().err and (out / "notes.txt").read_text() == "mine"


def test_demo_fit_step_picks_a_design_that_fits(msq_model):
    from flow.demo import DemoConfig, DemoState, fit_lines, step_fit

    state = DemoState(data=None, models={"msq": msq_model})
    state = step_fit(state, DemoConfig(board="pynq-z2"))
    fastest = smallest_fit(msq_model, get_board("pynq-z2")).reuse_factor
    assert state.fit["fits"] and (state.convert.strategy, state.convert.reuse_factor) == ("Resource", fastest)
    assert state.convert.part == "xc7z020clg400-1"
    result = {"fit": state.fit, "msq_model": "m.h5", "board": "pynq-z2", "bits": 4}
    text = "\n".join(fit_lines(result))
    assert "Requested design: Latency ReuseFactor 1 does NOT fit" in text and f"--reuse-factor {fastest}" in text
    # given settings are kept and flagged when they do not fit
    state = step_fit(DemoState(data=None, models={"msq": msq_model}), DemoConfig(fit_board=False))
    assert not state.fit["fits"] and state.convert.reuse_factor == 1
    assert "over budget" in "\n".join(fit_lines({**result, "fit": state.fit}))
