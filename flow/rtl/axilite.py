"""The AXI4-Lite slave ``s_axi_control`` of the RTL IP (``msq_rtl_axilite``): the register map and the
control semantics of the ``s_axi_control`` interface Vitis HLS gives the HLS AXI top (``ap_ctrl_hs`` with
``#pragma HLS INTERFACE s_axilite port=return`` and ``port=n_samples``), so one driver and one manifest
serve both routes. The offsets come from :data:`flow.build.names.NAMES` (the manifest's ``ip.registers``):

    0x00 control  bit 0 ap_start (R/W; set by writing 1, cleared by the core's ap_ready unless auto_restart)
                  bit 1 ap_done  (R, clear on read)        bit 2 ap_idle (R)
                  bit 3 ap_ready (R, clear on read)         bit 7 auto_restart (R/W)
    0x04 GIE      bit 0 global interrupt enable
    0x08 IER      bit 0 ap_done, bit 1 ap_ready interrupt enable
    0x0C ISR      bit 0 ap_done, bit 1 ap_ready interrupt status (set by the event when enabled; write 1 toggles)
    NAMES.n_samples_offset  n_samples (R/W, byte strobes honoured)

Handshakes as the Vitis HLS slave does them: a write takes AW, then W, then answers B (OKAY); a read
takes AR and answers R (OKAY) on the next cycle; an unmapped address reads 0 and ignores writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from flow.rtl.verilog import hex_word

AXILITE = "msq_rtl_axilite"
GIE_OFFSET, IER_OFFSET, ISR_OFFSET = 0x04, 0x08, 0x0C
#: control register bits (the HLS driver header's AP_CTRL fields)
AP_START, AP_DONE, AP_IDLE, AP_READY, AUTO_RESTART = 0x01, 0x02, 0x04, 0x08, 0x80


@dataclass(frozen=True)
class RegisterMap:
    ctrl: int
    n_samples: int

    def __post_init__(self):
        offsets = {"ctrl": self.ctrl, "gie": GIE_OFFSET, "ier": IER_OFFSET, "isr": ISR_OFFSET,
                   "n_samples": self.n_samples}
        if self.ctrl != 0x00:
            raise ValueError(f"the control register is at 0x00 in every Vitis HLS s_axilite map, not 0x{self.ctrl:x}")
        if any(v % 4 for v in offsets.values()) or len(set(offsets.values())) != len(offsets):
            raise ValueError(f"register offsets must be distinct multiples of 4: {offsets}")

    @property
    def addr_bits(self) -> int:
        """AWADDR/ARADDR width: enough for the last register (Vitis HLS: 5 bits when n_samples is at 0x10)."""
        return max(4, (max(self.n_samples, ISR_OFFSET) + 3).bit_length())

    @property
    def block_range(self) -> int:
        """The IP's address block in bytes: the decoded space, at least the 4 KiB the packager and
        assign_bd_address work in (the registers alias within it, as in a Vitis HLS IP)."""
        return max(4096, 1 << self.addr_bits)

    @property
    def manifest(self) -> dict:
        """The manifest's ``ip.registers``."""
        return {"ctrl": self.ctrl, "n_samples": self.n_samples}


def register_map() -> RegisterMap:
    """The register map of the shared names (:data:`flow.build.names.NAMES`), as the manifest states it."""
    from flow.build.names import NAMES

    return RegisterMap(NAMES.ctrl_offset, NAMES.n_samples_offset)


def emit_axilite(regs: RegisterMap) -> str:
    a = regs.addr_bits
    addr = {name: hex_word(value, a) for name, value in
            (("CTRL", regs.ctrl), ("GIE", GIE_OFFSET), ("IER", IER_OFFSET), ("ISR", ISR_OFFSET),
             ("N_SAMPLES", regs.n_samples))}
    lines = [
        "// AXI4-Lite slave s_axi_control: the Vitis HLS register map and control semantics (flow/rtl/axilite.py).",
        f"module {AXILITE} (",
        "    input clk,",
        "    input rst,",
        f"    input [{a - 1}:0] AWADDR,",
        "    input AWVALID,",
        "    output AWREADY,",
        "    input [31:0] WDATA,",
        "    input [3:0] WSTRB,",
        "    input WVALID,",
        "    output WREADY,",
        "    output [1:0] BRESP,",
        "    output BVALID,",
        "    input BREADY,",
        f"    input [{a - 1}:0] ARADDR,",
        "    input ARVALID,",
        "    output ARREADY,",
        "    output [31:0] RDATA,",
        "    output [1:0] RRESP,",
        "    output RVALID,",
        "    input RREADY,",
        "    output interrupt,",
        "    output ap_start,",
        "    input ap_done,",
        "    input ap_idle,",
        "    input ap_ready,",
        "    output [31:0] n_samples",
        ");",
    ]
    lines += [f"    localparam [{a - 1}:0] ADDR_{name} = {value};" for name, value in addr.items()]
    lines += [
        "    localparam [1:0] WR_IDLE = 2'd0, WR_DATA = 2'd1, WR_RESP = 2'd2;",
        "    reg [1:0] wstate;",
        f"    reg [{a - 1}:0] waddr;",
        "    reg rvalid;",
        "    reg [31:0] rdata;",
        "    reg int_start, int_done, int_idle, int_ready, int_auto_restart, int_gie;",
        "    reg [1:0] int_ier, int_isr;",
        "    reg [31:0] int_n_samples;",
        "    // write channel: AW, then W, then B (OKAY)",
        "    assign AWREADY = (wstate == WR_IDLE);",
        "    assign WREADY = (wstate == WR_DATA);",
        "    assign BVALID = (wstate == WR_RESP);",
        "    assign BRESP = 2'b00;",
        "    wire aw_hs = AWVALID && AWREADY;",
        "    wire w_hs = WVALID && WREADY;",
        "    wire [31:0] wmask = {{8{WSTRB[3]}}, {8{WSTRB[2]}}, {8{WSTRB[1]}}, {8{WSTRB[0]}}};",
        "    always @(posedge clk) begin",
        "        if (rst) begin",
        "            wstate <= WR_IDLE;",
        "        end else begin",
        "            case (wstate)",
        "                WR_IDLE: if (AWVALID) wstate <= WR_DATA;",
        "                WR_DATA: if (WVALID) wstate <= WR_RESP;",
        "                WR_RESP: if (BREADY) wstate <= WR_IDLE;",
        "                default: wstate <= WR_IDLE;",
        "            endcase",
        "        end",
        "    end",
        "    always @(posedge clk) begin",
        "        if (aw_hs) waddr <= AWADDR;",
        "    end",
        "    // read channel: AR, then R (OKAY) on the next cycle",
        "    assign ARREADY = !rvalid;",
        "    assign RVALID = rvalid;",
        "    assign RDATA = rdata;",
        "    assign RRESP = 2'b00;",
        "    wire ar_hs = ARVALID && ARREADY;",
        "    always @(posedge clk) begin",
        "        if (rst) rvalid <= 1'b0;",
        "        else if (ar_hs) rvalid <= 1'b1;",
        "        else if (RREADY) rvalid <= 1'b0;",
        "    end",
        "    always @(posedge clk) begin",
        "        if (ar_hs) begin",
        "            case (ARADDR)",
        "                ADDR_CTRL: rdata <= {24'd0, int_auto_restart, 3'd0, int_ready, int_idle, int_done, int_start};",
        "                ADDR_GIE: rdata <= {31'd0, int_gie};",
        "                ADDR_IER: rdata <= {30'd0, int_ier};",
        "                ADDR_ISR: rdata <= {30'd0, int_isr};",
        "                ADDR_N_SAMPLES: rdata <= int_n_samples;",
        "                default: rdata <= 32'd0;",
        "            endcase",
        "        end",
        "    end",
        "    // registers",
        "    wire write_ctrl = w_hs && (waddr == ADDR_CTRL) && WSTRB[0];",
        "    wire read_ctrl = ar_hs && (ARADDR == ADDR_CTRL);",
        "    assign ap_start = int_start;",
        "    assign n_samples = int_n_samples;",
        "    assign interrupt = int_gie && (int_isr != 2'b00);",
        "    always @(posedge clk) begin",
        "        if (rst) begin",
        "            int_start <= 1'b0;",
        "            int_done <= 1'b0;",
        "            int_idle <= 1'b1;  // the stream top is idle out of reset",
        "            int_ready <= 1'b0;",
        "            int_auto_restart <= 1'b0;",
        "            int_gie <= 1'b0;",
        "            int_ier <= 2'b00;",
        "            int_isr <= 2'b00;",
        "            int_n_samples <= 32'd0;",
        "        end else begin",
        "            if (write_ctrl && WDATA[0]) int_start <= 1'b1;",
        "            else if (ap_ready) int_start <= int_auto_restart;  // taken: cleared unless auto_restart",
        "            if (ap_done) int_done <= 1'b1;",
        "            else if (read_ctrl) int_done <= 1'b0;  // clear on read",
        "            int_idle <= ap_idle;",
        "            if (ap_ready) int_ready <= 1'b1;",
        "            else if (read_ctrl) int_ready <= 1'b0;  // clear on read",
        "            if (write_ctrl) int_auto_restart <= WDATA[7];",
        "            if (w_hs && (waddr == ADDR_GIE) && WSTRB[0]) int_gie <= WDATA[0];",
        "            if (w_hs && (waddr == ADDR_IER) && WSTRB[0]) int_ier <= WDATA[1:0];",
        "            // ISR: an enabled event sets its bit; writing 1 toggles it",
        "            if (int_ier[0] && ap_done) int_isr[0] <= 1'b1;",
        "            else if (w_hs && (waddr == ADDR_ISR) && WSTRB[0]) int_isr[0] <= int_isr[0] ^ WDATA[0];",
        "            if (int_ier[1] && ap_ready) int_isr[1] <= 1'b1;",
        "            else if (w_hs && (waddr == ADDR_ISR) && WSTRB[0]) int_isr[1] <= int_isr[1] ^ WDATA[1];",
        "            if (w_hs && (waddr == ADDR_N_SAMPLES)) int_n_samples <= (WDATA & wmask) | (int_n_samples & ~wmask);",
        "        end",
        "    end",
        "endmodule",
        "",
    ]
    return "\n".join(lines)
