"""Whole-design synthesis of the RTL top with yosys (``synth_xilinx -family xc7``), per stage and in
total, next to the estimator's figures. Every figure carries its source: ``"yosys synthesis"``
(measured on the emitted Verilog) or ``"estimate"`` (:mod:`flow.resources.estimate`).

yosys 0.23 does no placement or timing: the counts are what ``synth_xilinx`` maps to (LUT1..6, FD*,
CARRY4, DSP48E1, RAMB18E1/RAMB36E1), not a Vivado utilization report.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from flow.rtl.design import RTLDesign
from flow.rtl.netlist import AddBlock, CastStage, ConvStage, DenseStage, LQActStage, LQDenseStage, PoolStage, ScaleStage
from flow.rtl.top import CORE, TOP
from flow.rtl.verilog import ident

MEASURED = "yosys synthesis"
ESTIMATED = "estimate"
FIELDS = ("lut", "ff", "carry4", "dsp", "bram18", "bram36")


def counts(text: str) -> dict[str, int]:
    """LUT (all sizes), FF (FD*), CARRY4, DSP48E1, RAMB18E1 and RAMB36E1 of one ``stat`` section."""
    cells = {name: int(n) for name, n in re.findall(r"^\s+(\w+)\s+(\d+)\s*$", text, flags=re.M)}
    return {
        "lut": sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k)),
        "ff": sum(v for k, v in cells.items() if re.fullmatch(r"FD\w*", k)),
        "carry4": cells.get("CARRY4", 0),
        "dsp": cells.get("DSP48E1", 0),
        "bram18": cells.get("RAMB18E1", 0),
        "bram36": cells.get("RAMB36E1", 0),
    }


def parse_hierarchy(text: str) -> tuple[dict[str, dict], dict]:
    """``stat`` output of a hierarchical design -> (counts per module, counts of the whole design)."""
    sections = re.split(r"^=== (.+?) ===\s*$", text, flags=re.M)
    modules, total = {}, None
    for name, body in zip(sections[1::2], sections[2::2]):
        if name == "design hierarchy":
            total = counts(body)
        else:
            modules[name.strip()] = counts(body)
    if total is None:  # a design of one module has no hierarchy section
        total = modules.get(TOP, {k: 0 for k in FIELDS})
    return modules, total


def stage_modules(stage) -> tuple[str, ...]:
    """The Verilog modules of a stage (a convolution: its scan and its Dense datapath)."""
    if isinstance(stage, DenseStage):
        return (f"msq_dense_{ident(stage.name)}",)
    if isinstance(stage, CastStage):
        return (f"msq_act_{ident(stage.name)}",)
    if isinstance(stage, ConvStage):
        return (f"msq_conv_{ident(stage.name)}", f"msq_conv_{ident(stage.name)}_dot")
    if isinstance(stage, PoolStage):
        return (f"msq_pool_{ident(stage.name)}",)
    if isinstance(stage, LQDenseStage):
        return (f"msq_lq_dense_{ident(stage.name)}",)
    if isinstance(stage, LQActStage):
        return (f"msq_lq_act_{ident(stage.name)}",)
    if isinstance(stage, ScaleStage):
        return (f"msq_scale_{ident(stage.name)}",)
    if isinstance(stage, AddBlock):  # the fork / join and the branches' stages
        return (f"msq_add_{ident(stage.name)}",) + tuple(m for s in stage.branch_a + stage.branch_b for m in stage_modules(s))
    raise TypeError(type(stage).__name__)


def stage_counts(modules: dict[str, dict], stage) -> dict[str, int]:
    """Cells of a stage: the sum over its modules (yosys' ``stat`` counts each module's own cells)."""
    return {k: sum(modules.get(m, {}).get(k, 0) for m in stage_modules(stage)) for k in FIELDS}


def synthesize(design: RTLDesign, timeout: float | None = None) -> dict:
    """yosys on the whole top; returns ``{"source", "yosys", "stages": {name: counts}, "io": counts,
    "total": counts}`` (``io``: the AXI wrapper and the chain's glue)."""
    from flow.resources.calibrate import require_yosys, yosys_version

    yosys = require_yosys()
    stat = design.directory / "yosys_stat.txt"
    log = design.directory / "yosys.log"
    script = (f"read_verilog {design.verilog.resolve()}; synth_xilinx -family xc7 -noiopad -top {TOP}; "
              f"tee -q -o {stat.resolve()} stat")
    with open(log, "w") as fh:
        proc = subprocess.run([yosys, "-q", "-p", script], stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    if proc.returncode != 0 or not stat.exists():
        raise RuntimeError(f"yosys failed on {design.verilog} (exit {proc.returncode}); see {log}:\n"
                           + Path(log).read_text()[-2000:])
    modules, total = parse_hierarchy(stat.read_text())
    stages = {st.name: stage_counts(modules, st) for st in design.netlist.stages}
    io = {k: modules.get(TOP, {}).get(k, 0) + modules.get(CORE, {}).get(k, 0) for k in FIELDS}
    return {"source": MEASURED, "yosys": yosys_version(yosys), "stages": stages, "io": io, "total": total}


def report(design: RTLDesign, measured: dict, estimate: dict | None, board) -> dict:
    """Measured and estimated figures per stage and in total, with the board's capacity."""
    est_layers = {r["layer"]: r for r in (estimate or {}).get("layers", [])}
    rows = []
    for st in design.netlist.stages:
        row = {"layer": st.name, "kind": type(st).__name__, MEASURED: measured["stages"][st.name]}
        if st.name in est_layers:
            e = est_layers[st.name]
            row[ESTIMATED] = {k: e.get(k) for k in ("lut", "ff", "dsp", "bram18", "bram36", "cycles")}
        rows.append(row)
    total = {"layer": "total", MEASURED: measured["total"]}
    if estimate:
        total[ESTIMATED] = {k: estimate["total"].get(k) for k in ("lut", "ff", "dsp", "bram36")}
    capacity = {"lut": board.lut, "ff": board.ff, "dsp": board.dsp, "bram36": board.bram36}
    return {"board": board.name, "part": board.part, "capacity": capacity, "yosys": measured["yosys"],
            "axi_wrapper": {MEASURED: measured["io"]}, "layers": rows, "total": total}


def format_report(rep: dict) -> str:
    """A markdown table: measured (yosys) next to estimated per layer."""
    head = ["| layer | LUT | FF | CARRY4 | DSP48E1 | RAMB18 | RAMB36 | LUT (est.) | FF (est.) | DSP (est.) | BRAM36 (est.) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines = list(head)
    for row in rep["layers"] + [{"layer": "AXI wrapper + glue", MEASURED: rep["axi_wrapper"][MEASURED]}, rep["total"]]:
        m, e = row[MEASURED], row.get(ESTIMATED)
        est = [str(e.get(k, "")) for k in ("lut", "ff", "dsp", "bram36")] if e else ["-"] * 4
        lines.append(f"| {row['layer']} | {m['lut']} | {m['ff']} | {m['carry4']} | {m['dsp']} | {m['bram18']} | "
                     f"{m['bram36']} | " + " | ".join(est) + " |")
    cap = rep["capacity"]
    t = rep["total"][MEASURED]
    bram36 = t["bram36"] + (t["bram18"] + 1) // 2
    lines += ["", f"measured: {MEASURED} ({rep['yosys']}, synth_xilinx -family xc7; no placement, no timing); "
                  f"(est.): {ESTIMATED} (flow/resources/estimate.py)",
              f"{rep['board']} ({rep['part']}) capacity: LUT {cap['lut']}, FF {cap['ff']}, DSP {cap['dsp']}, "
              f"BRAM36 {cap['bram36']}; measured total uses LUT {100 * t['lut'] / cap['lut']:.1f}%, "
              f"DSP {100 * t['dsp'] / cap['dsp']:.1f}%, BRAM36 {100 * bram36 / cap['bram36']:.1f}%"]
    return "\n".join(lines)
