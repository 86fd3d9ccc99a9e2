"""Verilog of the LQ / binary layers: ``nnet_lq_dense.h`` (XNOR-popcount on bit-planes) and
``nnet_lq_activation.h`` (nearest level by midpoints), in RTL.

**LQ Dense** (:class:`flow.rtl.netlist.LQDenseStage`), with the lanes, reuse factor and ROM layout of
:class:`flow.hls.lq_microarch.LQRows` and the layer's own weight arrays (``wc``, ``aw``, ``bias`` in lane order):

1. **input register** ``x`` (the sample, held for the ``RF`` cycles of its pass) and the **encoder** of the
   HLS kernel's ``lq_input_code``: an LQ input is compared with the midpoints between its sorted levels (the last
   midpoint at or below it picks the level's code), a fixed-point input's planes are its own two's-complement
   bits; the offset plane (all ones) on top when the kernel keeps one. Every input is encoded once per sample;
2. **lanes**: ``lanes = ceil(n_out / RF)``; lane ``l`` computes row ``l * RF + c`` in cycle ``c``. Per plane pair
   ``(q, p)`` and segment, ``popcount((xp_p ^ w_q) & mask)`` is an adder tree of bits under ``(* use_dsp = "no" *)``,
   summed over the segments in ``count_t``; ``dot = n - 2 pop``; ``inner_q = sum_p mx_p dot_p`` (constant multiples),
   ``acc = B + sum_q mw'_q inner_q`` (the product with the row's folded mantissa: a constant multiple at RF 1, a
   LUT multiplier from the basis ROM above it, both ``use_dsp = "no"`` as ``BIND_OP impl=fabric``). Each lane's
   results enter its ``RF``-deep shift register, as ``lq_lanes_step`` does. At ``RF = 1`` the row words, mantissas
   and biases are constants in the logic; above it they are read from three ROMs, one word per cycle, laid out as
   the HLS ``ARRAY_RESHAPE block`` lays them out: the code ROM (``rom_style "block"`` in the Resource strategy, as
   the kernel binds it to BRAM), the basis and bias ROMs (distributed, the kernel's LUTRAM);
3. **output**: after the pass the rows are copied into the parts registers and written out as the row integer
   times ``2^E`` (a reinterpretation, ``lq_scaled``) cast to the layer's exact result type.

Every width is the HLS kernel's (``lq_types``: ``count_t``, ``inner_t``, ``accum_t``), and the sizing proves that
nothing wraps, so the integers equal the C-simulation's. One sample every ``RF`` cycles.

**LQ activation** (:class:`flow.rtl.netlist.LQActStage`): ``n_levels - 1`` comparators per value, the level's code
in the output type; one register stage with a valid/ready handshake.
"""

from __future__ import annotations

from flow.hls.encode import FixedSpec
from flow.rtl.dense import DenseWriter
from flow.rtl.netlist import LQActStage, LQDenseStage
from flow.rtl.verilog import (
    UNUSED_BITS_OFF, UNUSED_BITS_ON, adder_tree, decl, hex_word, ident, literal, resize,
    stage_ports,
)


def _code_range(spec: FixedSpec) -> tuple[int, int]:
    return (-(1 << (spec.width - 1)), (1 << (spec.width - 1)) - 1) if spec.signed else (0, (1 << spec.width) - 1)


def compare(name: str, xs: str, threshold: int, in_spec: FixedSpec) -> str:
    """``wire name = (x >= midpoint)`` with the midpoint as an input-code threshold (constant outside the range)."""
    lo, hi = _code_range(in_spec)
    if threshold <= lo:
        value = "1'b1"
    elif threshold > hi:
        value = "1'b0"
    else:
        value = f"({xs} >= {literal(threshold, in_spec.as_signed().width)})"
    return f"    wire {name} = {value};"


def level_chain(dst: str, ge: list[str], values: list[str], width: int) -> str:
    """``dst`` = ``values[0]``, replaced by ``values[l + 1]`` for every ``ge[l]`` that holds, the last one winning
    (the HLS loop over the midpoints)."""
    expr = values[0]
    for g, v in zip(ge, values[1:]):
        expr = f"({g} ? {v} : {expr})"
    return f"    {decl('wire', dst, width)} = {expr};"


def popcount(dst: str, vec: str, n: int) -> list[str]:
    """``dst`` (unsigned, ``n.bit_length()`` bits) = the number of ones in ``vec[n-1:0]``: a balanced adder tree of
    its bits in fabric, each sum one bit wider than its operands."""
    out_w = max(1, n.bit_length())
    lines = []
    level = [(f"{vec}[{k}]", 1) for k in range(n)] if n > 1 else [(vec, 1)]
    depth = 0

    def ext(expr: str, w: int, to: int) -> str:
        return expr if w == to else f"{{{to - w}'d0, {expr}}}"

    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            (a, wa), (b, wb) = level[k], level[k + 1]
            w = max(wa, wb) + 1
            name = f"{dst}_t{depth}_{k // 2}"
            lines.append(f'    (* use_dsp = "no" *) {decl("wire", name, w)} = {ext(a, wa, w)} + {ext(b, wb, w)};')
            nxt.append((name, w))
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    expr, w = level[0]
    if w < out_w:
        expr = ext(expr, w, out_w)
    elif w > out_w:  # the tree's top bits: a sum of n bits is below 2^out_w
        lines.append(f"    {decl('wire', f'{dst}_all', w)} = {expr};")
        expr = f"{dst}_all[{out_w - 1}:0]"
    lines.append(f"    {decl('wire', dst, out_w)} = {expr};")
    return lines


def naf(value: int) -> list[tuple[int, int]]:
    """The non-adjacent form of ``value``: ``[(shift, +1 or -1)]`` with ``value = sum sign * 2^shift``."""
    out, k, v = [], 0, int(value)
    while v:
        if v & 1:
            d = 2 - (v & 3)  # +1 or -1
            out.append((k, d))
            v -= d
        v >>= 1
        k += 1
    return out


def const_multiple(dst: str, src: str, value: int, width: int) -> list[str]:
    """``dst = src * value`` (``src`` a signed wire of ``width`` bits, the product wrapping at ``width`` like the
    exact HLS type) as shifts and adds of the constant's non-adjacent form, in fabric: no multiplier."""
    digits = naf(value)
    if not digits:
        return [f"    {decl('wire', dst, width, True)} = {literal(0, width)};"]
    lines = []
    terms = []
    for k, (shift, sign) in enumerate(digits):
        term = f"{dst}_k{k}"
        shifted = f"({src} <<< {shift})" if shift else src
        lines.append(f"    {decl('wire', term, width, True)} = {'-' if sign < 0 else ''}{shifted};")
        terms.append(term)
    lines += ["    " + x for x in adder_tree(f"{dst}_sum", terms, _int(width))]
    lines.append(f'    (* use_dsp = "no" *) {decl("wire", dst, width, True)} = {dst}_sum;')
    return lines


def fabric_multiply(dst: str, a: str, m: str, m_bits: int, width: int) -> list[str]:
    """``dst = a * m`` for a run-time signed ``m`` of ``m_bits`` bits (``a`` signed, ``width`` bits): one shifted
    partial product per bit of ``m``, the sign bit's subtracted (two's complement), summed by a tree of adds in
    fabric, as the HLS kernel binds this product (``BIND_OP impl=fabric``): no DSP."""
    zero = literal(0, width)
    terms = []
    lines = []
    for k in range(m_bits):
        term = f"{dst}_pp{k}"
        shifted = f"({a} <<< {k})" if k else a
        value = f"-{shifted}" if k == m_bits - 1 and m_bits > 1 else shifted
        bit = f"{m}[{k}]" if m_bits > 1 else m
        if m_bits == 1:  # a one-bit signed m is 0 or -1
            value = f"-{a}"
        lines.append(f"    {decl('wire', term, width, True)} = {bit} ? {value} : {zero};")
        terms.append(term)
    lines += ["    " + x for x in adder_tree(f"{dst}_sum", terms, _int(width))]
    lines.append(f'    (* use_dsp = "no" *) {decl("wire", dst, width, True)} = {dst}_sum;')
    return lines


def _int(bits: int) -> FixedSpec:
    return FixedSpec(bits, bits)


class LQDenseWriter(DenseWriter):
    """Builds the module text of one :class:`LQDenseStage` (the control of :class:`DenseWriter`: input register,
    ``RF``-cycle pass, parts and output registers with valid/ready)."""

    def __init__(self, st: LQDenseStage):  # noqa: D107 - not DenseWriter's: no MSQ kernel
        self.st, self.r = st, st.rows
        self._module = f"msq_lq_dense_{ident(st.name)}"
        self.rf = self.r.reuse_factor
        self.folded = False
        self.lines: list[str] = []

    @property
    def kx(self) -> int:
        return len(self.st.in_mantissa)

    def text(self) -> str:
        st, r = self.st, self.r
        wi, wr = st.in_spec.width, st.out_spec.width
        self.add(
            f"// LQ Dense '{st.name}': {st.n_in} -> {st.n_out}, {self.kx} input planes "
            f"({'LQ levels' if st.lq_input else 'fixed-point bits'}{', offset plane' if st.offset_plane else ''}), "
            f"{r.kw} weight planes, ReuseFactor {self.rf} ({r.lanes} lanes, {r.segments} segments of {r.seg_inputs} "
            f"inputs), {'ROM' if self.rf > 1 else 'constant'} weights",
            *stage_ports(self.module, st.n_in * wi, st.n_out * wr),
        )
        self.control()
        self.add(*UNUSED_BITS_OFF)
        self.encoder()
        self.roms()
        for lane in range(r.lanes):
            self.lane(lane)
        self.outputs()
        self.add(UNUSED_BITS_ON, "endmodule", "")
        return "\n".join(self.lines)

    # -- encoder (lq_input_code, lq_pack_planes) --------------------------------------------------
    def encoder(self) -> None:
        st, kx, wi = self.st, self.kx, self.st.in_spec.width
        top = 1 << (kx - 1) if st.offset_plane else 0
        for i in range(st.n_in):
            self.add(f"    wire [{wi - 1}:0] xr_{i} = x[{(i + 1) * wi - 1}:{i * wi}];")
            if st.lq_input:
                self.add(*("    " + s for s in resize(f"xs_{i}", f"xr_{i}", st.in_spec, st.in_spec.as_signed())))
                ge = [f"ge_{i}_{m}" for m in range(len(st.thresholds))]
                for g, t in zip(ge, st.thresholds):
                    self.add(compare(g, f"xs_{i}", t, st.in_spec))
                values = [literal(int(c) | top, kx, False) for c in st.level_codes]
                self.add(level_chain(f"code_{i}", ge, values, kx))
            elif st.offset_plane:
                self.add(f"    {decl('wire', f'code_{i}', kx)} = {{1'b1, xr_{i}}};")
            else:
                self.add(f"    {decl('wire', f'code_{i}', kx)} = xr_{i};")
        # plane words: bit t of xp_p_s is plane p of input s * seg_inputs + t (the real inputs only: the mask of
        # the kernel clears the padding bits past n_in, whose weight bits are zero too)
        for s in range(self.r.segments):
            idx = self.seg_inputs(s)
            for p in range(kx):
                bits = ", ".join(f"code_{i}[{p}]" if kx > 1 else f"code_{i}" for i in reversed(idx))
                self.add(f"    {decl('wire', f'xp_{p}_{s}', len(idx))} = {{{bits}}};")

    def seg_inputs(self, s: int) -> list[int]:
        r = self.r
        return [i for i in range(s * r.seg_inputs, (s + 1) * r.seg_inputs) if i < r.n_in]

    # -- ROMs --------------------------------------------------------------------------------------
    def rom(self, tag: str, flat: tuple, items: int, bits: int, block: bool) -> None:
        """One ROM ``{tag}_rom``, word ``c`` holds item ``b`` (element ``b * RF + c`` of the lane-order array) in
        bits ``[b * bits, (b + 1) * bits)`` (``ARRAY_RESHAPE block factor=items``); ``{tag}_word`` reads cycle ``c``."""
        depth, width = self.rf, items * bits
        decl_rom = f"reg [{width - 1}:0] {tag}_rom [0:{depth - 1}];"
        if block:
            self.add(f'    (* rom_style = "block" *) {decl_rom}')
        else:  # Vivado: distributed ROM (the kernel's LUTRAM); yosys 0.23 refuses the attribute on a ROM: LUTs
            self.add("`ifdef YOSYS", f"    {decl_rom}", "`else", f'    (* rom_style = "distributed" *) {decl_rom}',
                     "`endif")
        self.add(f"    reg [{width - 1}:0] {tag}_word;", "    initial begin")
        for cyc in range(depth):
            word = 0
            for b in range(items):
                word |= (int(flat[b * depth + cyc]) & ((1 << bits) - 1)) << (b * bits)
            self.add(f"        {tag}_rom[{cyc}] = {hex_word(word, width)};")
        self.add("    end", f"    always @(posedge clk) {tag}_word <= {tag}_rom[c_next];")

    def roms(self) -> None:
        if self.rf == 1:
            return
        r, st = self.r, self.st
        self.rom("wc", st.wc, r.lanes * r.segments, r.segment_bits, r.rom)
        self.rom("aw", st.aw, r.lanes * r.kw, r.basis_bits, False)
        self.rom("bs", st.bias, r.lanes, r.bias_bits, False)

    # -- one lane (lq_row) -------------------------------------------------------------------------
    def word(self, lane: int, s: int) -> str:
        """The segment word of lane ``lane`` (a constant at RF 1, else its slice of the code ROM word)."""
        r, bits = self.r, self.r.segment_bits
        b = lane * r.segments + s
        if self.rf == 1:
            return hex_word(self.st.wc[b], bits)
        name = f"w{lane}_{s}"
        self.add(f"    wire [{bits - 1}:0] {name} = wc_word[{(b + 1) * bits - 1}:{b * bits}];")
        return name

    def lane(self, lane: int) -> None:
        st, r = self.st, self.r
        cb, ib, ab = st.count_bits, st.inner_bits, st.accum_bits
        seg = r.seg_inputs
        name = f"l{lane}"
        words = [self.word(lane, s) for s in range(r.segments)]
        row = ", ".join(reversed(words))
        self.add(f"    {decl('wire', f'{name}_wv', r.row_bits)} = {{{row}}};  // the row's segments")
        prods = []
        for q in range(r.kw):
            terms = []
            for p in range(self.kx):
                pops = []
                for s in range(r.segments):
                    n_real = len(self.seg_inputs(s))
                    base = s * r.segment_bits + q * seg
                    v = f"{name}_v{q}_{p}_{s}"
                    self.add(f"    {decl('wire', v, n_real)} = xp_{p}_{s} ^ {name}_wv[{base + n_real - 1}:{base}];"
                             if n_real > 1 else f"    wire {v} = xp_{p}_{s} ^ {name}_wv[{base}];")
                    pc = f"{name}_pc{q}_{p}_{s}"
                    self.add(*popcount(pc, v, n_real))
                    w = n_real.bit_length()
                    self.add(f"    {decl('wire', f'{pc}_c', cb, True)} = {{{cb - w}'d0, {pc}}};")
                    pops.append(f"{pc}_c")
                pop = f"{name}_pop{q}_{p}"
                self.add(*("    " + x for x in adder_tree(pop, pops, _int(cb))))
                dot = f"{name}_dot{q}_{p}"
                self.add(f"    {decl('wire', dot, cb, True)} = {literal(r.n_in, cb)} - {{{pop}[{cb - 2}:0], 1'b0}};")
                mx = int(st.in_mantissa[p])
                if mx == 0:
                    continue
                self.add(*("    " + x for x in resize(f"{dot}_i", dot, _int(cb), _int(ib))))
                self.add(f"    // constant multiple by mx_{p} = {mx} (shifts and adds)")
                self.add(*const_multiple(f"{name}_m{q}_{p}", f"{dot}_i", mx, ib))
                terms.append(f"{name}_m{q}_{p}")
            inner = f"{name}_in{q}"
            self.add(*("    " + x for x in adder_tree(inner, terms, _int(ib))))
            self.add(*("    " + x for x in resize(f"{inner}_a", inner, _int(ib), _int(ab))))
            if self.rf == 1:  # a compile-time row: a constant multiple
                mant = int(st.aw[lane * r.kw + q])
                if mant == 0:
                    continue
                self.add(f"    // basis product with the row's constant mantissa {mant} (shifts and adds)")
                self.add(*const_multiple(f"{name}_p{q}", f"{inner}_a", mant, ab))
            else:  # the row's mantissa from the basis ROM: a LUT multiplier (BIND_OP impl=fabric)
                b, bits = lane * r.kw + q, r.basis_bits
                self.add(f"    wire signed [{bits - 1}:0] {name}_mw{q} = aw_word[{(b + 1) * bits - 1}:{b * bits}];")
                self.add(*fabric_multiply(f"{name}_p{q}", f"{inner}_a", f"{name}_mw{q}", bits, ab))
            prods.append(f"{name}_p{q}")
        if self.rf == 1:
            self.add(f"    {decl('wire', f'{name}_b', ab, True)} = {literal(int(st.bias[lane]), ab)};")
        else:
            bits = r.bias_bits
            self.add(f"    wire signed [{bits - 1}:0] {name}_bw = bs_word[{(lane + 1) * bits - 1}:{lane * bits}];")
            self.add(*("    " + x for x in resize(f"{name}_b", f"{name}_bw", _int(bits), _int(ab))))
        self.add(*("    " + x for x in adder_tree(f"{name}_acc", [f"{name}_b"] + prods, _int(ab))))
        if self.rf > 1:  # the lane's shift register: after RF cycles {name}_r{k} is row lane * RF + k
            for k in range(self.rf):
                self.add(f"    {decl('reg', f'{name}_r{k}', ab, True)};")
            self.add("    always @(posedge clk) begin", "        if (step) begin")
            for k in range(self.rf - 1):
                self.add(f"            {name}_r{k} <= {name}_r{k + 1};")
            self.add(f"            {name}_r{self.rf - 1} <= {name}_acc;", "        end", "    end")

    # -- parts and output (lq_write_rows, lq_scaled) -----------------------------------------------
    def outputs(self) -> None:
        st, ab, wr = self.st, self.st.accum_bits, self.st.out_spec.width
        for j in range(st.n_out):
            self.add(f"    {decl('reg', f'p_{j}', ab, True)};")
        self.add("    always @(posedge clk) begin", f"        if ({self.capture}) begin")
        for j in range(st.n_out):
            lane, k = divmod(j, self.rf)
            self.add(f"            p_{j} <= l{lane}_" + (f"r{k};" if self.rf > 1 else "acc;"))
        self.add("        end", "    end")
        for j in range(st.n_out):  # the row integer's bits times 2^E (scaled_t), cast to the exact result type
            self.add(*("    " + x for x in resize(f"y{j}_q", f"p_{j}", st.scaled, st.out_spec)))
        self.add("    always @(posedge clk) begin", "        if (parts_take) begin")
        for j in range(st.n_out):
            self.add(f"            out_data[{(j + 1) * wr - 1}:{j * wr}] <= y{j}_q;")
        self.add("        end", "    end")


def emit_lq_dense(st: LQDenseStage) -> tuple[str, str]:
    """(module name, Verilog text) of an LQ / binary Dense stage."""
    w = LQDenseWriter(st)
    return w.module, w.text()


def emit_lq_act(st: LQActStage) -> tuple[str, str]:
    """(module name, Verilog text) of an LQ activation stage (``lq_activation``)."""
    module = f"msq_lq_act_{ident(st.name)}"
    wi, wo = st.in_spec.width, st.out_spec.width
    lines = [
        f"// LQ activation '{st.name}': {st.n} values, {st.in_spec.cpp()} -> {len(st.levels)} levels in "
        f"{st.out_spec.cpp()} ({len(st.thresholds)} midpoint comparators per value)",
        *stage_ports(module, st.n * wi, st.n * wo),
        "    assign in_ready = !out_valid || out_ready;",
        *UNUSED_BITS_OFF,
    ]
    values = [literal(c, wo, False) if c >= 0 else hex_word(c, wo) for c in st.levels]
    for i in range(st.n):
        lines.append(f"    wire [{wi - 1}:0] v{i} = in_data[{(i + 1) * wi - 1}:{i * wi}];")
        lines.extend("    " + s for s in resize(f"v{i}_s", f"v{i}", st.in_spec, st.in_spec.as_signed()))
        ge = [f"v{i}_ge{m}" for m in range(len(st.thresholds))]
        lines.extend(compare(g, f"v{i}_s", t, st.in_spec) for g, t in zip(ge, st.thresholds))
        lines.append(level_chain(f"v{i}_q", ge, values, wo))
    lines += [
        "    always @(posedge clk) begin",
        "        if (rst) out_valid <= 1'b0;",
        "        else if (in_ready) out_valid <= in_valid;",
        "        if (in_ready && in_valid) begin",
    ]
    lines += [f"            out_data[{(i + 1) * wo - 1}:{i * wo}] <= v{i}_q;" for i in range(st.n)]
    lines += ["        end", "    end", UNUSED_BITS_ON, "endmodule", ""]
    return module, "\n".join(lines)
