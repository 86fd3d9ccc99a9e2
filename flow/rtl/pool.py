"""Verilog of max / average pooling (Pooling1D/Pooling2D, channels last), as hls4ml's io_parallel
``pooling2d_cl`` / ``pooling1d_cl`` (``nnet_pooling.h``) compute it:

* the windows step over the padded frame by the stride; a position outside the input holds
  ``pad_val``: for max the data type with only its MSB set (the most negative value of a signed type;
  hls4ml's choice, also for an unsigned type, where it is half the range), for average 0;
* max: the largest value, cast to ``accum_t`` and then to the result type;
* average: ``accum_t y = 0; y += x[i]`` (exact: the accumulator holds every input, checked in
  :func:`flow.rtl.netlist.pool_stage`), then ``y /= n`` with ``n`` the positions inside the input
  (``count_pad`` False, as Keras) or the pool size: ``ap_fixed`` division by an integer, which keeps
  ``accum_t``'s fractional bits and truncates toward zero; then the cast to the result type.

Like the HLS function (fully unrolled, ``PIPELINE II=reuse_factor``) every output is computed in parallel:
one register stage with a valid/ready handshake, a new frame every cycle.
"""

from __future__ import annotations

from flow.hls.encode import FixedSpec
from flow.rtl.cast import cast_value
from flow.rtl.netlist import CastStage, PoolStage
from flow.rtl.verilog import UNUSED_BITS_OFF, UNUSED_BITS_ON, adder_tree, decl, ident, literal, resize


def _cast(name: str, src: str, in_spec: FixedSpec, out_spec: FixedSpec, modes: tuple) -> list[str]:
    """``{name}_q``: ``src`` (a code of ``in_spec``) cast like an ``ap_fixed`` assignment with ``modes``."""
    return cast_value(name, src, CastStage(name, "linear", 1, in_spec, out_spec, modes[0], modes[1]))


def windows(st: PoolStage):
    """``(output index, [(input index or None for a padded position), ...])`` in hls4ml's output order."""
    for oh in range(st.out_height):
        for ow in range(st.out_width):
            for f in range(st.n_filt):
                taps = []
                for kk in range(st.pool_height):
                    for ll in range(st.pool_width):
                        r, c = oh * st.stride_height + kk - st.pad_top, ow * st.stride_width + ll - st.pad_left
                        inside = 0 <= r < st.in_height and 0 <= c < st.in_width
                        taps.append(((r * st.in_width + c) * st.n_filt + f) if inside else None)
                yield (oh * st.out_width + ow) * st.n_filt + f, taps


def _max(name: str, values: list[str], spec: FixedSpec) -> list[str]:
    """``name`` = the largest of ``values`` (signed wires of ``spec``), as a tree of two-input maxima."""
    lines, level, depth = [], list(values), 0
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            a, b, t = level[k], level[k + 1], f"{name}_m{depth}_{k // 2}"
            lines.append(f"{decl('wire', t, spec.width, True)} = ({b} > {a}) ? {b} : {a};")
            nxt.append(t)
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    lines.append(f"{decl('wire', name, spec.width, True)} = {level[0]};")
    return lines


def _divide(name: str, src: str, spec: FixedSpec, n: int) -> list[str]:
    """``name`` = ``src / n`` truncated toward zero (``sdiv`` / ``udiv`` of ``ap_fixed``), same spec."""
    w = spec.width
    if n == 1:
        return [f"{decl('wire', name, w, spec.signed)} = {src};"]
    k = n.bit_length() - 1
    if n == 1 << k and k < w:  # a shift; a negative dividend rounds toward zero: add n - 1 first
        if not spec.signed:
            return [f"{decl('wire', name, w)} = {src} >> {k};"]
        return [f"{decl('wire', f'{name}_bias', w + 1)} = {{{w + 1 - k}'d0, {{{k}{{{src}[{w - 1}]}}}}}};",
                f"{decl('wire', f'{name}_wide', w + 1, True)} = {{{src}[{w - 1}], {src}}} + {name}_bias;",
                f"{decl('wire', f'{name}_sh', w + 1, True)} = {name}_wide >>> {k};",
                f"{decl('wire', name, w, True)} = {name}_sh[{w - 1}:0];"]
    ww = max(w, n.bit_length() + 1)  # the divisor as a (signed) literal of the division's width
    ext = f"{{{{{ww - w}{{{src}[{w - 1}]}}}}, {src}}}" if spec.signed else f"{{{ww - w}'d0, {src}}}"
    lines = [f"{decl('wire', f'{name}_n', ww, spec.signed)} = {ext if ww > w else src};"]
    if spec.signed:  # signed / signed: truncates toward zero (Verilog-2005 5.1.5), as sdiv
        lines.append(f"{decl('wire', f'{name}_d', ww, True)} = {name}_n / {literal(n, ww)};")
    else:
        lines.append(f"{decl('wire', f'{name}_d', ww)} = {name}_n / {literal(n, ww, False)};")
    lines.append(f"{decl('wire', name, w, spec.signed)} = {name}_d[{w - 1}:0];")  # |quotient| <= |dividend|
    return lines


def emit_pool(st: PoolStage) -> tuple[str, str]:
    """(module name, Verilog text) of a pooling stage."""
    module = f"msq_pool_{ident(st.name)}"
    wi, wo = st.in_spec.width, st.out_spec.width
    sin = st.in_spec.as_signed()
    n = st.pool_height * st.pool_width
    lines = [
        f"// {st.op} pooling '{st.name}': {st.in_height}x{st.in_width}x{st.n_filt} -> {st.out_height}x{st.out_width}x"
        f"{st.n_filt}, pool {st.pool_height}x{st.pool_width}, stride {st.stride_height}x{st.stride_width}, "
        f"{st.in_spec.cpp()} -> accum {st.accum_spec.cpp()} -> {st.out_spec.cpp()} (nnet_pooling.h, io_parallel)",
        f"module {module} (",
        "    input clk,",
        "    input rst,",
        "    input in_valid,",
        "    output in_ready,",
    ]
    used = sorted({i for _, taps in windows(st) for i in taps if i is not None})
    port = f"    input [{st.n_in * wi - 1}:0] in_data,"
    if len(used) < st.n_in:  # the windows stop before the frame's last rows / columns (hls4ml drops them too)
        lines += [f"    // {st.n_in - len(used)} inputs lie beyond the last window (dropped, as by Keras and hls4ml)",
                  "    /* verilator lint_off UNUSEDSIGNAL */", port, "    /* verilator lint_on UNUSEDSIGNAL */"]
    else:
        lines.append(port)
    lines += [
        "    output reg out_valid,",
        "    input out_ready,",
        f"    output reg [{st.n_out * wo - 1}:0] out_data",
        ");",
        "    assign in_ready = !out_valid || out_ready;",
        *UNUSED_BITS_OFF,
    ]
    for i in used:
        lines.append(f"    wire [{wi - 1}:0] x{i} = in_data[{(i + 1) * wi - 1}:{i * wi}];")
    if st.op == "Max":
        pad = 1 << (wi - 1)  # pad_val: only the MSB set
        pad_code = -pad if st.in_spec.signed else pad
        lines.append(f"    {decl('wire', 'pad', sin.width, True)} = {literal(pad_code, sin.width)};")
        for i in used:
            lines.extend("    " + s for s in resize(f"xs{i}", f"x{i}", st.in_spec, sin))
    else:
        for i in used:
            lines.extend("    " + s for s in resize(f"xa{i}", f"x{i}", st.in_spec, st.accum_spec))
    for j, taps in windows(st):
        name = f"y{j}"
        if st.op == "Max":
            values = [f"xs{i}" if i is not None else "pad" for i in taps]
            lines.extend("    " + s for s in _max(f"{name}_max", values, sin))
            lines.extend("    " + s for s in resize(f"{name}_v", f"{name}_max", sin, st.in_spec))
            lines.extend("    " + s for s in _cast(f"{name}_ac", f"{name}_v", st.in_spec, st.accum_spec, st.accum_modes))
            acc = f"{name}_ac_q"
        else:
            inside = [f"xa{i}" for i in taps if i is not None]
            count = n if st.count_pad else len(inside)
            lines.extend("    " + s for s in adder_tree(f"{name}_sum", inside, st.accum_spec))
            lines.extend("    " + s for s in _divide(f"{name}_avg", f"{name}_sum", st.accum_spec, max(1, count)))
            acc = f"{name}_avg"
        lines.extend("    " + s for s in _cast(f"{name}_o", acc, st.accum_spec, st.out_spec, st.out_modes))
    lines += [
        "    always @(posedge clk) begin",
        "        if (rst) out_valid <= 1'b0;",
        "        else if (in_ready) out_valid <= in_valid;",
        "        if (in_ready && in_valid) begin",
    ]
    lines += [f"            out_data[{(j + 1) * wo - 1}:{j * wo}] <= y{j}_o_q;" for j, _ in windows(st)]
    lines += ["        end", "    end", UNUSED_BITS_ON, "endmodule", ""]
    return module, "\n".join(lines)
