"""Verilog of a real-scale row multiplier stage (:class:`flow.rtl.netlist.ScaleStage`: the ``<layer>_scale``
``ApplyAlpha`` of :mod:`flow.hls.row_scale`, hls4ml's ``nnet::normalize``): value ``i`` is
``data[i] * scale[i % n_filt] + bias[i % n_filt]``, the exact product plus the bias in full precision, cast into
the result type (:func:`flow.rtl.cast.cast_value`). The scales are constants: one constant multiplication per
value (yosys / Vivado bind it to LUTs or a DSP, as HLS binds a multiply by a constant). One register stage with a
valid/ready handshake (a new sample every cycle)."""

from __future__ import annotations

from flow.hls.encode import FixedSpec
from flow.rtl.cast import cast_value
from flow.rtl.netlist import ScaleStage
from flow.rtl.verilog import UNUSED_BITS_OFF, UNUSED_BITS_ON, decl, ident, literal, resize, stage_ports


def emit_scale(st: ScaleStage) -> tuple[str, str]:
    """(module name, Verilog text) of a row-scale stage."""
    module = f"msq_scale_{ident(st.name)}"
    n, wi, wo = st.n_in, st.in_spec.width, st.out_spec.width
    xs, ss, bs = st.in_spec.as_signed(), st.scale_spec.as_signed(), st.bias_spec.as_signed()
    prod = FixedSpec(xs.width + ss.width, xs.integer + ss.integer)
    total = st.cast.in_spec
    lines = [
        f"// Row scale '{st.name}': {n} values, {st.in_spec.cpp()} * {st.scale_spec.cpp()} + {st.bias_spec.cpp()} "
        f"-> {st.out_spec.cpp()} ({st.cast.rounding}, {st.cast.saturation}), {st.n_filt} constant multipliers",
        *stage_ports(module, n * wi, n * wo),
        "    assign in_ready = !out_valid || out_ready;",
        *UNUSED_BITS_OFF,
    ]
    for i in range(n):
        f = i % st.n_filt
        v = f"v{i}"
        lines.append(f"    wire [{wi - 1}:0] {v} = in_data[{(i + 1) * wi - 1}:{i * wi}];")
        wide = FixedSpec(prod.width, prod.width - xs.fractional)  # the input on the product's width
        lines += ["    " + s for s in resize(f"{v}_x", v, st.in_spec, wide)]
        lines.append(f"    {decl('wire', f'{v}_p', prod.width, True)} = {v}_x * {literal(st.scales[f], prod.width)};"
                     f"  // scale[{f}]")
        lines += ["    " + s for s in resize(f"{v}_pt", f"{v}_p", prod, total)]
        lines.append(f"    {decl('wire', f'{v}_b', bs.width, True)} = {literal(st.biases[f], bs.width)};")
        lines += ["    " + s for s in resize(f"{v}_bt", f"{v}_b", bs, total)]
        lines.append(f"    {decl('wire', f'{v}_sum', total.width, True)} = {v}_pt + {v}_bt;")
        lines += ["    " + s for s in cast_value(v, f"{v}_sum", st.cast)]
    lines += [
        "    always @(posedge clk) begin",
        "        if (rst) out_valid <= 1'b0;",
        "        else if (in_ready) out_valid <= in_valid;",
        "        if (in_ready && in_valid) begin",
    ]
    lines += [f"            out_data[{(i + 1) * wo - 1}:{i * wo}] <= v{i}_q;" for i in range(n)]
    lines += ["        end", "    end", UNUSED_BITS_ON, "endmodule", ""]
    return module, "\n".join(lines)
