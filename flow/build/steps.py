"""The build steps, each ``step(ctx) -> None`` working on files in the build directory.

    fit         estimate the backbone on the board; over budget stops here (fit_gate.py)
    convert     backbone (and float head) -> hls4ml project (--io-type io_parallel or io_stream), C-simulation
    accel_top   AXI-stream top + config header, build_vars.tcl, Tcl scripts, draft manifest, driver
    csim_lib    g++ build of the AXI top (libmsq_axi_sim.so), checked against Keras on grid inputs
                (batches of several samples: beat count, TLAST on the last beat, outputs bit for bit)
    hls_synth   Vitis HLS synthesis and IP export                (needs vitis_hls)
    hls_check   csynth.xml next to the estimate; over the part stops here, before Vivado
    vivado      block design, bitstream and .hwh                 (needs vivado)
    package     bitstream md5 into the manifest: the overlay is complete

The RTL route (``--rtl``, :data:`RTL_STEPS`) replaces convert .. hls_check:

    fit         as above
    rtl_emit    backbone -> hls4ml (C-simulation reference) -> Verilog (flow.rtl: design.v, msq_rtl_ip.v),
                verilator --lint-only -Wall, the IP in Verilator driven through AXI-Lite + AXI-Stream
                against C-simulation and Keras; build_vars.tcl, Tcl, manifest, driver, overlay library
    rtl_package Vivado IP packager (tcl/rtl_package_ip.tcl) -> rtl_ip/component.xml   (needs vivado)
    vivado, package  as above, the same block design script and manifest
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from flow.build.config import BuildConfig
from flow.build.fit_gate import step_fit
from flow.build.names import NAMES
from flow.build.tools import ToolFailed, run_checked, run_tool
from flow.package_data import TEMPLATES

SIM_LIBRARY = "libmsq_axi_sim.so"


@dataclass
class BuildContext:
    cfg: BuildConfig
    out: Path
    state: dict = field(default_factory=dict)
    echo: Callable[[str], None] = print

    @property
    def prj(self) -> Path:
        return self.out / "hls4ml_prj"

    @property
    def overlay(self) -> Path:
        return self.out / "overlay"

    @property
    def logs(self) -> Path:
        return self.out / "logs"

    def log(self, step: str) -> Path:
        return self.logs / f"{step}.log"


def _precision(var, modes: bool = False) -> dict:
    """The manifest's view of a variable's type; ``modes`` adds the rounding and saturation that
    the driver's packing applies to raw floats (the input: the model's first quantizer)."""
    p = var.type.precision
    integer = getattr(p, "integer", p.width)
    out = {"width": int(p.width), "integer": int(integer), "signed": bool(p.signed)}
    if modes:
        rounding, saturation = getattr(p, "rounding_mode", None), getattr(p, "saturation_mode", None)
        out["rounding"] = rounding.name if rounding is not None else "TRN"
        out["saturation"] = saturation.name if saturation is not None else "WRAP"
    return out


def backbone_model(cfg: BuildConfig):
    """(backbone, float head or None, cut layer or None) of the build's model."""
    import flow
    from flow.bitwidth import default_cut
    from flow.head import split

    model = flow.load_model(cfg.model)
    cut = cfg.cut
    if cut == "auto":
        last = model.layers[-1]
        cut = default_cut(model) if type(last).__name__ == "Dense" else None
    elif cut == "none":
        cut = None
    if cut is None:
        return model, None, None
    backbone, head = split(model, cut)
    return backbone, head, cut


def step_convert(ctx: BuildContext) -> None:
    convert_backbone(ctx)


def convert_backbone(ctx: BuildContext):
    """The backbone as an hls4ml project (C-simulation compiled), the float head saved, ``state['io']``; returns
    the hls4ml model."""
    from flow.convert import ConvertConfig, convert

    backbone, head, cut = backbone_model(ctx.cfg)
    ctx.overlay.mkdir(parents=True, exist_ok=True)
    if head is not None:
        head.save(ctx.overlay / "head.npz")
    cfg = ConvertConfig(
        part=ctx.cfg.board_info.part,
        strategy=ctx.cfg.strategy,
        reuse_factor=ctx.cfg.reuse_factor,
        io_type=ctx.cfg.io_type,
        clock_period=1000.0 / ctx.cfg.fclk_mhz,
        input_precision=ctx.cfg.input_precision,
    )
    hm = convert(backbone, ctx.prj, cfg, force=True, allow_approximate=ctx.cfg.allow_approximate)
    inputs, outputs = hm.get_input_variables(), hm.get_output_variables()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"the AXI-stream top supports one input and one output; the backbone has {len(inputs)} and {len(outputs)}")
    save_csim_reference(ctx, hm, backbone, head)
    ctx.state["io"] = {
        "io_type": ctx.cfg.io_type,
        "cut": cut,
        "head": "head.npz" if head is not None else None,
        "input": {"shape": [int(d) for d in backbone.input_shape[1:]], "type": _precision(inputs[0], modes=True), "ctype": inputs[0].type.name},
        "output": {"shape": [int(d) for d in backbone.output_shape[1:]], "type": _precision(outputs[0]), "ctype": outputs[0].type.name},
        "project": hm.config.get_project_name(),
    }
    return hm


REFERENCE = "csim_reference.npz"


def save_csim_reference(ctx: BuildContext, hm, backbone, head, n: int = 32) -> None:
    """Inputs on the input type's grid and hls4ml's C-simulation outputs for them (the overlay's self-test)."""
    shape = [int(d) for d in backbone.input_shape[1:]]
    x = check_inputs(_precision(hm.get_input_variables()[0]), shape, n, seed=1)
    y = np.asarray(hm.predict(np.ascontiguousarray(x.reshape(n, -1)))).reshape((n, *backbone.output_shape[1:]))
    arrays = {"x": x, "y_backbone": y}
    if head is not None:
        arrays["y"] = head.predict(y)
    arrays.update(raw_float_reference(hm, backbone, n))
    np.savez(ctx.overlay / REFERENCE, **arrays)


def raw_float_reference(hm, backbone, n: int) -> dict:
    """Raw float inputs and Keras' outputs for them, where the input type is the model's first
    quantizer (then C-simulation must equal Keras on them: checked here, and by the driver)."""
    from flow.hls.input_rule import compare_raw_floats

    raw = compare_raw_floats(backbone, hm, n, seed=2)
    if raw is None:
        return {}
    if not np.array_equal(raw.got, raw.expected):
        raise ToolFailed(
            f"C-simulation differs from Keras on {int(np.sum(raw.got != raw.expected))} of {raw.got.size} outputs for "
            f"raw float inputs, although the input type {raw.rule.hls()} is {raw.rule.source}"
        )
    return {"x_raw": raw.x, "y_raw_backbone": raw.expected}


def stream_format(side: dict):
    """The beat format of one side of the AXI top (``state['io']['input']`` or ``['output']``):
    :func:`msq_overlay.packing.beat_format`, the one function that chooses it for the C++ config,
    the Tcl (DMA stream widths), the manifest and so the driver and ``SimDevice``."""
    from msq_overlay.packing import FixedType, beat_format

    return beat_format(FixedType.from_dict(side["type"]), int(np.prod(side["shape"])))


def _model_call(io: dict) -> str:
    project = io["project"]
    if io.get("io_type", "io_parallel") == "io_stream":
        args = "hls::stream<in_packet_t> &x, hls::stream<out_packet_t> &y"
    else:
        args = "in_t x[n_in], out_t y[n_out]"
    return f"""    static void model({args}) {{
#pragma HLS INLINE
        {project}(x, y);
    }}"""


def check_sample_channels(io: dict) -> None:
    """An io_parallel model's samples travel between the AXI top's processes as one stream word each;
    refuse samples wider than Vitis HLS allows, with the way out."""
    from flow.hls.microarch import MAX_STREAM_WORD_BITS

    if io.get("io_type", "io_parallel") == "io_stream":
        return
    for side in ("input", "output"):
        bits = int(np.prod(io[side]["shape"])) * int(io[side]["type"]["width"])
        if bits > MAX_STREAM_WORD_BITS:
            raise ValueError(
                f"the {side} sample is {bits} bits, above the {MAX_STREAM_WORD_BITS}-bit stream word Vitis HLS allows "
                "between the AXI top's io_parallel processes; build with --io-type io_stream"
            )


def _config_header(io: dict) -> str:
    check_sample_channels(io)
    fin, fout = stream_format(io["input"]), stream_format(io["output"])
    stream = io.get("io_type", "io_parallel") == "io_stream"
    cin, cout = io["input"]["ctype"], io["output"]["ctype"]
    if stream:  # the model's stream packets are nnet::array<T, N>; the values are their value_type
        types = f"""    typedef {cin}::value_type in_t;
    typedef {cout}::value_type out_t;
    typedef {cin} in_packet_t;
    typedef {cout} out_packet_t;"""
    else:
        types = f"""    typedef {cin} in_t;
    typedef {cout} out_t;"""
    return f"""// Generated by python -m flow build: the configuration of the AXI top (msq_axi_top.h).
#ifndef MSQ_AXI_CONFIG_H_
#define MSQ_AXI_CONFIG_H_

#include "{io['project']}.h"

#include "msq_axi_top.h"

struct msq_axi_config : msq::axi_config {{
    static const bool io_stream = {'true' if stream else 'false'};
    static const unsigned n_in = {fin.count};
    static const unsigned n_out = {fout.count};
    static const unsigned in_lane = {fin.lane_bits};
    static const unsigned out_lane = {fout.lane_bits};
    static const unsigned in_beat = {fin.beat_bits};
    static const unsigned out_beat = {fout.beat_bits};
    static const unsigned in_per_beat = {fin.values_per_beat};
    static const unsigned out_per_beat = {fout.values_per_beat};
{types}
{_model_call(io)}
}};

#define MSQ_AXI_TOP {NAMES.top}

#endif
"""


def _tcl_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[list " + " ".join("{" + str(v) + "}" for v in value) + "]"
    return "{" + str(value) + "}"


#: where the RTL route writes its Verilog, and the IP packager's project and IP repository (build directory)
RTL_DIR = "rtl"
RTL_PACKAGE_DIR = "rtl_pkg"
RTL_IP_REPO = "rtl_ip"


def build_vars(ctx: BuildContext) -> dict:
    io, board = ctx.state["io"], ctx.cfg.board_info
    names = NAMES.route(ctx.cfg.rtl)
    dma = dma_parameters(ctx)
    fw = "hls4ml_prj/firmware"
    if ctx.cfg.rtl:
        from flow.rtl.axilite import register_map
        from flow.rtl.ip import IP_VERILOG

        route = {
            "rtl_top": names.rtl_top,
            "rtl_sources": [f"{RTL_DIR}/design.v", f"{RTL_DIR}/{IP_VERILOG}"],
            "rtl_package_project": RTL_PACKAGE_DIR,
            "rtl_package_dir": RTL_PACKAGE_DIR,
            "ctrl_addr_bits": register_map().addr_bits,
            "ctrl_range": register_map().block_range,
            "clock_port": names.clock_port,
            "reset_port": names.reset_port,
            "fclk_hz": int(round(ctx.cfg.fclk_mhz * 1e6)),
            "ip_repo": RTL_IP_REPO,
        }
    else:
        route = {
            "hls_project": "hls_ip",
            "hls_sources": [f"{fw}/{io['project']}.cpp", f"{fw}/msq_axi_top.cpp"],
            "hls_cflags": f"-std=c++14 -I{fw}",
            "ip_repo": "hls_ip/solution1/impl/ip",
        }
    return {
        "part": board.part,
        "board_part": board.board_part,
        "clock_period_ns": round(1000.0 / ctx.cfg.fclk_mhz, 4),
        "fclk_mhz": ctx.cfg.fclk_mhz,
        "top_name": names.top,
        **route,
        "ip_vendor": names.ip_vendor,
        "ip_library": names.ip_library,
        "ip_name": names.top,
        "ip_version": names.ip_version,
        "ip_vlnv": names.ip_vlnv,
        "ip_instance": names.ip_instance,
        "dma_instance": NAMES.dma_instance,
        "dma_length_width": NAMES.dma_length_width,
        "in_port": NAMES.in_port,
        "out_port": NAMES.out_port,
        "ctrl_port": NAMES.ctrl_port,
        "dma_mm2s_stream_bits": dma["mm2s_stream_bits"],
        "dma_s2mm_stream_bits": dma["s2mm_stream_bits"],
        "dma_mm2s_mm_bits": dma["mm2s_mm_bits"],
        "dma_s2mm_mm_bits": dma["s2mm_mm_bits"],
        "dma_dre": int(dma["dre"]),
        "vivado_project": "vivado_prj",
        "vivado_dir": "vivado",
        "bd_name": NAMES.bd_name,
        "bit_out": f"overlay/{NAMES.overlay}.bit",
        "hwh_out": f"overlay/{NAMES.overlay}.hwh",
        "jobs": ctx.cfg.jobs,
    }


def dma_parameters(ctx: BuildContext) -> dict:
    """The AXI DMA as the block design configures it (build_vars.tcl) and the driver sees it (manifest).

    The streams are the accelerator's beats (:func:`stream_format`, 32 or 64 bits); the
    memory-mapped side is at least 32 bits and never narrower than its stream, as the AXI DMA
    requires; the data realignment engine (DRE) is off: buffers from ``pynq.allocate`` are
    page-aligned, and the driver checks alignment to the memory-mapped width.
    """
    io = ctx.state["io"]
    in_beat, out_beat = stream_format(io["input"]).beat_bits, stream_format(io["output"]).beat_bits
    return {
        "name": NAMES.dma_instance,
        "length_width": NAMES.dma_length_width,
        "max_transfer_bytes": (1 << NAMES.dma_length_width) - 1,
        "mm2s_stream_bits": in_beat,
        "s2mm_stream_bits": out_beat,
        "mm2s_mm_bits": max(32, in_beat),
        "s2mm_mm_bits": max(32, out_beat),
        "dre": False,
    }


def manifest_draft(ctx: BuildContext) -> dict:
    from msq_overlay.manifest import FORMAT

    io, board = ctx.state["io"], ctx.cfg.board_info
    names = NAMES.route(ctx.cfg.rtl)
    if ctx.cfg.rtl:  # the RTL IP's register map is built from the same names (flow.rtl.axilite)
        from flow.rtl.axilite import register_map

        registers = register_map().manifest
    else:  # replaced by the offsets in Vitis HLS' driver header once hls_synth has run
        registers = {"ctrl": NAMES.ctrl_offset, "n_samples": NAMES.n_samples_offset}
    return {
        "format": FORMAT,
        "overlay": NAMES.overlay,
        "board": board.name,
        "part": board.part,
        "board_part": board.board_part,
        "clock_mhz": ctx.cfg.fclk_mhz,
        "ip": {"name": names.ip_instance, "vlnv": names.ip_vlnv, "registers": registers},
        "dma": dma_parameters(ctx),
        "io_type": io.get("io_type", "io_parallel"),
        "input": {"shape": io["input"]["shape"], "type": io["input"]["type"], **stream_format(io["input"]).to_dict()},
        "output": {"shape": io["output"]["shape"], "type": io["output"]["type"], **stream_format(io["output"]).to_dict()},
        "head": io["head"],
        "reference": REFERENCE,
        "bitstream": None,
        "hwh": f"{NAMES.overlay}.hwh",
    }


def write_build_vars(ctx: BuildContext) -> dict:
    """``build_vars.tcl`` (every name and number the static Tcl reads) and the Tcl scripts themselves."""
    variables = build_vars(ctx)
    lines = ["# Generated by python -m flow build; read by tcl/*.tcl (which are static)."]
    lines += [f"set {key} {_tcl_value(value)}" for key, value in variables.items()]
    (ctx.out / "build_vars.tcl").write_text("\n".join(lines) + "\n")
    shutil.copytree(TEMPLATES / "tcl", ctx.out / "tcl", dirs_exist_ok=True)
    return variables


def step_accel_top(ctx: BuildContext) -> None:
    fw = ctx.prj / "firmware"
    for name in ("msq_axi_top.h", "msq_axi_top.cpp", "msq_axi_bridge.cpp"):
        shutil.copy(TEMPLATES / "accel" / name, fw / name)
    (fw / "msq_axi_config.h").write_text(_config_header(ctx.state["io"]))
    write_overlay_files(ctx)


def write_overlay_files(ctx: BuildContext) -> None:
    """``build_vars.tcl`` and the Tcl scripts, the draft manifest and the driver copy (both routes)."""
    import msq_overlay

    from msq_overlay.manifest import write_manifest

    write_build_vars(ctx)
    write_manifest(manifest_draft(ctx), ctx.overlay / "manifest.json")
    driver = Path(msq_overlay.__file__).parent
    shutil.copytree(driver, ctx.overlay / "msq_overlay", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


def step_csim_lib(ctx: BuildContext) -> None:
    fw = ctx.prj / "firmware"
    lib = ctx.overlay / SIM_LIBRARY
    # hidden symbols and no STB_GNU_UNIQUE: several models' libraries (and hls4ml's own) can share one process
    args = ["g++", "-O2", "-std=c++14", "-fPIC", "-shared", "-fvisibility=hidden", "-fno-gnu-unique",
            f"-I{fw}", f"-I{fw / 'ap_types'}",
            f'-DWEIGHTS_DIR="{fw / "weights"}"',
            str(fw / f"{ctx.state['io']['project']}.cpp"), str(fw / "msq_axi_top.cpp"), str(fw / "msq_axi_bridge.cpp"),
            "-o", str(lib)]
    run_checked(args, ctx.out, ctx.log("csim_lib"), "compiling the AXI top for C-simulation")
    check_sim_library(ctx, lib)


def check_inputs(type_dict: dict, shape, n: int, seed: int = 0) -> np.ndarray:
    """Random inputs on the input type's grid, kept within +-4 (the range models are trained on)."""
    from msq_overlay.packing import FixedType

    t = FixedType.from_dict(type_dict)
    lo, hi = t.code_range
    codes = np.random.default_rng(seed).integers(lo, hi + 1, size=(n, *shape))
    return np.clip(np.ldexp(codes.astype(np.float64), -t.frac), -4.0, 4.0)


def check_sim_library(ctx: BuildContext, lib_path: Path, n: int = 16) -> None:
    """The compiled AXI top on a batch of ``n`` grid inputs: its stream format is the manifest's, the
    output has exactly n x beats-per-sample beats with TLAST on the last one (and only there), and the
    outputs equal the Keras backbone exactly."""
    from msq_overlay.manifest import load_manifest
    from msq_overlay.packing import pack_beats, unpack_beats
    from msq_overlay.simlib import RUN_ERRORS, check_format, load_library, run

    io = ctx.state["io"]
    manifest = load_manifest(ctx.overlay / "manifest.json")
    lib = load_library(lib_path)
    check_format(lib, manifest)
    spec_in, spec_out = manifest["input_spec"], manifest["output_spec"]
    backbone, _, _ = backbone_model(ctx.cfg)
    x = check_inputs(io["input"]["type"], io["input"]["shape"], n)
    expected = backbone.predict(x, verbose=0).reshape(n, -1)
    words = pack_beats(x.reshape(n, -1), spec_in.type, spec_in.beat)
    n_beats = n * spec_out.beats_per_sample
    got, out = run(lib, words, n, n_beats + 1)
    if got != n_beats:
        reason = RUN_ERRORS.get(got, f"TLAST on beat {got}")
        raise ToolFailed(f"AXI top C-simulation: {reason}, expected {n_beats} beats ({n} samples x "
                         f"{spec_out.beats_per_sample}) with TLAST on the last")
    beats = out[:n_beats].astype(spec_out.beat.dtype).reshape(n, -1)
    padding = beats.view(f"<u{spec_out.lane_bits // 8}")[:, spec_out.count:]
    if np.any(padding):
        raise ToolFailed("AXI top C-simulation: the padding lanes of a sample's last beat are not zero")
    y = unpack_beats(beats, spec_out.type, spec_out.beat)
    if not np.array_equal(y, expected):
        bad = int(np.sum(y != expected))
        raise ToolFailed(f"AXI top C-simulation differs from Keras on {bad} of {y.size} outputs (grid inputs)")
    ctx.state["csim_check"] = {"samples": n, "outputs_equal": int(y.size), "beats_in": int(words.size),
                               "beats_out": n_beats}


def step_hls_synth(ctx: BuildContext) -> None:
    from msq_overlay.manifest import load_manifest, write_manifest

    run_tool("hls_synth", "vitis_hls", ["-f", "tcl/vitis_hls_build.tcl"], ctx.out, ctx.log("hls_synth"))
    registers = read_register_offsets(ctx.out / "hls_ip")
    csynth_report(ctx.out / "hls_ip")  # exported and reported: hls_check reads it
    manifest = load_manifest(ctx.overlay / "manifest.json")
    manifest["ip"]["registers"].update(registers)
    write_manifest(manifest, ctx.overlay / "manifest.json")


def csynth_report(hls_dir: Path) -> Path:
    """Vitis HLS' top-level synthesis report (``csynth.xml``; ``<top>_csynth.xml`` in some versions)."""
    report = hls_dir / "solution1" / "syn" / "report"
    for name in ("csynth.xml", f"{NAMES.top}_csynth.xml"):
        if (report / name).exists():
            return report / name
    raise ToolFailed(f"Vitis HLS wrote no synthesis report (csynth.xml) under {report}")


def step_hls_check(ctx: BuildContext) -> None:
    """csynth's resources next to the estimate; over the part stops here, before Vivado (its own step,
    so ``--resume --allow-overbudget`` goes on without running Vitis HLS again)."""
    from flow.build.fit_gate import check_csynth

    check_csynth(ctx, csynth_report(ctx.out / "hls_ip"))


def read_register_offsets(hls_dir: Path) -> dict:
    """ap_ctrl and n_samples offsets from the exported IP's driver header (``x<top>_hw.h``)."""
    headers = list(hls_dir.glob(f"solution1/impl/misc/drivers/*/src/x{NAMES.top}_hw.h"))
    if not headers:
        raise ToolFailed(f"Vitis HLS wrote no driver header x{NAMES.top}_hw.h under {hls_dir}")
    text = headers[0].read_text()
    found = {}
    for key, suffix in (("ctrl", "AP_CTRL"), ("n_samples", "N_SAMPLES_DATA")):
        m = re.search(rf"#define\s+X\w+_ADDR_{suffix}\s+0x([0-9a-fA-F]+)", text)
        if not m:
            raise ToolFailed(f"{headers[0]} defines no *_ADDR_{suffix}")
        found[key] = int(m.group(1), 16)
    return found


def step_vivado(ctx: BuildContext) -> None:
    run_tool("vivado", "vivado", ["-mode", "batch", "-nojournal", "-log", "logs/vivado.log",
                                  "-source", "tcl/vivado_block_design.tcl"], ctx.out, ctx.log("vivado_console"))
    for suffix in (".bit", ".hwh"):
        path = ctx.overlay / f"{NAMES.overlay}{suffix}"
        if not path.exists():
            raise ToolFailed(f"Vivado finished but {path} was not written; see {ctx.log('vivado')}")


def step_package(ctx: BuildContext) -> None:
    from msq_overlay.files import md5sum
    from msq_overlay.manifest import load_manifest, write_manifest

    bit = ctx.overlay / f"{NAMES.overlay}.bit"
    if not bit.exists():
        raise ToolFailed(f"no bitstream at {bit}; the vivado step has not produced one")
    manifest = load_manifest(ctx.overlay / "manifest.json")
    manifest["bitstream"] = {"file": bit.name, "md5": md5sum(bit)}
    write_manifest(manifest, ctx.overlay / "manifest.json")


def step_rtl_emit(ctx: BuildContext, samples: int = 64) -> None:
    """The RTL route's Verilog and its checks: lint clean, and the IP in Verilator, driven as the board driver
    drives it (AXI-Lite: ap_idle, n_samples, ap_start, ap_done; AXI-Stream with random stalls), equal to the
    C-simulation on ``samples`` grid inputs; its library (the C-simulation bridge's ABI) becomes the overlay's
    ``libmsq_axi_sim.so``, checked like the HLS route's (format, beats, TLAST, Keras)."""
    from flow.rtl.design import emit
    from flow.rtl.ip import IP_LIBRARY, RTLIP, emit_ip, lint_ip
    from flow.rtl.sim import require_verilator

    require_verilator()
    hm = convert_backbone(ctx)
    design = emit(hm, ctx.out / RTL_DIR, force=True)
    emit_ip(design)
    log = ctx.log("rtl_emit")
    warnings = lint_ip(design)
    with open(log, "a") as fh:
        fh.write(f"verilog: {design.verilog} + {design.directory / 'msq_rtl_ip.v'}\n"
                 f"verilator --lint-only -Wall (top msq_rtl_ip): {len(warnings)} warnings\n")
        fh.writelines(f"  {w}\n" for w in warnings)
    if warnings:
        raise ToolFailed(f"verilator --lint-only -Wall on the RTL IP: {len(warnings)} warnings, e.g. {warnings[0]}; see {log}")
    ip = RTLIP(design, rebuild=True)
    x = check_inputs(design.netlist.inp.type_dict(), (design.netlist.inp.count,), samples, seed=3)
    shape = hm.get_input_variables()[0].shape
    ref = np.asarray(hm.predict(np.ascontiguousarray(x.reshape(samples, *shape)))).reshape(samples, -1)
    got = ip.predict(x, stalls=(20, 20), seed=4)
    equal = int(np.sum(np.all(ref == got, axis=1)))
    with open(log, "a") as fh:
        fh.write(f"verilator: outputs equal {equal} / {samples} (C-simulation vs the RTL IP through AXI-Lite + "
                 f"AXI-Stream, random stalls); {ip.cycles} cycles\n")
    if equal != samples:
        raise ToolFailed(f"the RTL IP differs from C-simulation on {samples - equal} of {samples} samples; see {log}")
    ctx.state["rtl_check"] = {"samples": samples, "outputs_equal": equal, "lint_warnings": 0, "cycles": ip.cycles,
                              "design": design.description()}
    write_overlay_files(ctx)
    lib = ctx.overlay / SIM_LIBRARY
    shutil.copy(design.directory / IP_LIBRARY, lib)
    check_sim_library(ctx, lib)


def step_rtl_package(ctx: BuildContext) -> None:
    """Vivado's IP packager on the RTL route's Verilog: ``rtl_ip/component.xml`` for the block design."""
    run_tool("rtl_package", "vivado", ["-mode", "batch", "-nojournal", "-log", "logs/rtl_package_vivado.log",
                                       "-source", "tcl/rtl_package_ip.tcl"], ctx.out, ctx.log("rtl_package"))
    component = ctx.out / RTL_IP_REPO / "component.xml"
    if not component.exists():
        raise ToolFailed(f"Vivado finished but wrote no {component}; see {ctx.log('rtl_package')}")


STEPS = (
    ("fit", step_fit),
    ("convert", step_convert),
    ("accel_top", step_accel_top),
    ("csim_lib", step_csim_lib),
    ("hls_synth", step_hls_synth),
    ("hls_check", step_hls_check),
    ("vivado", step_vivado),
    ("package", step_package),
)

#: ``python -m flow build --rtl``: no Vitis HLS; the same block design, package step and manifest format
RTL_STEPS = (
    ("fit", step_fit),
    ("rtl_emit", step_rtl_emit),
    ("rtl_package", step_rtl_package),
    ("vivado", step_vivado),
    ("package", step_package),
)


def steps_for(cfg: BuildConfig) -> tuple:
    """The steps a build runs: :data:`RTL_STEPS` with ``cfg.rtl``, :data:`STEPS` otherwise."""
    return RTL_STEPS if cfg.rtl else STEPS


def save_state(ctx: BuildContext) -> None:
    (ctx.out / "state.json").write_text(json.dumps(ctx.state, indent=2))
