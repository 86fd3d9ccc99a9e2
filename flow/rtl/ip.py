"""The RTL IP top ``msq_rtl_ip``: the stream top (``msq_rtl_top``) with the AXI4-Lite slave
``s_axi_control`` (:mod:`flow.rtl.axilite`) and the port names of the Vitis HLS IP, so Vivado's IP packager
infers the same interfaces (``s_axi_control``, ``in_stream``, ``out_stream``, ``ap_clk``, ``ap_rst_n``,
``interrupt``) and the block design, the manifest and the driver serve both routes unchanged.

    design = emit(hls_model, "out/rtl")          # design.v (flow.rtl.design)
    emit_ip(design)                              # msq_rtl_ip.v: msq_rtl_axilite + msq_rtl_ip
    ip = RTLIP(design)                           # Verilator: libmsq_rtl_ip.so (harness msq_rtl_ip_harness.cpp)
    ip.write(0x10, 4); ip.write(0x00, 1)         # AXI-Lite transactions, cycle by cycle
    y = ip.predict(x)                            # a batch driven like the driver: AXI-Lite + AXI-Stream

``libmsq_rtl_ip.so`` exports the C ABI of ``msq_axi_bridge.cpp`` (``msq_axi_run`` runs the batch through
the register map: reads ap_idle, writes n_samples and ap_start, polls ap_done) plus ``msq_ip_*`` AXI-Lite
primitives for the control-semantics tests.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from flow.package_data import TEMPLATES
from flow.rtl.axilite import AXILITE, RegisterMap, emit_axilite, register_map
from flow.rtl.design import RTLDesign
from flow.rtl.top import TOP, Stream

IP_TOP = "msq_rtl_ip"
IP_VERILOG = "msq_rtl_ip.v"
IP_HARNESS = TEMPLATES / "rtl" / "msq_rtl_ip_harness.cpp"
IP_LIBRARY = "libmsq_rtl_ip.so"


def _ports():
    from flow.build.names import NAMES

    return NAMES.in_port, NAMES.out_port, NAMES.ctrl_port


def emit_ip_top(inp: Stream, out: Stream, regs: RegisterMap) -> str:
    src, dst, ctl = _ports()
    a, ib, ob = regs.addr_bits, inp.beat, out.beat
    lite_in = [("AWADDR", a), ("AWVALID", 1), ("WDATA", 32), ("WSTRB", 4), ("WVALID", 1), ("BREADY", 1),
               ("ARADDR", a), ("ARVALID", 1), ("RREADY", 1)]
    lite_out = [("AWREADY", 1), ("WREADY", 1), ("BRESP", 2), ("BVALID", 1), ("ARREADY", 1), ("RDATA", 32),
                ("RRESP", 2), ("RVALID", 1)]

    def port(direction, name, width):
        return f"    {direction} {f'[{width - 1}:0] ' if width > 1 else ''}{name},"

    lines = [
        "// The RTL IP: msq_rtl_top with the s_axi_control register map of the Vitis HLS top, ports named as in the",
        "// Vitis HLS IP (<bus>_<SIGNAL>) so that Vivado's IP packager infers the same interfaces (flow/rtl/ip.py).",
        f"module {IP_TOP} (",
        "    input ap_clk,",
        "    input ap_rst_n,",
    ]
    lines += [port("input", f"{ctl}_{n}", w) for n, w in lite_in]
    lines += [port("output", f"{ctl}_{n}", w) for n, w in lite_out]
    lines += [
        "    /* verilator lint_off SYMRSVDWORD */  // the Vitis HLS IP's name for its interrupt pin",
        "    output interrupt,",
        "    /* verilator lint_on SYMRSVDWORD */",
        port("input", f"{src}_TDATA", ib),
        f"    input {src}_TVALID,",
        f"    output {src}_TREADY,",
        "    /* verilator lint_off UNUSEDSIGNAL */",
        f"    input {src}_TLAST,  // not needed: the top reads exactly n_samples * in_beats beats (as the HLS top)",
        port("input", f"{src}_TKEEP", ib // 8) + "  // the DMA sends whole beats",
        port("input", f"{src}_TSTRB", ib // 8),
        "    /* verilator lint_on UNUSEDSIGNAL */",
        port("output", f"{dst}_TDATA", ob),
        f"    output {dst}_TVALID,",
        f"    input {dst}_TREADY,",
        f"    output {dst}_TLAST,",
        port("output", f"{dst}_TKEEP", ob // 8),
        f"    output [{ob // 8 - 1}:0] {dst}_TSTRB",
        ");",
        "    wire rst = !ap_rst_n;",
        "    wire ap_start, ap_done, ap_idle, ap_ready;",
        "    wire [31:0] n_samples;",
        f"    {AXILITE} control (.clk(ap_clk), .rst(rst),",
    ]
    names = [n for n, _ in lite_in + lite_out]
    lines.append("        " + ", ".join(f".{n}({ctl}_{n})" for n in names) + ",")
    lines += [
        "        .interrupt(interrupt), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle), .ap_ready(ap_ready),",
        "        .n_samples(n_samples));",
        f"    {TOP} top (.ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .ap_start(ap_start), .ap_done(ap_done), .ap_idle(ap_idle),",
        "        .ap_ready(ap_ready), .n_samples(n_samples),",
        f"        .s_axis_tdata({src}_TDATA), .s_axis_tvalid({src}_TVALID), .s_axis_tready({src}_TREADY),",
        f"        .s_axis_tlast({src}_TLAST),",
        f"        .m_axis_tdata({dst}_TDATA), .m_axis_tvalid({dst}_TVALID), .m_axis_tready({dst}_TREADY),",
        f"        .m_axis_tlast({dst}_TLAST), .m_axis_tkeep({dst}_TKEEP), .m_axis_tstrb({dst}_TSTRB));",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


def emit_ip(design: RTLDesign, regs: RegisterMap | None = None) -> Path:
    """Write ``msq_rtl_ip.v`` (the AXI-Lite slave and the IP top) next to ``design.v``; returns its path."""
    regs = regs or register_map()
    path = design.directory / IP_VERILOG
    header = ("// Generated by flow.rtl.ip: the IP top of the RTL route (with design.v, which holds msq_rtl_top).\n"
              "// Two modules in one file (hence DECLFILENAME off).\n"
              "/* verilator lint_off DECLFILENAME */\n")
    path.write_text(header + emit_axilite(regs) + emit_ip_top(design.in_stream, design.out_stream, regs))
    return path


def ip_sources(design: RTLDesign) -> list[Path]:
    """The Verilog files of the IP, in the order the tools read them."""
    return [design.verilog, design.directory / IP_VERILOG]


def lint_ip(design: RTLDesign) -> list[str]:
    """``verilator --lint-only -Wall`` on the IP top and everything under it: its warnings (empty when clean)."""
    from flow.rtl.sim import lint_lines, require_verilator

    proc = subprocess.run([require_verilator(), "--lint-only", "-Wall", "--top-module", IP_TOP,
                           *map(str, ip_sources(design))], capture_output=True, text=True)
    return lint_lines(proc)


def build_ip_library(design: RTLDesign, regs: RegisterMap | None = None, jobs: int = 2) -> Path:
    """Verilate ``msq_rtl_ip`` and link it with the IP harness into ``design.directory/libmsq_rtl_ip.so``."""
    from flow.rtl.sim import _defines, require_verilator

    regs = regs or register_map()
    verilator = require_verilator()
    lib = design.directory / IP_LIBRARY
    obj = design.directory / "verilator_ip"
    if obj.exists():
        shutil.rmtree(obj)
    src, dst, ctl = _ports()
    defines = [*_defines(design), f"-DMSQ_RTL_ADDR_CTRL={regs.ctrl}", f"-DMSQ_RTL_ADDR_N_SAMPLES={regs.n_samples}",
               f"-DMSQ_RTL_IN_PORT={src}", f"-DMSQ_RTL_OUT_PORT={dst}", f"-DMSQ_RTL_CTRL_PORT={ctl}"]
    cmd = [verilator, "--cc", "--exe", "--build", "-j", str(jobs), "--top-module", IP_TOP, "-Mdir", str(obj),
           "-CFLAGS", " ".join(["-fPIC", "-O1", *defines]), "-LDFLAGS", "-shared", "-o", str(lib.resolve()),
           *[str(p.resolve()) for p in ip_sources(design)], str(IP_HARNESS)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not lib.exists():
        raise RuntimeError(f"Verilator build of {IP_TOP} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return lib


class RTLIP:
    """``msq_rtl_ip`` simulated cycle by cycle in Verilator: AXI-Lite transactions and AXI-Stream batches."""

    def __init__(self, design: RTLDesign, rebuild: bool = False):
        from msq_overlay.simlib import library_format, load_library

        self.design = design
        lib_path = design.directory / IP_LIBRARY
        if rebuild or not lib_path.exists():
            build_ip_library(design)
        lib = self.lib = load_library(lib_path)
        u32, u64p = ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64)
        lib.msq_rtl_set_stalls.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint]
        lib.msq_rtl_cycles.restype = ctypes.c_ulonglong
        lib.msq_ip_reset.argtypes = []
        lib.msq_ip_write.argtypes = [u32, u32, u32, u32, u32]
        lib.msq_ip_write.restype = ctypes.c_int
        lib.msq_ip_read.argtypes = [u32, ctypes.POINTER(u32)]
        lib.msq_ip_read.restype = ctypes.c_int
        lib.msq_ip_tick.argtypes = [u32]
        lib.msq_ip_load.argtypes = [u64p, u32]
        lib.msq_ip_outputs.argtypes = [u64p, u32]
        lib.msq_ip_outputs.restype = ctypes.c_int
        lib.msq_ip_probe.argtypes = [ctypes.c_int]
        lib.msq_ip_probe.restype = ctypes.c_int
        want = {"n_in": design.in_stream.count, "n_out": design.out_stream.count}
        have = library_format(lib)
        if any(have[k] != v for k, v in want.items()):
            raise ValueError(f"{lib_path} was built for another design ({have}); rebuild (RTLIP(..., rebuild=True))")
        self.cycles = 0

    # -- AXI-Lite, cycle by cycle (the streams keep running meanwhile) -----------------------------
    def reset(self) -> None:
        """Reset the IP (ap_rst_n low for 4 cycles), empty the stream queues."""
        self.lib.msq_ip_reset()

    def write(self, addr: int, value: int, strb: int = 0xF, aw_delay: int = 0, w_delay: int = 0) -> int:
        """One AXI-Lite write (AWVALID ``aw_delay`` and WVALID ``w_delay`` cycles late); returns BRESP."""
        resp = self.lib.msq_ip_write(addr, value & 0xFFFFFFFF, strb, aw_delay, w_delay)
        if resp < 0:
            raise RuntimeError(f"AXI-Lite write to 0x{addr:x}: no {'AWREADY/WREADY' if resp == -1 else 'BVALID'}")
        return resp

    def read(self, addr: int) -> int:
        """One AXI-Lite read: RDATA (RRESP must be OKAY)."""
        data = ctypes.c_uint32(0)
        resp = self.lib.msq_ip_read(addr, ctypes.byref(data))
        if resp != 0:
            raise RuntimeError(f"AXI-Lite read of 0x{addr:x}: {'no ARREADY/RVALID' if resp < 0 else f'RRESP {resp}'}")
        return int(data.value)

    def tick(self, n: int = 1) -> None:
        self.lib.msq_ip_tick(n)

    def load(self, words) -> None:
        """Queue input beats: the harness offers them on ``in_stream`` while the clock runs."""
        words = np.ascontiguousarray(np.asarray(words, dtype=np.uint64).reshape(-1))
        self.lib.msq_ip_load(words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), len(words))

    def outputs(self, max_beats: int = 1 << 16) -> np.ndarray:
        """The beats taken from ``out_stream`` since the reset."""
        out = np.zeros(max_beats, dtype=np.uint64)
        n = self.lib.msq_ip_outputs(out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), max_beats)
        return out[:n]

    def probe(self, what: str) -> int:
        """'interrupt' (the pin), 'tlasts' (output beats with TLAST), 'taken' (input beats taken) since the reset,
        'error' (a stream rule broken: a ``RUN_ERRORS`` code, 0 if none)."""
        names = ("interrupt", "tlasts", "taken", "error")
        return int(self.lib.msq_ip_probe(names.index(what)))

    def set_stalls(self, in_stall: int = 0, out_stall: int = 0, seed: int = 1) -> None:
        self.lib.msq_rtl_set_stalls(int(seed), int(in_stall), int(out_stall))

    # -- a batch, as the driver runs it -------------------------------------------------------------
    def predict(self, x, stalls: tuple[int, int] = (0, 0), seed: int = 1) -> np.ndarray:
        """Outputs for inputs ``(samples, n_in)`` through AXI-Lite (ap_idle check, n_samples, ap_start, ap_done
        polled) and the AXI streams (random TVALID/TREADY stalls in percent)."""
        from msq_overlay.packing import pack_beats, unpack_beats
        from msq_overlay.simlib import RUN_ERRORS, run

        d = self.design
        x = np.asarray(x).reshape(len(x), -1)
        words = pack_beats(x, d.in_type, d.in_format)
        self.set_stalls(stalls[0], stalls[1], seed)
        want = len(x) * d.out_format.beats_per_sample
        n, out = run(self.lib, words.reshape(-1), len(x), want + 1)
        if n < 0:
            raise RuntimeError(f"RTL IP simulation failed: {RUN_ERRORS.get(n, n)}")
        if n != want:
            raise RuntimeError(f"RTL IP simulation returned {n} output beats, expected {want}")
        self.cycles = int(self.lib.msq_rtl_cycles())
        return unpack_beats(out[:n].reshape(len(x), -1), d.out_type, d.out_format)
