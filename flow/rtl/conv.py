"""Verilog of one MSQ convolution (Conv1D/Conv2D): the pixel scan of ``nnet_msq_conv.h`` /
``nnet_msq_window.h`` around the Dense datapath of :mod:`flow.rtl.dense`.

The stage takes a whole channels-last frame (as the io_parallel kernel ``msq_conv_frame`` does) and
streams it through the same scan as the HLS kernel:

1. **frame** (``frame_to_pixels``): the frame is held in a shift register; each padded position inside
   the input takes the next pixel (``n_chan`` values) from its low end;
2. **scan** (``conv_scan``): the padded position ``(ph, pw)`` over ``padded_height x padded_width``
   positions in raster order, the stride phases and the input column ``iw``, kept as counters; a
   position *emits* (its window is an output pixel) when ``ph >= fh - 1``, ``pw >= fw - 1`` and both
   stride phases are 0. The output-position counters of the HLS kernel are not needed: the scan emits
   exactly ``ceil((P - f + 1) / s)`` windows per axis, the layer's output size (checked in
   :func:`flow.rtl.netlist.conv_stage`), in raster order;
3. **line buffer and window** (``conv_window_push``): ``fh - 1`` row memories of ``in_width`` words
   (``n_chan`` values each, read and written at ``iw``) and ``fh x fw`` window registers in ``(fh, fw, c)``
   order, shifted left by one column per position; padded positions push zeros;
4. **dot** (``msq_lanes_step`` + ``msq_combine``): the Dense module of :mod:`flow.rtl.dense`, emitted for the
   same :class:`flow.hls.microarch.RowKernel` (lanes, reuse factor, ROM, DSP packing), whose input vector is
   the window; it takes an emitting window after each push, one every ``RF`` cycles;
5. **collect** (``pixels_to_frame``): the output pixels (``n_filt`` values) shift into the output frame
   register in scan order, i.e. hls4ml's channels-last order ``(oh, ow, f)``; ``out_valid`` when the
   ``out_height x out_width``-th pixel is in.

**Cycles** (as :attr:`flow.hls.microarch.RowKernel.cycles`): one position per reuse pass, so a frame
occupies the scan for ``padded_height * padded_width * RF`` cycles (:func:`interval`): this is the
stage's interval (the next frame is taken on the cycle of the last push), so a chain whose slowest
stage is a convolution takes one sample per ``interval`` cycles (``RTLDesign.interval_cycles``, checked
against ``RTLModel.cycles`` in ``tests/test_rtl_conv.py``). A frame's latency adds the Dense datapath's
pass after the last emitting position (``RF`` cycles plus its parts and combine registers) and one cycle
to take the first pixel. Unlike the HLS loop, which cannot skip, every padded position costs a pass even
where it emits nothing (stride phases, the first ``fh - 1`` rows / ``fw - 1`` columns): the same schedule
as the HLS kernel and its cycle model, not the fastest possible one.
"""

from __future__ import annotations

from flow.rtl.dense import emit_dense
from flow.rtl.netlist import ConvStage
from flow.rtl.verilog import counter_width, ident, literal, stage_ports


def interval(st: ConvStage) -> int:
    """Cycles between two frames in steady state: one reuse pass per padded position."""
    return st.padded_height * st.padded_width * st.dense.kernel.reuse_factor


ONE = "1'b1"


def _u(value: int, width: int) -> str:
    return literal(value, width, False)


class ConvWriter:
    """Builds the module text of one :class:`ConvStage` (and of its Dense datapath)."""

    def __init__(self, st: ConvStage):
        self.st = st
        self.sc = st.scan
        self.rf = st.dense.kernel.reuse_factor
        self.lines: list[str] = []

    @property
    def module(self) -> str:
        return f"msq_conv_{ident(self.st.name)}"

    @property
    def dot_module(self) -> str:
        return f"{self.module}_dot"

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def text(self) -> str:
        st, sc = self.st, self.sc
        _, dot_text = emit_dense(st.dense, self.dot_module)
        wi, wr = st.in_spec.width, st.out_spec.width
        fh, fw, c = sc.filt_height, sc.filt_width, sc.n_chan
        ph_n, pw_n = st.padded_height, st.padded_width
        pix = c * wi  # bits of one pixel
        n_win = fh * fw
        n_pix_out = st.out_height * st.out_width
        self.add(
            f"// MSQ convolution '{st.name}': {sc.in_height}x{sc.in_width}x{c} -> "
            f"{st.out_height}x{st.out_width}x{st.n_filt}, "
            f"filter {fh}x{fw}, stride {st.stride_height}x{st.stride_width}, padding t{sc.pad_top} b{sc.pad_bottom} "
            f"l{sc.pad_left} r{sc.pad_right}",
            f"// scan of {ph_n}x{pw_n} padded positions, one every {self.rf} cycle(s) (nnet_msq_window.h); "
            f"window {fh}x{fw}x{c} into {self.dot_module}",
            *stage_ports(self.module, st.n_in * wi, st.n_out * wr),
        )
        hw, ww = counter_width(ph_n), counter_width(pw_n)
        shw, sww = counter_width(st.stride_height), counter_width(st.stride_width)
        iww = counter_width(sc.in_width)
        self.add(
            f"    reg [{st.n_in * wi - 1}:0] frame;  // frame_to_pixels: the next input pixel in the low {pix} bits",
            "    reg busy;  // scanning a frame",
            f"    reg [{hw - 1}:0] ph;  // padded position",
            f"    reg [{ww - 1}:0] pw;",
        )
        if st.stride_height > 1:
            self.add(f"    reg [{shw - 1}:0] h_phase;  // stride phase (0: this row ends a window on the output grid)")
        if st.stride_width > 1:
            self.add(f"    reg [{sww - 1}:0] w_phase;  // stride phase (0: this column ends a window on the output grid)")
        if fh > 1:
            self.add(f"    reg [{iww - 1}:0] iw;  // input column of pw (line-buffer address)")
        self.add(
            "    reg win_valid;  // the window holds an output pixel's field that the dot datapath has not taken",
            "    wire dot_in_ready, dot_valid;",
            f"    wire [{st.n_filt * wr - 1}:0] dot_data;",
            "    wire take = win_valid && dot_in_ready;",
        )
        if self.rf > 1:
            cw = counter_width(self.rf)
            self.add(f"    reg [{cw - 1}:0] slot;  // cycles left in the current position's reuse pass",
                     f"    wire slot_free = (slot == {_u(0, cw)});")
        else:
            self.add("    wire slot_free = 1'b1;")
        self.add("    wire push = busy && slot_free && (!win_valid || take);  // the scan moves to the next position")
        row_in = self.inside("ph", hw, sc.pad_top, sc.in_height, ph_n)
        col_in = self.inside("pw", ww, sc.pad_left, sc.in_width, pw_n)
        self.add(f"    wire row_in = {row_in};", f"    wire col_in = {col_in};",
                 "    wire in_frame = row_in && col_in;  // the position is an input pixel")
        emits = []
        if fh > 1:
            emits.append(f"(ph >= {_u(fh - 1, hw)})")
        if fw > 1:
            emits.append(f"(pw >= {_u(fw - 1, ww)})")
        if st.stride_height > 1:
            emits.append(f"(h_phase == {_u(0, shw)})")
        if st.stride_width > 1:
            emits.append(f"(w_phase == {_u(0, sww)})")
        self.add(f"    wire emits = {' && '.join(emits) if emits else ONE};")
        self.add(f"    wire row_end = (pw == {_u(pw_n - 1, ww)});",
                 f"    wire frame_end = row_end && (ph == {_u(ph_n - 1, hw)});",
                 "    assign in_ready = !busy || (push && frame_end);",
                 "    wire accept = in_valid && in_ready;")
        # the column entering the window: the line buffer's rows above the newest one, then the pixel
        # where the rows live (ConvScan.line_storage, as bind_line_buffer): registers up to 8 words, else distributed
        # RAM; the HLS kernel's RAMB18 rows above 64 words are distributed RAM here too (the window reads a row
        # asynchronously, in the cycle of the push). yosys (which defines YOSYS) picks the mapping itself.
        style = "registers" if sc.line_storage == 0 else "distributed"
        for r in range(fh - 1):
            row = f"reg [{pix - 1}:0] line{r} [0:{sc.in_width - 1}];  // window row {r}: padded row ph - {fh - 1 - r}"
            self.add("`ifdef YOSYS", f"    {row}", "`else", f'    (* ram_style = "{style}" *) {row}', "`endif")
        for r in range(fh - 1):
            self.add(f"    wire [{pix - 1}:0] col{r} = col_in ? line{r}[iw] : {pix}'d0;")
        self.add(f"    wire [{pix - 1}:0] col{fh - 1} = in_frame ? frame[{pix - 1}:0] : {pix}'d0;")
        for k in range(n_win):
            self.add(f"    reg [{pix - 1}:0] win{k};  // window row {k // fw}, column {k % fw}")
        window = ", ".join(f"win{k}" for k in reversed(range(n_win)))
        self.add(f"    wire [{n_win * pix - 1}:0] window = {{{window}}};  // (fh, fw, c) order, value 0 in the low bits")
        # scan control
        self.add(
            "    always @(posedge clk) begin",
            "        if (rst) begin",
            "            busy <= 1'b0;",
            "            win_valid <= 1'b0;",
        )
        if self.rf > 1:
            self.add(f"            slot <= {_u(0, counter_width(self.rf))};")
        self.add("        end else begin")
        if self.rf > 1:
            cw = counter_width(self.rf)
            self.add(f"            if (push) slot <= {_u(self.rf - 1, cw)};",
                     f"            else if (!slot_free) slot <= slot - {_u(1, cw)};")
        self.add(
            "            if (push) win_valid <= emits;",
            "            else if (take) win_valid <= 1'b0;",
            "            if (accept) begin",
            "                busy <= 1'b1;",
            "                frame <= in_data;",
            f"                ph <= {_u(0, hw)};",
            f"                pw <= {_u(0, ww)};",
        )
        if st.stride_height > 1:
            self.add(f"                h_phase <= {_u(0, shw)};")
        if st.stride_width > 1:
            self.add(f"                w_phase <= {_u(0, sww)};")
        if fh > 1:
            self.add(f"                iw <= {_u(0, iww)};")
        self.add(
            "            end else if (push) begin",
            "                if (frame_end) busy <= 1'b0;",
        )
        if sc.in_height * sc.in_width > 1:
            self.add(f"                if (in_frame) frame <= {{{pix}'d0, frame[{st.n_in * wi - 1}:{pix}]}};")
        self.add(*("                " + s for s in self.advance(hw, ww, shw, sww, iww)))
        self.add("            end", "        end", "    end")
        # line buffer and window (conv_window_push)
        self.add("    always @(posedge clk) begin", "        if (push) begin")
        if fh > 1:
            self.add("            if (col_in) begin")
            for r in range(fh - 1):
                self.add(f"                line{r}[iw] <= col{r + 1};")
            self.add("            end")
        for r in range(fh):
            for f in range(fw - 1):
                self.add(f"            win{r * fw + f} <= win{r * fw + f + 1};")
            self.add(f"            win{r * fw + fw - 1} <= col{r};")
        self.add("        end", "    end")
        # the dot product of every window: the Dense datapath
        self.add("    wire dot_ready = !out_valid || out_ready;")
        self.add(f"    {self.dot_module} dot (.clk(clk), .rst(rst), .in_valid(win_valid), .in_ready(dot_in_ready), "
                 ".in_data(window), .out_valid(dot_valid), .out_ready(dot_ready), .out_data(dot_data));")
        # collect the output pixels (pixels_to_frame)
        ocw = counter_width(n_pix_out)
        self.add(
            "    wire collect = dot_valid && dot_ready;",
            f"    reg [{ocw - 1}:0] opix;  // output pixels of the frame collected so far",
            f"    wire frame_done = (opix == {_u(n_pix_out - 1, ocw)});",
            "    always @(posedge clk) begin",
            "        if (rst) begin",
            "            out_valid <= 1'b0;",
            f"            opix <= {_u(0, ocw)};",
            "        end else begin",
            "            if (collect) begin",
            f"                opix <= frame_done ? {_u(0, ocw)} : opix + {_u(1, ocw)};",
        )
        if n_pix_out > 1:
            self.add(f"                out_data <= {{dot_data, out_data[{st.n_out * wr - 1}:{st.n_filt * wr}]}};")
        else:
            self.add("                out_data <= dot_data;")
        self.add(
            "            end",
            "            if (collect && frame_done) out_valid <= 1'b1;",
            "            else if (out_ready) out_valid <= 1'b0;",
            "        end",
            "    end",
            "endmodule",
            "",
        )
        return dot_text + "\n".join(self.lines)

    @staticmethod
    def inside(name: str, width: int, lo: int, size: int, total: int) -> str:
        """``lo <= name < lo + size`` (terms that always hold left out)."""
        terms = []
        if lo > 0:
            terms.append(f"({name} >= {_u(lo, width)})")
        if lo + size < total:
            terms.append(f"({name} < {_u(lo + size, width)})")
        return " && ".join(terms) if terms else "1'b1"

    def advance(self, hw: int, ww: int, shw: int, sww: int, iww: int) -> list[str]:
        """``conv_scan::advance`` (the output counters left out, see the module doc)."""
        st, sc = self.st, self.sc
        out = []

        def phase(reg: str, width: int, stride: int) -> str:
            if stride == 1:
                return f"{reg} <= {_u(0, width)};"
            return f"{reg} <= ({reg} == {_u(stride - 1, width)}) ? {_u(0, width)} : {reg} + {_u(1, width)};"

        w_cond = f"pw >= {_u(sc.filt_width - 1, ww)}" if sc.filt_width > 1 else ""
        h_cond = f"ph >= {_u(sc.filt_height - 1, hw)}" if sc.filt_height > 1 else ""
        if st.stride_width > 1:
            step = phase("w_phase", sww, st.stride_width)
            out.append(f"if ({w_cond}) {step}" if w_cond else step)
        if sc.filt_height > 1 and sc.in_width > 1:
            out.append(f"if (col_in) iw <= (iw == {_u(sc.in_width - 1, iww)}) ? {_u(0, iww)} : iw + {_u(1, iww)};")
        out += ["if (row_end) begin"]
        if st.stride_height > 1:
            out.append(f"    if ({h_cond}) {phase('h_phase', shw, st.stride_height)}" if h_cond
                       else "    " + phase("h_phase", shw, st.stride_height))
        out += [f"    ph <= ph + {_u(1, hw)};", f"    pw <= {_u(0, ww)};"]
        if st.stride_width > 1:
            out.append(f"    w_phase <= {_u(0, sww)};")
        if sc.filt_height > 1:
            out.append(f"    iw <= {_u(0, iww)};")
        out += ["end else begin", f"    pw <= pw + {_u(1, ww)};", "end"]
        return out


def emit_conv(st: ConvStage) -> tuple[str, str]:
    """(module name, Verilog text: the Dense datapath module and the convolution module) of a convolution."""
    w = ConvWriter(st)
    return w.module, w.text()
