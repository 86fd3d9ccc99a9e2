"""Small Verilog-2005 writing helpers shared by the RTL emitters (pure Python).

Every value on a wire is the integer code of a fixed-point number, described by a
:class:`~flow.hls.encode.FixedSpec` (width, integer bits, signedness). :func:`resize` converts a code
between two specs exactly as an ``ap_fixed`` cast with ``AP_TRN`` / ``AP_WRAP`` does (the modes of every
internal type of the HLS kernels): low fractional bits are dropped (floor), high bits wrap.
"""

from __future__ import annotations

import re

from flow.hls.encode import FixedSpec

IDENT = re.compile(r"[^A-Za-z0-9_]")


def ident(name: str) -> str:
    """A Verilog identifier from a layer name."""
    text = IDENT.sub("_", name)
    return text if text[:1].isalpha() else f"l_{text}"


def decl(kind: str, name: str, width: int, signed: bool = False) -> str:
    """``wire signed [w-1:0] name`` (no range for one bit)."""
    sign = " signed" if signed else ""
    rng = f" [{width - 1}:0]" if width > 1 else ""
    return f"{kind}{sign}{rng} {name}"


def literal(value: int, width: int, signed: bool = True) -> str:
    """A sized literal, two's complement: ``-3`` at 4 bits is ``-4'sd3``."""
    value = int(value)
    if signed:
        return f"-{width}'sd{-value}" if value < 0 else f"{width}'sd{value}"
    if value < 0:
        raise ValueError(f"unsigned literal {value} < 0")
    return f"{width}'d{value}"


def hex_word(value: int, width: int) -> str:
    """A sized unsigned hex literal of ``value``'s low ``width`` bits."""
    return f"{width}'h{int(value) & ((1 << width) - 1):x}"


def resize(dst: str, src: str, src_spec: FixedSpec, dst_spec: FixedSpec, kind: str = "wire") -> list[str]:
    """Lines declaring ``dst`` (``dst_spec``, always signed or as given) equal to ``src`` cast like an
    ``ap_fixed`` TRN/WRAP assignment: align the binary point, drop low bits, extend or wrap the top."""
    w, shift = src_spec.width, dst_spec.fractional - src_spec.fractional
    lines = []
    if shift >= 0:
        aligned, aw = (f"{{{src}, {shift}'d0}}" if shift else src), w + shift
    elif -shift < w:
        aligned, aw = f"{src}[{w - 1}:{-shift}]", w + shift
    else:  # every bit is below the new binary point: floor gives the sign
        fill = f"{src}[{w - 1}]" if src_spec.signed else "1'b0"
        return [f"{decl(kind, dst, dst_spec.width, dst_spec.signed)} = {{{dst_spec.width}{{{fill}}}}};"]
    name = f"{dst}_al"
    lines.append(f"{decl('wire', name, aw)} = {aligned};")
    if dst_spec.width > aw:
        pad = dst_spec.width - aw
        fill = f"{name}[{aw - 1}]" if src_spec.signed else "1'b0"
        value = f"{{{{{pad}{{{fill}}}}}, {name}}}"
    elif dst_spec.width < aw:
        value = f"{name}[{dst_spec.width - 1}:0]"
    else:
        value = name
    lines.append(f"{decl(kind, dst, dst_spec.width, dst_spec.signed)} = {value};")
    return lines


def adder_tree(dst: str, terms: list[str], spec: FixedSpec) -> list[str]:
    """``dst`` = the sum of ``terms`` (all wires of ``spec``) as a balanced tree of two-operand adds
    (each maps to one CARRY4 chain), wrapping at ``spec.width`` like the HLS accumulator type."""
    w = spec.width
    if not terms:
        return [f"{decl('wire', dst, w, True)} = {literal(0, w)};"]
    lines, level, depth = [], list(terms), 0
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level) - 1, 2):
            name = f"{dst}_t{depth}_{k // 2}"
            lines.append(f"{decl('wire', name, w, True)} = {level[k]} + {level[k + 1]};")
            nxt.append(name)
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    lines.append(f"{decl('wire', dst, w, True)} = {level[0]};")
    return lines


def stage_ports(module: str, in_bits: int, out_bits: int) -> list[str]:
    """The header of a pipeline stage: clock, reset and a valid/ready input and output of the given widths."""
    return [f"module {module} (", "    input clk,", "    input rst,", "    input in_valid,", "    output in_ready,",
            f"    input [{in_bits - 1}:0] in_data,", "    output reg out_valid,", "    input out_ready,",
            f"    output reg [{out_bits - 1}:0] out_data", ");"]


def counter_width(n: int) -> int:
    """Bits of a counter over ``0 .. n - 1`` (at least 1)."""
    return max(1, (max(1, n) - 1).bit_length())


#: Around the datapath of a stage: the exact casts drop low bits (TRN) and high bits (WRAP) that the exact
#: sizing of every type proves to be zero or copies of the sign, so those bits are unused by design.
UNUSED_BITS_OFF = ("    // exact casts drop bits proven zero / sign copies by the exact types: unused by design",
                   "    /* verilator lint_off UNUSEDSIGNAL */")
UNUSED_BITS_ON = "    /* verilator lint_on UNUSEDSIGNAL */"
