"""The RTL top: the stage chain (``msq_rtl_core``) inside an AXI4-Stream wrapper (``msq_rtl_top``) with
the HLS AXI top's stream format (``msq_axi_top.h``, :func:`msq_overlay.packing.beat_format`), so one
manifest and one driver serve both routes:

* a beat carries ``per_beat`` lanes of ``lane`` bits, value ``k`` in bits ``[k * lane, (k + 1) * lane)``,
  its code in the low bits, zeros above; each sample starts on a new beat;
* ``ap_start`` latches ``n_samples`` when the top is idle (``ap_ready`` pulses then, as ``ap_ctrl_hs``); the top then reads exactly ``n_samples x in_beats``
  beats (input TLAST is not needed, as in the HLS top) and writes ``n_samples x out_beats`` beats,
  TLAST on the very last one; TKEEP/TSTRB are all ones; ``ap_done`` pulses after the last output beat,
  ``ap_idle`` is high outside a run;
* TVALID/TREADY backpressure on both sides: a stalled output stalls the chain back to the input.
"""

from __future__ import annotations

from dataclasses import dataclass

from flow.rtl.add import emit_add
from flow.rtl.cast import emit_cast
from flow.rtl.conv import emit_conv
from flow.rtl.dense import emit_dense
from flow.rtl.lq import emit_lq_act, emit_lq_dense
from flow.rtl.netlist import (AddBlock, CastStage, ConvStage, DenseStage, LQActStage, LQDenseStage, Netlist, PoolStage,
                              ScaleStage)
from flow.rtl.pool import emit_pool
from flow.rtl.scale import emit_scale
from flow.rtl.verilog import counter_width, literal

TOP = "msq_rtl_top"
CORE = "msq_rtl_core"


@dataclass(frozen=True)
class Stream:
    """The beat format of one side (the fields of :class:`msq_overlay.packing.BeatFormat`)."""

    count: int
    width: int  # bits of one value's code
    lane: int
    beat: int

    @property
    def per_beat(self) -> int:
        return self.beat // self.lane

    @property
    def beats(self) -> int:
        return -(-self.count // self.per_beat)


def emit_stage(st) -> list[tuple[str, str]]:
    """(module name, Verilog text) of a stage's modules, the stage's own module last (an Add block: its branches'
    stage modules first)."""
    if isinstance(st, DenseStage):
        return [emit_dense(st)]
    if isinstance(st, CastStage):
        return [emit_cast(st)]
    if isinstance(st, ConvStage):
        return [emit_conv(st)]
    if isinstance(st, PoolStage):
        return [emit_pool(st)]
    if isinstance(st, LQDenseStage):
        return [emit_lq_dense(st)]
    if isinstance(st, LQActStage):
        return [emit_lq_act(st)]
    if isinstance(st, ScaleStage):
        return [emit_scale(st)]
    if isinstance(st, AddBlock):
        a = [emit_stage(s) for s in st.branch_a]
        b = [emit_stage(s) for s in st.branch_b]
        own = emit_add(st, [m[-1][0] for m in a], [m[-1][0] for m in b])
        return [mod for mods in a + b for mod in mods] + [own]
    raise TypeError(f"no emitter for {type(st).__name__}")  # pragma: no cover - netlist_from_model only builds these


def stage_modules(net: Netlist) -> list[tuple[str, str]]:
    """(module name, Verilog text) of each stage of the chain (its own module; see :func:`emit_stage`)."""
    return [emit_stage(st)[-1] for st in net.stages]


def emit_core(net: Netlist, modules: list[str]) -> str:
    wi, wo = net.inp.spec.width, net.out.spec.width
    lines = [
        "// The model: its stages chained by valid/ready handshakes.",
        f"module {CORE} (",
        "    input clk,",
        "    input rst,",
        "    input in_valid,",
        "    output in_ready,",
        f"    input [{net.inp.count * wi - 1}:0] in_data,",
        "    output out_valid,",
        "    input out_ready,",
        f"    output [{net.out.count * wo - 1}:0] out_data",
        ");",
    ]
    n = len(net.stages)
    for k, st in enumerate(net.stages):
        lines.append(f"    wire s{k}_valid;")
        if k < n - 1:
            lines.append(f"    wire s{k}_ready;  // stage {k + 1} takes stage {k}'s output")
        lines.append(f"    wire [{st.n_out * st.out_spec.width - 1}:0] s{k}_data;")
    for k, (st, module) in enumerate(zip(net.stages, modules)):
        src = ("in_valid", "in_ready", "in_data") if k == 0 else (f"s{k - 1}_valid", f"s{k - 1}_ready", f"s{k - 1}_data")
        sink_ready = "out_ready" if k == n - 1 else f"s{k}_ready"
        lines.append(f"    {module} u{k} (.clk(clk), .rst(rst), .in_valid({src[0]}), .in_ready({src[1]}), "
                     f".in_data({src[2]}), .out_valid(s{k}_valid), .out_ready({sink_ready}), .out_data(s{k}_data));")
    last = n - 1
    lines += [f"    assign out_valid = s{last}_valid;", f"    assign out_data = s{last}_data;", "endmodule", ""]
    return "\n".join(lines)


def emit_axi(inp: Stream, out: Stream) -> str:
    ib, ob = inp.beat, out.beat
    ibw, obw = counter_width(inp.beats), counter_width(out.beats)
    lines = [
        "// AXI4-Stream wrapper: the beat format of the HLS AXI top (msq_axi_top.h), n_samples per run.",
        f"module {TOP} (",
        "    input ap_clk,",
        "    input ap_rst_n,",
        "    input ap_start,",
        "    output reg ap_done,",
        "    output ap_idle,",
        "    output ap_ready,  // ap_ctrl_hs: the start is taken (a register map clears ap_start on it)",
        "    input [31:0] n_samples,",
        "    /* verilator lint_off UNUSEDSIGNAL */",
        f"    input [{ib - 1}:0] s_axis_tdata,  // lane bits above a code's width are padding (zeros)",
        "    input s_axis_tvalid,",
        "    output s_axis_tready,",
        "    input s_axis_tlast,  // not needed: the top reads exactly n_samples * in_beats beats (as the HLS top)",
        "    /* verilator lint_on UNUSEDSIGNAL */",
        f"    output [{ob - 1}:0] m_axis_tdata,",
        "    output m_axis_tvalid,",
        "    input m_axis_tready,",
        "    output m_axis_tlast,",
        f"    output [{ob // 8 - 1}:0] m_axis_tkeep,",
        f"    output [{ob // 8 - 1}:0] m_axis_tstrb",
        ");",
        "    wire rst = !ap_rst_n;",
        "    reg running;",
        "    reg [31:0] n_run, rx_count, tx_count;",
        f"    reg [{ibw - 1}:0] rx_beat;",
        f"    reg [{obw - 1}:0] tx_beat;",
        f"    reg [{inp.count * inp.width - 1}:0] ibuf;",
        "    reg ibuf_valid;",
        f"    reg [{out.count * out.width - 1}:0] obuf;",
        "    reg obuf_valid;",
        "    wire core_in_ready, core_out_valid;",
        f"    wire [{out.count * out.width - 1}:0] core_out_data;",
        f"    {CORE} core (.clk(ap_clk), .rst(rst), .in_valid(ibuf_valid), .in_ready(core_in_ready), .in_data(ibuf),",
        "        .out_valid(core_out_valid), .out_ready(!obuf_valid), .out_data(core_out_data));",
        "    assign ap_idle = !running;",
        "    assign ap_ready = ap_start && !running;",
        "    assign s_axis_tready = running && !ibuf_valid && (rx_count != n_run);",
        "    wire rx = s_axis_tvalid && s_axis_tready;",
        f"    wire rx_last = (rx_beat == {literal(inp.beats - 1, ibw, False)});",
        "    assign m_axis_tvalid = obuf_valid;",
        "    wire tx = m_axis_tvalid && m_axis_tready;",
        f"    wire tx_last = (tx_beat == {literal(out.beats - 1, obw, False)});",
        "    assign m_axis_tlast = tx_last && (tx_count + 32'd1 == n_run);",
        f"    assign m_axis_tkeep = {{{ob // 8}{{1'b1}}}};",
        f"    assign m_axis_tstrb = {{{ob // 8}{{1'b1}}}};",
    ]
    # output beats: lane k of beat b holds value b * per_beat + k (zeros above its code, zero lanes at the end)
    for b in range(out.beats):
        lanes = []
        for k in range(out.per_beat):
            idx = b * out.per_beat + k
            if idx < out.count:
                code = f"obuf[{(idx + 1) * out.width - 1}:{idx * out.width}]"
                pad = out.lane - out.width
                lanes.append(f"{{{pad}'d0, {code}}}" if pad else code)
            else:
                lanes.append(f"{out.lane}'d0")
        lines.append(f"    wire [{ob - 1}:0] beat{b} = {{{', '.join(reversed(lanes))}}};")
    if out.beats == 1:
        lines.append("    assign m_axis_tdata = beat0;")
    else:
        lines += [f"    reg [{ob - 1}:0] tdata;", "    assign m_axis_tdata = tdata;", "    always @* begin",
                  "        case (tx_beat)"]
        lines += [f"            {literal(b, obw, False)}: tdata = beat{b};" for b in range(out.beats)]
        lines += [f"            default: tdata = {ob}'d0;", "        endcase", "    end"]
    lines += [
        "    always @(posedge ap_clk) begin",
        "        if (rst) begin",
        "            running <= 1'b0;",
        "            ap_done <= 1'b0;",
        "            ibuf_valid <= 1'b0;",
        "            obuf_valid <= 1'b0;",
        "            n_run <= 32'd0;",
        "            rx_count <= 32'd0;",
        "            tx_count <= 32'd0;",
        f"            rx_beat <= {literal(0, ibw, False)};",
        f"            tx_beat <= {literal(0, obw, False)};",
        "        end else begin",
        "            ap_done <= 1'b0;",
        "            if (ap_start && !running) begin",
        "                n_run <= n_samples;",
        "                rx_count <= 32'd0;",
        "                tx_count <= 32'd0;",
        "                running <= (n_samples != 32'd0);",
        "                ap_done <= (n_samples == 32'd0);",
        "            end",
        "            if (rx) begin",
        f"                rx_beat <= rx_last ? {literal(0, ibw, False)} : rx_beat + {literal(1, ibw, False)};",
        "                if (rx_last) begin",
        "                    ibuf_valid <= 1'b1;",
        "                    rx_count <= rx_count + 32'd1;",
        "                end",
        "            end else if (ibuf_valid && core_in_ready) begin",
        "                ibuf_valid <= 1'b0;",
        "            end",
        "            if (core_out_valid && !obuf_valid) begin",
        "                obuf <= core_out_data;",
        "                obuf_valid <= 1'b1;",
        "            end else if (tx) begin",
        f"                tx_beat <= tx_last ? {literal(0, obw, False)} : tx_beat + {literal(1, obw, False)};",
        "                if (tx_last) begin",
        "                    obuf_valid <= 1'b0;",
        "                    tx_count <= tx_count + 32'd1;",
        "                    if (tx_count + 32'd1 == n_run) begin",
        "                        running <= 1'b0;",
        "                        ap_done <= 1'b1;",
        "                    end",
        "                end",
        "            end",
        "        end",
        "    end",
    ]
    # input beats: lane k of beat b is value b * per_beat + k
    lines.append("    always @(posedge ap_clk) begin")
    lines.append("        if (rx) begin")
    for b in range(inp.beats):
        cond = f"rx_beat == {literal(b, ibw, False)}"
        sets = []
        for k in range(inp.per_beat):
            idx = b * inp.per_beat + k
            if idx < inp.count:
                sets.append(f"ibuf[{(idx + 1) * inp.width - 1}:{idx * inp.width}] <= "
                            f"s_axis_tdata[{k * inp.lane + inp.width - 1}:{k * inp.lane}];")
        lines.append(f"            if ({cond}) begin")
        lines += [f"                {s}" for s in sets]
        lines.append("            end")
    lines += ["        end", "    end", "endmodule", ""]
    return "\n".join(lines)


def emit_design(net: Netlist, inp: Stream, out: Stream) -> str:
    """The whole Verilog file: every stage module, the core and the AXI wrapper."""
    per_stage = [emit_stage(st) for st in net.stages]
    mods = [m[-1] for m in per_stage]
    header = (f"// Generated by flow.rtl from model '{net.name}': Verilog-2005, synthesizable.\n"
              "// Every width is the HLS kernel's exact type; see flow/rtl/*.py for the micro-architecture.\n"
              "// One file holds every module of the design (hence DECLFILENAME off).\n"
              "/* verilator lint_off DECLFILENAME */\n")
    body = [text for m in per_stage for _, text in m]
    return header + "\n".join(body) + emit_core(net, [m for m, _ in mods]) + emit_axi(inp, out)
