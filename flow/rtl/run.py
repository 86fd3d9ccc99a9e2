"""``python -m flow rtl``: model -> HLS conversion (C-simulation) -> Verilog -> Verilator check
against the C-simulation -> (``--synth``) yosys report. Layout of ``--out``::

    hls/            the hls4ml project (C-simulation reference)
    rtl/            design.v, rtl.json, libmsq_rtl_sim.so (Verilator), yosys logs
    report.json     the check, and with --synth the measured / estimated figures
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RTLConfig:
    model: str
    out: str
    board: str = "pynq-z2"
    strategy: str = "Latency"
    reuse_factor: int = 1
    samples: int = 64
    synth: bool = False
    force: bool = False


def check_against_csim(hm, rtl, design, n: int, seed: int = 0) -> tuple[int, int]:
    """Random inputs on the input grid through the C-simulation and the RTL: (equal samples, samples)."""
    from flow.build.steps import check_inputs

    x = check_inputs(design.netlist.inp.type_dict(), (design.netlist.inp.count,), n, seed)
    shape = hm.get_input_variables()[0].shape
    ref = hm.predict(np.ascontiguousarray(x.reshape(n, *shape).astype(np.float32))).reshape(n, -1)
    got = rtl.predict(x.astype(np.float32), stalls=(20, 20), seed=seed + 1)
    return int(np.sum(np.all(ref == got, axis=1))), n


def run(cfg: RTLConfig, echo=print) -> dict:
    import flow
    from flow.boards import get_board
    from flow.convert import ConvertConfig, convert
    from flow.outdir import prepare
    from flow.rtl.design import emit
    from flow.rtl.sim import RTLModel, lint

    board = get_board(cfg.board)
    out = prepare(cfg.out, "RTL output directory", cfg.force)
    model = flow.load_model(cfg.model)
    conv = ConvertConfig(strategy=cfg.strategy, reuse_factor=cfg.reuse_factor, part=board.part)
    hm = convert(model, out / "hls", conv, report=echo)
    design = emit(hm, out / "rtl")
    warnings = lint(design.verilog)
    echo(f"verilog: {design.verilog} ({len(design.netlist.stages)} stages); verilator --lint-only -Wall: "
         f"{len(warnings)} warnings")
    for line in warnings:
        echo(f"  {line}")
    rtl = RTLModel(design)
    equal, n = check_against_csim(hm, rtl, design, cfg.samples)
    echo(f"verilator: outputs equal {equal} / {n} (C-simulation vs RTL, random inputs, random AXI stalls); "
         f"{rtl.cycles} cycles")
    result = {"model": cfg.model, "board": board.name, "strategy": cfg.strategy, "reuse_factor": cfg.reuse_factor,
              "lint_warnings": warnings, "verilator": {"equal": equal, "samples": n, "cycles": rtl.cycles},
              "design": design.description()}
    if cfg.synth:
        result["synthesis"] = synth_report(model, design, board, cfg, echo)
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    if equal != n or warnings:
        raise RuntimeError(f"the RTL check failed: {equal} / {n} outputs equal, {len(warnings)} lint warnings "
                           f"(see {out / 'report.json'})")
    return result


def synth_report(model, design, board, cfg: RTLConfig, echo) -> dict:
    from flow.resources.estimate import estimate_design
    from flow.rtl.synth import format_report, report, synthesize

    echo("yosys: synth_xilinx -family xc7 on the whole top ...")
    measured = synthesize(design)
    # each layer at its real input width and exact types (the converted model's), not a model-wide data width
    estimate = estimate_design(model, design.netlist, board, cfg.reuse_factor, cfg.strategy.lower())
    rep = report(design, measured, estimate, board)
    echo(format_report(rep))
    return rep


def cmd_rtl(args) -> int:
    cfg = RTLConfig(args.model, args.out, args.board, args.strategy, args.reuse_factor, args.samples, args.synth,
                    args.force)
    run(cfg)
    return 0


def add_parser(sub, positive_int) -> None:
    r = sub.add_parser("rtl", help="Verilog of a model (RTL route): Verilator check against C-simulation, yosys report")
    r.add_argument("model", help="a saved QKeras model (.h5)")
    r.add_argument("--out", required=True, help="output directory (hls/, rtl/, report.json)")
    r.add_argument("--board", default="pynq-z2", help="pynq-z1, pynq-z2 or zc706 (capacity in the report)")
    r.add_argument("--strategy", default="Latency", choices=("Latency", "Resource"))
    r.add_argument("--reuse-factor", type=positive_int, default=1)
    r.add_argument("--samples", type=positive_int, default=64, help="random inputs checked against C-simulation")
    r.add_argument("--synth", action="store_true", help="synthesize the whole top with yosys and print the report")
    r.add_argument("--force", action="store_true", help="replace a non-empty --out directory")
    r.set_defaults(func=cmd_rtl)
