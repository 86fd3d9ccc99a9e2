"""An emitted RTL design on disk: ``design.v`` (Verilog-2005) and ``rtl.json`` (its streams and
stages), written by :func:`emit` from a model converted with backend ``MSQ``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flow.rtl.conv import interval as conv_interval
from flow.rtl.netlist import AddBlock, ConvStage, DenseStage, LQDenseStage, Netlist, PoolStage, netlist_from_model
from flow.rtl.top import Stream, emit_design

VERILOG = "design.v"
DESCRIPTION = "rtl.json"
#: cycles a stage may add beyond its reuse factor (pipeline registers), for the harness' time-out
STAGE_SLACK = 4


@dataclass(frozen=True)
class RTLDesign:
    directory: Path
    netlist: Netlist

    @property
    def verilog(self) -> Path:
        return self.directory / VERILOG

    @property
    def in_type(self):
        from msq_overlay.packing import FixedType

        return FixedType.from_dict(self.netlist.inp.type_dict())

    @property
    def out_type(self):
        from msq_overlay.packing import FixedType

        return FixedType.from_dict(self.netlist.out.type_dict())

    @property
    def in_format(self):
        from msq_overlay.packing import beat_format

        return beat_format(self.in_type, self.netlist.inp.count)

    @property
    def out_format(self):
        from msq_overlay.packing import beat_format

        return beat_format(self.out_type, self.netlist.out.count)

    @property
    def in_stream(self) -> Stream:
        f = self.in_format
        return Stream(self.netlist.inp.count, self.netlist.inp.spec.width, f.lane_bits, f.beat_bits)

    @property
    def out_stream(self) -> Stream:
        f = self.out_format
        return Stream(self.netlist.out.count, self.netlist.out.spec.width, f.lane_bits, f.beat_bits)

    @property
    def sample_cycles(self) -> int:
        """An upper bound of the cycles one sample spends in the chain (no stalls)."""
        return sum(stage_cycles(st) for st in self.netlist.stages)

    @property
    def interval_cycles(self) -> int:
        """Cycles between two samples in steady state without stalls: the slowest stage's interval, or the AXI
        wrapper's (a sample's input beats plus the cycle that hands it to the chain, likewise for the output)."""
        axi = max(self.in_stream.beats, self.out_stream.beats) + 1
        return max([axi] + [stage_interval(st) for st in self.netlist.stages])

    def description(self) -> dict:
        stages = []
        for st in self.netlist.stages:
            entry = {"name": st.name, "kind": type(st).__name__, "n_in": st.n_in, "n_out": st.n_out,
                     "out_type": st.out_spec.cpp()}
            if isinstance(st, (DenseStage, ConvStage)):
                k = st.dense.kernel if isinstance(st, ConvStage) else st.kernel
                entry.update(strategy=k.strategy, reuse_factor=k.reuse_factor, n_fix=k.n_fix, n_sp2=k.n_sp2,
                             fix_lanes=k.fixed.lanes, sp2_lanes=k.sp2.lanes)
            if isinstance(st, ConvStage):
                sc = st.scan
                entry.update(in_shape=[sc.in_height, sc.in_width, sc.n_chan], filter=[sc.filt_height, sc.filt_width],
                             stride=[st.stride_height, st.stride_width],
                             padding=[sc.pad_top, sc.pad_bottom, sc.pad_left, sc.pad_right],
                             out_shape=[st.out_height, st.out_width, st.n_filt],
                             padded_positions=st.padded_height * st.padded_width, line_buffer_values=sc.line_buffer_values)
            if isinstance(st, LQDenseStage):
                r = st.rows
                entry.update(strategy=r.strategy, reuse_factor=r.reuse_factor, lanes=r.lanes, kx=r.kx, kw=r.kw,
                             lq_input=st.lq_input, segments=r.segments, seg_inputs=r.seg_inputs)
            if isinstance(st, AddBlock):
                entry.update(branch_a=[s.name for s in st.branch_a], branch_b=[s.name for s in st.branch_b],
                             sum_type=st.add.in_spec.cpp(), rounding=st.add.rounding, saturation=st.add.saturation)
            if isinstance(st, PoolStage):
                entry.update(op=st.op, pool=[st.pool_height, st.pool_width], stride=[st.stride_height, st.stride_width])
            entry["interval_cycles"] = stage_interval(st)
            stages.append(entry)
        return {"top": "msq_rtl_top", "input": {"type": self.netlist.inp.type_dict(), **self.in_format.to_dict()},
                "output": {"type": self.netlist.out.type_dict(), **self.out_format.to_dict()}, "stages": stages}


def stage_cycles(st) -> int:
    """An upper bound of the cycles one sample spends in a stage (no stalls); an Add block: both branches."""
    if isinstance(st, AddBlock):
        return sum(stage_cycles(s) for s in st.branch_a + st.branch_b) + 2 * STAGE_SLACK
    return stage_interval(st) + (st.dense.kernel.reuse_factor if isinstance(st, ConvStage) else 0) + STAGE_SLACK


def stage_interval(st) -> int:
    """Cycles between two samples of one stage: a convolution scans ``padded_pixels * RF`` (:mod:`flow.rtl.conv`),
    a Dense layer takes one input every ``RF`` cycles, casts and pools one every cycle."""
    if isinstance(st, ConvStage):
        return conv_interval(st)
    if isinstance(st, DenseStage):
        return st.kernel.reuse_factor
    if isinstance(st, LQDenseStage):
        return st.rows.reuse_factor
    if isinstance(st, AddBlock):
        return max([1] + [stage_interval(s) for s in st.branch_a + st.branch_b])
    return 1


def emit(hm, directory, force: bool = False) -> RTLDesign:
    """Write the Verilog of a converted model (io_parallel, backend ``MSQ``) into ``directory``."""
    from flow.outdir import prepare

    out = prepare(directory, "RTL directory", force)
    design = RTLDesign(Path(out), netlist_from_model(hm))
    design.verilog.write_text(emit_design(design.netlist, design.in_stream, design.out_stream))
    (design.directory / DESCRIPTION).write_text(json.dumps(design.description(), indent=2) + "\n")
    return design
