"""Verilog of one MSQ Dense layer: the lane schedule of ``nnet_msq_dense.h``, in RTL.

Three stages with valid/ready handshakes (a stage holds its result until the next one takes it):

1. **input register** ``x``: the sample, held for the ``RF`` cycles of its pass;
2. **lanes** (:class:`flow.hls.microarch.LaneArray`, the same split / folded schedules and the same
   weight layout as the HLS kernel): fixed lanes multiply under ``(* use_dsp = "yes" *)``, SP2 lanes
   are ``±((x >>> f1) + (x >>> f2))`` under ``(* use_dsp = "no" *)``; each lane accumulates its
   products over ``RF`` cycles, and the last cycle copies the lane sums into the **parts** registers;
   at ``RF = 1`` (fully parallel) the weights are constants in the logic, above it they are read
   from one ROM per matrix, ``lanes x bits`` wide and ``RF`` deep (``rom_style "block"`` above
   ``LUTROM_MAX_DEPTH`` words, else no attribute: distributed ROM / LUTs), one word per cycle, as ``ARRAY_RESHAPE`` lays them out;
3. **combine**: each row's chunk partials are summed (a tree of two-operand adds), scaled by the row's
   power of two, the bias is added and the result is registered in the layer's exact output type.

Every width is the HLS kernel's (``msq_types``), so the arithmetic (which never rounds) is the same
integer arithmetic as the C-simulation. A new sample is taken while the combine stage still works on
the previous one: one sample every ``RF`` cycles.
"""

from __future__ import annotations

from flow.hls.encode import FixedSpec
from flow.hls.microarch import LaneArray
from flow.rtl.netlist import DenseStage
from flow.rtl.verilog import (
    UNUSED_BITS_OFF, UNUSED_BITS_ON, adder_tree, counter_width, decl, hex_word, ident, literal, resize,
    stage_ports,
)


class DenseWriter:
    """Builds the module text of one :class:`DenseStage`."""

    def __init__(self, st: DenseStage, module: str | None = None):
        self.st, self.k, self.t = st, st.kernel, st.types
        self._module = module
        self.rf = self.k.reuse_factor
        self.folded = self.k.fixed.folded
        self.xs = st.in_spec.as_signed()
        self.lines: list[str] = []

    # -- helpers -----------------------------------------------------------------------------------
    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    @property
    def module(self) -> str:
        return self._module or f"msq_dense_{ident(self.st.name)}"

    def text(self) -> str:
        st = self.st
        wi, wr = st.in_spec.width, st.out_spec.width
        self.add(
            f"// MSQ Dense '{st.name}': {st.n_in} -> {st.n_out}, {self.k.n_fix} fixed rows (DSP), {self.k.n_sp2} SP2 rows "
            f"(LUT), ReuseFactor {self.rf} ({'folded' if self.folded else 'split'} lanes: {self.k.fixed.lanes} fixed, "
            f"{self.k.sp2.lanes} SP2), {'ROM' if self.rf > 1 else 'constant'} weights",
            *stage_ports(self.module, st.n_in * wi, st.n_out * wr),
        )
        self.control()
        self.add(*UNUSED_BITS_OFF)
        self.inputs()
        fix_final = self.matrix("f", self.k.fixed, self.fixed_term, self.t.fix_accum)
        sp2_final = self.matrix("s", self.k.sp2, self.sp2_term, self.t.sp2_accum)
        self.parts("f", self.k.fixed, fix_final, self.t.fix_accum)
        self.parts("s", self.k.sp2, sp2_final, self.t.sp2_accum)
        self.combine()
        self.add(UNUSED_BITS_ON, "endmodule", "")
        return "\n".join(self.lines)

    @property
    def capture(self) -> str:
        """When the parts registers take the lane sums: at RF 1 the products of the same cycle; above it the lane
        (or DSP P) registers one cycle after the last product, so each accumulator is a plain register feeding
        itself (``P <= (first ? C : P) + M``), which maps into the DSP48E1's P register."""
        return "fin" if self.rf > 1 else "step && last"

    # -- control -----------------------------------------------------------------------------------
    def control(self) -> None:
        rf, cw = self.rf, counter_width(self.rf)
        self.add(
            f"    reg [{self.st.n_in * self.st.in_spec.width - 1}:0] x;",
            "    reg busy;",
            "    reg parts_valid;",
            "    wire parts_take = parts_valid && (!out_valid || out_ready);",
        )
        if rf == 1:
            self.add("    wire last = 1'b1;")
        else:
            self.add(f"    reg [{cw - 1}:0] c;", f"    wire last = (c == {literal(rf - 1, cw, False)});")
        self.add(
            "    wire advance = !(last && parts_valid && !parts_take);",
            "    wire step = busy && advance;",
            "    assign in_ready = !busy || (last && advance);",
            "    wire accept = in_valid && in_ready;",
        )
        if rf > 1:
            self.add(f"    wire [{cw - 1}:0] c_next = accept ? {literal(0, cw, False)} : "
                     f"(step ? (last ? {literal(0, cw, False)} : c + {literal(1, cw, False)}) : c);")
        if self.folded:
            n_in, group = self.st.n_in, self.k.fixed.rows_per_lane
            iw, gw = counter_width(n_in), counter_width(group)
            self.add(
                f"    reg [{iw - 1}:0] inp;  // input index of the folded lanes",
                f"    reg [{gw - 1}:0] grow;  // row within each lane's group",
                f"    wire row_end = (inp == {literal(n_in - 1, iw, False)});",
            )
        if rf > 1:
            self.add("    reg fin;  // the lane registers hold the finished pass: copy them into the parts")
        if self.folded:
            self.add("    reg rowdone;  // a lane's row finished last cycle (its sum is in the lane register)",
                     f"    reg [{gw - 1}:0] growd;")
        self.add(
            "    always @(posedge clk) begin",
            "        if (rst) begin",
            "            busy <= 1'b0;",
            "            parts_valid <= 1'b0;",
            "            out_valid <= 1'b0;",
        )
        if rf > 1:
            self.add(f"            c <= {literal(0, cw, False)};", "            fin <= 1'b0;")
        if self.folded:
            self.add("            rowdone <= 1'b0;", f"            growd <= {literal(0, gw, False)};")
        if self.folded:
            self.add(f"            inp <= {literal(0, iw, False)};", f"            grow <= {literal(0, gw, False)};")
        self.add(
            "        end else begin",
            "            if (accept) begin",
            "                x <= in_data;",
            "                busy <= 1'b1;",
            "            end else if (step && last) begin",
            "                busy <= 1'b0;",
            "            end",
        )
        if rf > 1:
            self.add("            c <= c_next;")
        if self.folded:
            self.add(
                "            if (accept || (step && last)) begin",
                f"                inp <= {literal(0, iw, False)};",
                f"                grow <= {literal(0, gw, False)};",
                "            end else if (step) begin",
                f"                inp <= row_end ? {literal(0, iw, False)} : inp + {literal(1, iw, False)};",
                f"                if (row_end) grow <= grow + {literal(1, gw, False)};",
                "            end",
            )
        if rf > 1:  # the lane sums are read from their registers, one cycle after the pass's last product
            self.add("            fin <= step && last;")
        if self.folded:
            self.add("            rowdone <= step && row_end;", "            growd <= grow;")
        self.add(
            f"            if ({self.capture}) parts_valid <= 1'b1;",
            "            else if (parts_take) parts_valid <= 1'b0;",
            "            if (parts_take) out_valid <= 1'b1;",
            "            else if (out_ready) out_valid <= 1'b0;",
            "        end",
            "    end",
        )

    # -- lane inputs -------------------------------------------------------------------------------
    def inputs(self) -> None:
        st, wi = self.st, self.st.in_spec.width
        for i in range(st.n_in):
            self.add(f"    wire [{wi - 1}:0] xr_{i} = x[{(i + 1) * wi - 1}:{i * wi}];")
            self.add(*("    " + s for s in resize(f"xv_{i}", f"xr_{i}", st.in_spec, self.xs)))
        rf = self.rf
        if rf == 1:
            return
        w = self.xs.width
        if self.folded:
            self.mux("xf", [f"xv_{i}" for i in range(st.n_in)], "inp", counter_width(st.n_in), w)
            return
        for ch in range(self.k.fixed.chunks if self.k.n_fix else self.k.sp2.chunks):
            sources = [f"xv_{ch * rf + cyc}" for cyc in range(rf) if ch * rf + cyc < st.n_in]
            self.mux(f"xc_{ch}", sources, "c", counter_width(rf), w)

    def mux(self, name: str, sources: list[str], sel: str, sel_width: int, width: int) -> None:
        self.add(f"    {decl('reg', name, width, True)};", "    always @* begin", f"        case ({sel})")
        for k, src in enumerate(sources):
            self.add(f"            {literal(k, sel_width, False)}: {name} = {src};")
        self.add(f"            default: {name} = {literal(0, width)};", "        endcase", "    end")

    def lane_input(self, lane: int, lanes: LaneArray) -> str:
        if self.rf == 1:
            return f"xv_{lane % lanes.chunks}"
        return "xf" if self.folded else f"xc_{lane % lanes.chunks}"

    # -- lanes -------------------------------------------------------------------------------------
    def weights(self, tag: str, lanes: LaneArray, codes) -> list[int] | None:
        """Lane weights: ``None`` with a ROM (RF > 1, read as ``w{tag}_word``), else the constants."""
        flat = [int(v) for v in lanes.layout(codes)]
        bits = self.k.weight_bits
        if self.rf == 1:
            return flat
        width, depth = lanes.lanes * bits, self.rf
        # deep ROMs are RAMB18 tiles (rom_style block); shallow ones (at most LUTROM_MAX_DEPTH words, or constants
        # of the Latency strategy) are distributed ROM for Vivado; yosys 0.23 refuses rom_style "distributed" for a
        # ROM, so it reads the plain declaration and maps it to LUT logic
        block = self.k.rom and not self.k.rom_lutram
        decl_rom = f"reg [{width - 1}:0] w{tag}_rom [0:{depth - 1}];"
        if block:
            self.add(f'    (* rom_style = "block" *) {decl_rom}')
        else:  # Vivado: distributed ROM (as HLS binds it to LUTRAM); yosys (which defines YOSYS) maps it to LUTs
            self.add("`ifdef YOSYS", f"    {decl_rom}", "`else", f'    (* rom_style = "distributed" *) {decl_rom}', "`endif")
        self.add(f"    reg [{width - 1}:0] w{tag}_word;", "    initial begin")
        for cyc in range(depth):
            word = 0
            for lane in range(lanes.lanes):
                word |= (flat[lane * depth + cyc] & ((1 << bits) - 1)) << (lane * bits)
            self.add(f"        w{tag}_rom[{cyc}] = {hex_word(word, width)};")
        self.add("    end", f"    always @(posedge clk) w{tag}_word <= w{tag}_rom[c_next];")
        return None

    def first(self) -> str:
        """True on the first product of a lane's row partial (cycle 0, or input 0 when folded)."""
        if self.folded:
            return f"inp == {literal(0, counter_width(self.st.n_in), False)}"
        return f"c == {literal(0, counter_width(self.rf), False)}"

    def pairs(self, lanes: LaneArray) -> dict[int, int]:
        """Packed fixed lanes (``RowKernel.pack``): lane -> its partner, for the first lane of each pair
        (split: rows ``2p``, ``2p + 1`` of one chunk; folded: lanes ``2p``, ``2p + 1``). A lone last row or
        lane is not in the map (one product in its own DSP)."""
        if not self.k.pack:
            return {}
        if self.folded:
            return {2 * p: 2 * p + 1 for p in range(lanes.lanes // 2)}
        ch = lanes.chunks
        return {2 * p * ch + c: (2 * p + 1) * ch + c for p in range(lanes.n_rows // 2) for c in range(ch)}

    def matrix(self, tag: str, lanes: LaneArray, term, accum: FixedSpec) -> list[str]:
        """Every lane of one matrix; returns the name of each lane's value at the end of the pass."""
        if lanes.lanes == 0:
            return []
        codes = self.st.enc.fix_weights if tag == "f" else self.st.enc.sp2_codes
        consts = self.weights(tag, lanes, codes)
        pairs = self.pairs(lanes) if tag == "f" else {}
        partners = set(pairs.values())
        in_dsp = bool(pairs) and self.k.pack.in_dsp
        finals = []
        for lane in range(lanes.lanes):
            name = f"{tag}{lane}"
            if lane in pairs:
                self.packed_pair(lane, pairs[lane], lanes, consts, accum)
            if lane in pairs or lane in partners:
                if in_dsp:  # the row partial was accumulated in P and split off it
                    finals.append(f"{name}_fin")
                    continue
                value = f"{name}_pk"
            else:
                value = term(name, lane, lanes, consts)
            if self.rf == 1:
                finals.append(value)
                continue
            zero = literal(0, accum.width)
            self.add(f"    {decl('reg', f'{name}_acc', accum.width, True)};",
                     f"    {decl('wire', f'{name}_next', accum.width, True)} = (({self.first()}) ? {zero} : {name}_acc) + {value};",
                     f"    always @(posedge clk) if (step) {name}_acc <= {name}_next;")
            finals.append(f"{name}_acc")
        return finals

    def packed_pair(self, a: int, b: int, lanes: LaneArray, consts, accum: FixedSpec) -> None:
        """Lanes ``a`` and ``b`` in one DSP48E1 (:class:`flow.hls.microarch.DSPPack`)::

            P = 2^(k-1) + sum (w_a * 2^k + w_b) * x,   sum w_a * x = P[47:k],   sum w_b * x = P[k-1:0] with its MSB inverted

        In the DSP (``pack.in_dsp``) P accumulates the lane's row partial and the split of the P register gives ``{lane}_fin``;
        otherwise P is split every cycle into the products ``{lane}_pk`` that the lanes accumulate in fabric."""
        pack, bits = self.k.pack, self.k.weight_bits
        k, name = pack.shift, f"d{a}"
        whole = FixedSpec(48, 48)
        x = self.lane_input(a, lanes)
        self.add(*("    " + s for s in resize(f"{name}_x", x, self.xs, FixedSpec(48, 48 - self.xs.fractional))))
        if consts is not None:
            self.add(f"    {decl('wire', f'{name}_ad', 48, True)} = {literal(consts[a] * 2**k + consts[b], 48)};")
        else:
            for lane, role in ((a, "a"), (b, "b")):
                self.add(f"    wire signed [{bits - 1}:0] {name}_w{role} = wf_word[{(lane + 1) * bits - 1}:{lane * bits}];")
                self.add(*("    " + s for s in resize(f"{name}_{role}25", f"{name}_w{role}", FixedSpec(bits, bits),
                                                     FixedSpec(25, 25))))
            self.add(f"    wire signed [24:0] {name}_ad25 = ({name}_a25 <<< {k}) + {name}_b25;  // pre-adder")
            self.add(*("    " + s for s in resize(f"{name}_ad", f"{name}_ad25", FixedSpec(25, 25), whole)))
        self.add(f"    (* use_dsp = \"yes\" *) {decl('wire', f'{name}_m', 48, True)} = {name}_x * {name}_ad;")
        corr = literal(2 ** (k - 1), 48)
        if pack.in_dsp:
            self.add(f"    {decl('reg', f'{name}_p', 48, True)};",
                     f"    {decl('wire', f'{name}_pn', 48, True)} = (({self.first()}) ? {corr} : {name}_p) + {name}_m;",
                     f"    always @(posedge clk) if (step) {name}_p <= {name}_pn;")
        else:
            self.add(f"    {decl('wire', f'{name}_pn', 48, True)} = {corr} + {name}_m;")
        frac = self.xs.fractional
        src = f"{name}_p" if pack.in_dsp else f"{name}_pn"  # the P register (in the DSP) or this cycle's product
        self.add(f"    {decl('wire', f'{name}_hi', 48 - k, True)} = {src}[47:{k}];",
                 f"    {decl('wire', f'{name}_lo', k, True)} = {{~{src}[{k - 1}], {src}[{k - 2}:0]}};")
        suffix = "fin" if pack.in_dsp else "pk"
        self.add(*("    " + s for s in resize(f"f{a}_{suffix}", f"{name}_hi", FixedSpec(48 - k, 48 - k - frac), accum)))
        self.add(*("    " + s for s in resize(f"f{b}_{suffix}", f"{name}_lo", FixedSpec(k, k - frac), accum)))

    def fixed_term(self, name: str, lane: int, lanes: LaneArray, consts) -> str:
        t, bits = self.t, self.k.weight_bits
        prod, accum = t.fix_prod, t.fix_accum
        x = self.lane_input(lane, lanes)
        self.add(*("    " + s for s in resize(f"{name}_x", x, self.xs, prod)))
        if consts is not None:
            w = consts[lane]
            if w == 0:
                return literal(0, accum.width)
            weight = literal(w, prod.width)
        else:
            self.add(f"    wire signed [{bits - 1}:0] {name}_w = wf_word[{(lane + 1) * bits - 1}:{lane * bits}];")
            self.add(*("    " + s for s in resize(f"{name}_we", f"{name}_w", FixedSpec(bits, bits), FixedSpec(prod.width, prod.width))))
            weight = f"{name}_we"
        self.add(f"    (* use_dsp = \"yes\" *) {decl('wire', f'{name}_p', prod.width, True)} = {name}_x * {weight};")
        self.add(*("    " + s for s in resize(f"{name}_pa", f"{name}_p", prod, accum)))
        return f"{name}_pa"

    def sp2_term(self, name: str, lane: int, lanes: LaneArray, consts) -> str:
        enc, t = self.st.enc, self.t
        data, term, accum = t.sp2_data, t.sp2_term, t.sp2_accum
        m1, m2 = enc.m1, enc.m2
        x = self.lane_input(lane, lanes)
        self.add(*("    " + s for s in resize(f"{name}_xs", x, self.xs, data)))
        zero = literal(0, data.width)
        if consts is not None:
            code = consts[lane]
            f1, f2, neg = (code >> m2) & ((1 << m1) - 1), code & ((1 << m2) - 1), (code >> (m1 + m2)) & 1
            shifts = [f for f in (f1, f2) if f]
            if not shifts:
                return literal(0, accum.width)
            halves = [f"({name}_xs >>> {f})" for f in shifts]
        else:
            bits = self.k.weight_bits
            self.add(f"    wire [{bits - 1}:0] {name}_code = ws_word[{(lane + 1) * bits - 1}:{lane * bits}];")
            self.add(f"    wire [{m1 - 1}:0] {name}_f1 = {name}_code[{m1 + m2 - 1}:{m2}];",
                     f"    wire [{m2 - 1}:0] {name}_f2 = {name}_code[{m2 - 1}:0];")
            halves = [f"(({name}_f1 == {literal(0, m1, False)}) ? {zero} : ({name}_xs >>> {name}_f1))",
                      f"(({name}_f2 == {literal(0, m2, False)}) ? {zero} : ({name}_xs >>> {name}_f2))"]
        for k, h in enumerate(halves):
            self.add(f"    {decl('wire', f'{name}_h{k}', data.width, True)} = {h};")
            self.add(*("    " + s for s in resize(f"{name}_e{k}", f"{name}_h{k}", data, term)))
        total = " + ".join(f"{name}_e{k}" for k in range(len(halves)))
        self.add(f"    (* use_dsp = \"no\" *) {decl('wire', f'{name}_s', term.width, True)} = {total};")
        if consts is not None:
            sign = f"-{name}_s" if neg else f"{name}_s"
        else:
            sign = f"{name}_code[{m1 + m2}] ? -{name}_s : {name}_s"
        self.add(f"    {decl('wire', f'{name}_t', term.width, True)} = {sign};")
        self.add(*("    " + s for s in resize(f"{name}_ta", f"{name}_t", term, accum)))
        return f"{name}_ta"

    # -- parts and combine -------------------------------------------------------------------------
    def parts(self, tag: str, lanes: LaneArray, finals: list[str], accum: FixedSpec) -> None:
        """``p{tag}_{row * chunks + chunk}`` registers, written on the pass's last cycle."""
        if lanes.n_rows == 0:
            return
        group = lanes.rows_per_lane
        for idx in range(lanes.n_rows * lanes.chunks):
            self.add(f"    {decl('reg', f'p{tag}_{idx}', accum.width, True)};")
        holds = [(lane, k) for lane in range(lanes.lanes) for k in range(group - 1) if lane * group + k < lanes.n_rows]
        for lane, k in holds:  # a folded lane's earlier rows finish before the last cycle: hold them
            self.add(f"    {decl('reg', f'{tag}{lane}_row{k}', accum.width, True)};")
        self.add("    always @(posedge clk) begin")
        for lane, k in holds:
            grow = literal(k, counter_width(group), False)
            self.add(f"        if (rowdone && growd == {grow}) {tag}{lane}_row{k} <= {finals[lane]};")
        self.add(f"        if ({self.capture}) begin")
        for idx in range(lanes.n_rows * lanes.chunks):
            if self.folded:
                lane, k = divmod(idx, group)
                value = finals[lane] if k == group - 1 else f"{tag}{lane}_row{k}"
            else:
                value = finals[idx]
            self.add(f"            p{tag}_{idx} <= {value};")
        self.add("        end", "    end")

    def combine(self) -> None:
        st, t, enc = self.st, self.t, self.st.enc
        out, res, wr = t.out_accum, t.result, st.out_spec.width
        wide = FixedSpec(out.width + 1, out.integer + 1)
        for tag, rows, lanes, accum in (("f", enc.fix_rows, self.k.fixed, t.fix_accum),
                                        ("s", enc.sp2_rows, self.k.sp2, t.sp2_accum)):
            for r, j in enumerate(int(v) for v in rows):
                shift = int(enc.shift[j])
                name = f"y{j}"
                parts = [f"p{tag}_{r * lanes.chunks + ch}" for ch in range(lanes.chunks)]
                self.add(*("    " + s for s in adder_tree(f"{name}_sum", parts, accum)))
                self.add(*("    " + s for s in resize(f"{name}_o", f"{name}_sum", accum, out)))
                self.add(*("    " + s for s in resize(f"{name}_v", f"{name}_o", FixedSpec(out.width, out.integer + shift), out)))
                self.add(f"    {decl('wire', f'{name}_b', st.bias_spec.width, True)} = "
                         f"{literal(int(st.bias_codes[j]), st.bias_spec.width)};")
                self.add(*("    " + s for s in resize(f"{name}_bo", f"{name}_b", st.bias_spec, out)))
                self.add(*("    " + s for s in resize(f"{name}_vw", f"{name}_v", out, wide)))
                self.add(*("    " + s for s in resize(f"{name}_bw", f"{name}_bo", out, wide)))
                self.add(f"    {decl('wire', f'{name}_r', wide.width, True)} = {name}_vw + {name}_bw;")
                self.add(*("    " + s for s in resize(f"{name}_q", f"{name}_r", wide, res)))
        self.add("    always @(posedge clk) begin", "        if (parts_take) begin")
        for j in range(st.n_out):
            self.add(f"            out_data[{(j + 1) * wr - 1}:{j * wr}] <= y{j}_q;")
        self.add("        end", "    end")


def emit_dense(st: DenseStage, module: str | None = None) -> tuple[str, str]:
    """(module name, Verilog text) of a Dense stage (also the per-pixel datapath of a convolution, under the
    name ``module``)."""
    w = DenseWriter(st, module)
    return w.module, w.text()
