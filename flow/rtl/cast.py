"""Verilog of a quantized activation: ReLU (or identity) then an ``ap_fixed`` cast, as hls4ml's
``relu``/``linear`` write ``res[i] = data[i] > 0 ? data[i] : 0`` into the result type.

The cast rounds (``TRN`` floor, ``RND`` half up, ``RND_CONV`` half to even: QKeras' ``quantized_relu``
and ``quantized_bits``, ``RND_ZERO`` half toward zero) and saturates (``SAT``, ``SAT_SYM``) or wraps
(``WRAP``). One register stage with a valid/ready handshake (a new sample every cycle).
"""

from __future__ import annotations

from flow.hls.encode import FixedSpec
from flow.rtl.netlist import CastStage
from flow.rtl.verilog import UNUSED_BITS_OFF, UNUSED_BITS_ON, decl, ident, literal, resize, stage_ports


def _bounds(out: FixedSpec, saturation: str) -> tuple[int, int]:
    if out.signed:
        hi = 2 ** (out.width - 1) - 1
        return (-hi if saturation == "SAT_SYM" else -hi - 1), hi
    return 0, 2**out.width - 1


def _round_up(name: str, d: int, w: int, rounding: str) -> str:
    """The carry into the kept bits when ``d`` bits are dropped from ``{name}_r``."""
    half = f"{name}_r[{d - 1}]"
    below = f"(|{name}_r[{d - 2}:0])" if d > 1 else "1'b0"
    if rounding == "TRN":
        return "1'b0"
    if rounding == "RND":
        return half
    if rounding == "RND_CONV":
        return f"{half} & ({below} | {name}_r[{d}])"
    return f"{half} & ({below} | {name}_r[{w - 1}])"  # RND_ZERO: ties go up only below zero


def cast_value(name: str, src: str, st: CastStage) -> list[str]:
    """Lines computing ``{name}_q`` (the output code) from the input code ``src``."""
    sin = st.in_spec.as_signed()
    w, d = sin.width, st.in_spec.fractional - st.out_spec.fractional
    lines = resize(f"{name}_a", src, st.in_spec, sin)
    zero = literal(0, w)
    relu = f"{name}_a[{w - 1}] ? {zero} : {name}_a" if st.activation == "relu" else f"{name}_a"
    lines.append(f"{decl('wire', f'{name}_r', w, True)} = {relu};")
    if d > 0:
        lines.append(f"{decl('wire', f'{name}_up', 1)} = {_round_up(name, d, w, st.rounding)};")
        wq = w - d + 1
        lines.append(f"{decl('wire', f'{name}_fl', wq, True)} = {{{name}_r[{w - 1}], {name}_r[{w - 1}:{d}]}};")
        lines.append(f"{decl('wire', f'{name}_n', wq, True)} = {name}_fl + {{{{{wq - 1}{{1'b0}}}}, {name}_up}};")
    else:
        wq = w - d
        lines.append(f"{decl('wire', f'{name}_n', wq, True)} = " + (f"{{{name}_r, {-d}'d0}};" if d else f"{name}_r;"))
    out = st.out_spec
    lo, hi = _bounds(out, st.saturation)
    wc = max(wq, out.width + 1) + 1
    lines.extend(resize(f"{name}_c", f"{name}_n", FixedSpec(wq, wq), FixedSpec(wc, wc)))
    if st.saturation == "WRAP":
        lines.append(f"{decl('wire', f'{name}_q', out.width)} = {name}_c[{out.width - 1}:0];")
    else:
        lines.append(f"{decl('wire', f'{name}_s', wc, True)} = ({name}_c > {literal(hi, wc)}) ? {literal(hi, wc)} : "
                     f"(({name}_c < {literal(lo, wc)}) ? {literal(lo, wc)} : {name}_c);")
        lines.append(f"{decl('wire', f'{name}_q', out.width)} = {name}_s[{out.width - 1}:0];")
    return lines


def emit_cast(st: CastStage) -> tuple[str, str]:
    """(module name, Verilog text) of an activation stage."""
    module = f"msq_act_{ident(st.name)}"
    wi, wo = st.in_spec.width, st.out_spec.width
    lines = [
        f"// Activation '{st.name}': {st.activation}, {st.n} values, {st.in_spec.cpp()} -> {st.out_spec.cpp()} "
        f"({st.rounding}, {st.saturation})",
        *stage_ports(module, st.n * wi, st.n * wo),
        "    assign in_ready = !out_valid || out_ready;",
        *UNUSED_BITS_OFF,
    ]
    for i in range(st.n):
        lines.append(f"    wire [{wi - 1}:0] v{i} = in_data[{(i + 1) * wi - 1}:{i * wi}];")
        lines.extend("    " + s for s in cast_value(f"v{i}", f"v{i}", st))
    lines += [
        "    always @(posedge clk) begin",
        "        if (rst) out_valid <= 1'b0;",
        "        else if (in_ready) out_valid <= in_valid;",
        "        if (in_ready && in_valid) begin",
    ]
    lines += [f"            out_data[{(i + 1) * wo - 1}:{i * wo}] <= v{i}_q;" for i in range(st.n)]
    lines += ["        end", "    end", UNUSED_BITS_ON, "endmodule", ""]
    return module, "\n".join(lines)
