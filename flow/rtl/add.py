"""Verilog of an :class:`flow.rtl.netlist.AddBlock`: a fork, two branches of stages and their join by
hls4ml's ``add`` (``nnet_merge.h``: ``res[i] = data1[i] + data2[i]``, the exact sum cast into the result type).

* **fork**: the block's input goes to both branches; each branch takes it on its own handshake (``taken_a`` /
  ``taken_b`` remember a branch that already took the current sample), the input is consumed once both have;
* **branches**: the stage modules chained by valid/ready as in the core; an empty branch (the skip itself) is one
  register stage;
* **join**: when both branches hold a result, ``data1 + data2`` in the exact sum type, cast (rounding, saturation)
  into the Merge's result type as :func:`flow.rtl.cast.cast_value` casts, into the output register.

Each branch keeps its samples in order and the join takes one from each, so the pairs stay matched.
"""

from __future__ import annotations

from flow.rtl.cast import cast_value
from flow.rtl.netlist import AddBlock
from flow.rtl.verilog import UNUSED_BITS_OFF, UNUSED_BITS_ON, ident, resize, stage_ports


def add_module(block: AddBlock) -> str:
    return f"msq_add_{ident(block.name)}"


def _branch(tag: str, stages: tuple, modules: list[str], width_in: int) -> list[str]:
    """Lines of one branch from ``{tag}_iv``/``{tag}_ir``/``in_data`` to ``{tag}_ov``/``{tag}_od`` (its ready:
    ``join_take``)."""
    lines = []
    if not stages:  # the skip: one register stage
        lines += [
            f"    reg {tag}_ov;",
            f"    reg [{width_in - 1}:0] {tag}_od;",
            f"    assign {tag}_ir = !{tag}_ov || join_take;",
            "    always @(posedge clk) begin",
            f"        if (rst) {tag}_ov <= 1'b0;",
            f"        else if ({tag}_ir) {tag}_ov <= {tag}_iv;",
            f"        if ({tag}_ir && {tag}_iv) {tag}_od <= in_data;",
            "    end",
        ]
        return lines
    n = len(stages)
    for k, st in enumerate(stages):
        lines.append(f"    wire {tag}{k}_valid;")
        if k < n - 1:
            lines.append(f"    wire {tag}{k}_ready;")
        lines.append(f"    wire [{st.n_out * st.out_spec.width - 1}:0] {tag}{k}_data;")
    for k, module in enumerate(modules):
        src = (f"{tag}_iv", f"{tag}_ir", "in_data") if k == 0 else (f"{tag}{k - 1}_valid", f"{tag}{k - 1}_ready",
                                                                     f"{tag}{k - 1}_data")
        ready = "join_take" if k == n - 1 else f"{tag}{k}_ready"
        lines.append(f"    {module} u_{tag}{k} (.clk(clk), .rst(rst), .in_valid({src[0]}), .in_ready({src[1]}), "
                     f".in_data({src[2]}), .out_valid({tag}{k}_valid), .out_ready({ready}), .out_data({tag}{k}_data));")
    width = stages[-1].n_out * stages[-1].out_spec.width
    lines += [f"    wire {tag}_ov = {tag}{n - 1}_valid;", f"    wire [{width - 1}:0] {tag}_od = {tag}{n - 1}_data;"]
    return lines


def emit_add(block: AddBlock, modules_a: list[str], modules_b: list[str]) -> tuple[str, str]:
    """(module name, Verilog text) of the block; ``modules_*`` name the branch stages' modules."""
    module = add_module(block)
    wi, wo = block.in_spec.width, block.out_spec.width
    st = block.add
    n = st.n
    lines = [
        f"// Add '{block.name}': fork -> branch a ({', '.join(s.name for s in block.branch_a) or 'skip'}) and branch b "
        f"({', '.join(s.name for s in block.branch_b) or 'skip'}) -> {block.a_spec.cpp()} + {block.b_spec.cpp()} "
        f"-> {st.out_spec.cpp()} ({st.rounding}, {st.saturation})",
        *stage_ports(module, block.n_in * wi, n * wo),
        "    reg taken_a, taken_b;  // the branch took the current input already",
        "    wire a_ir, b_ir;",
        "    wire a_iv = in_valid && !taken_a;",
        "    wire b_iv = in_valid && !taken_b;",
        "    assign in_ready = (taken_a || a_ir) && (taken_b || b_ir);",
        "    wire join_take;",
        "    always @(posedge clk) begin",
        "        if (rst || (in_valid && in_ready)) begin",
        "            taken_a <= 1'b0;",
        "            taken_b <= 1'b0;",
        "        end else begin",
        "            if (a_iv && a_ir) taken_a <= 1'b1;",
        "            if (b_iv && b_ir) taken_b <= 1'b1;",
        "        end",
        "    end",
    ]
    lines += _branch("a", block.branch_a, modules_a, block.n_in * wi)
    lines += _branch("b", block.branch_b, modules_b, block.n_in * wi)
    lines += [
        "    assign join_take = a_ov && b_ov && (!out_valid || out_ready);",
        "    always @(posedge clk) begin",
        "        if (rst) out_valid <= 1'b0;",
        "        else if (join_take) out_valid <= 1'b1;",
        "        else if (out_ready) out_valid <= 1'b0;",
        "    end",
        *UNUSED_BITS_OFF,
    ]
    sa, sb, ss = block.a_spec.width, block.b_spec.width, st.in_spec
    for j in range(n):  # data1[j] + data2[j] in the exact sum type, then the cast into res_T
        lines.append(f"    wire [{sa - 1}:0] a_{j} = a_od[{(j + 1) * sa - 1}:{j * sa}];")
        lines.append(f"    wire [{sb - 1}:0] b_{j} = b_od[{(j + 1) * sb - 1}:{j * sb}];")
        lines += ["    " + s for s in resize(f"a_{j}_s", f"a_{j}", block.a_spec, ss)]
        lines += ["    " + s for s in resize(f"b_{j}_s", f"b_{j}", block.b_spec, ss)]
        lines.append(f"    wire signed [{ss.width - 1}:0] y{j}_sum = a_{j}_s + b_{j}_s;")
        lines += ["    " + s for s in cast_value(f"y{j}", f"y{j}_sum", st)]
    lines += ["    always @(posedge clk) begin", "        if (join_take) begin"]
    lines += [f"            out_data[{(j + 1) * wo - 1}:{j * wo}] <= y{j}_q;" for j in range(n)]
    lines += ["        end", "    end", UNUSED_BITS_ON, "endmodule", ""]
    return module, "\n".join(lines)
