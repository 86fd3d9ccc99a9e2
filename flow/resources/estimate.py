"""Resource and throughput estimates for the MSQ kernels, from yosys-measured PE costs.

Every figure here is an **estimate**. The micro-architecture comes from :mod:`flow.hls.microarch`,
the same description the C++ config writer uses. One row-quantized layer (``n_in`` inputs per
row, ``n_fix`` fixed rows, ``n_sp2`` SP2 rows, reuse factor ``RF``, ``chunks = ceil(n_in / RF)``) is

    DSP lanes   = n_fix * chunks             one fixed-point product each, on a DSP48E1; two lanes that
                                             read the same input share one DSP where the width conditions
                                             hold (DSP packing, :func:`flow.hls.microarch.plan_dsp_packing`):
                                             ``RowKernel.fix_dsps`` DSPs, each with the measured
                                             ``packed_mul_dsp`` / ``packed_mac_dsp`` LUTs (its correction)
    LUT lanes   = n_sp2 * chunks             one SP2 shift-add unit each: run-time shifts when the
                                             weights change per cycle (ROM or RF > 1), constant
                                             shifts (``sp2_const``) for Latency at RF 1
    adders      = an accumulator per lane (RF > 1; none for packed lanes that accumulate in P) and
                  chunks - 1 adders per row for the row sums
    muxes       = the input each lane reads (RF:1 per chunk, n_in:1 folded); Latency at RF > 1 also
                  multiplexes each lane's constant weights by the cycle
    line buffer = a convolution's (filt_height - 1) rows (LUTRAM or RAMB18) and its window registers
    weight ROM  = Resource strategy: one ROM per matrix, ``lanes x bits`` wide and ``RF`` deep: LUTs
                  (distributed ROM) up to 64 words deep, else RAMB18 tiles by the 7-series aspect
                  ratios (:func:`flow.hls.microarch.bram18`)
    cycles      = Dense RF + DENSE_DEPTH; a convolution scans its padded input, RF cycles per
                  position, + SCAN_DEPTH

Latency of one input: io_parallel layers add up; io_stream layers overlap on the stream (the slowest
layer plus each layer's fill). The AXI-stream top calls the model once per input, so the interval
between inputs is that latency (see :func:`estimate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flow.boards import Board
from flow.hls.microarch import (
    SCAN_DEPTH, ConvScan, RowKernel, bram18, effective_reuse_factor, mux_luts, plan_dsp_packing, rom_luts,
)
from flow.quantizers import levels
from flow.resources.calibrate import load_calibration

#: Default budgets: fraction of each resource a design may use.
DEFAULT_BUDGET = {"dsp": 1.0, "lut": 0.8, "ff": 0.8, "bram36": 1.0}


@dataclass(frozen=True)
class LayerWork:
    """One row-quantized layer as the estimator sees it."""

    name: str
    n_in: int
    n_out: int
    n_sp2: int
    pixels: int = 1
    weight_bits: int = 4
    data_bits: int = 8
    reuse_factor: int = 1
    #: Why this layer is costed the way it is, when it is not one of our row kernels (shown by the report).
    note: str = ""
    #: 'latency' or 'resource'; None: Resource when RF > 1 (weights in ROM), Latency at RF 1.
    strategy: str | None = None
    #: Streaming geometry of a convolution (None: Dense, or a workload without geometry).
    scan: ConvScan | None = None
    #: Fixed-point products whose constant mantissa needs a multiplier (not 0 or +-2^k): the DSPs of a
    #: Latency design at RF 1, where constant products by 0 or a power of two fold into wiring
    #: before binding. None: unknown (one DSP per fixed lane).
    dsp_products: int | None = None
    #: Whether the data (layer input) is signed (``data_bits`` wide either way): the DSP packing conditions.
    data_signed: bool = True
    #: ``DSPPacking``: None packs two fixed products per DSP where the conditions hold, False never, True must.
    dsp_packing: bool | None = None

    def __post_init__(self):
        if not 0 <= self.n_sp2 <= self.n_out:
            raise ValueError(f"layer '{self.name}': n_sp2 must be in [0, {self.n_out}], got {self.n_sp2}")
        if self.reuse_factor < 1 or self.n_in < 1 or self.n_out < 1 or self.pixels < 1:
            raise ValueError(f"layer '{self.name}': sizes and reuse factor must be positive")

    @property
    def n_fix(self) -> int:
        return self.n_out - self.n_sp2

    @property
    def macs(self) -> int:
        return self.n_in * self.n_out * self.pixels


#: hls4ml's default precision (fixed<16,6>): what float weights become when converted anyway.
DEFAULT_WEIGHT_BITS = 16


@dataclass
class Costs:
    """PE costs looked up in the calibration table (smallest measured size that covers the request)."""

    table: dict = field(default_factory=load_calibration)

    def block(self, name: str, **params) -> dict:
        rows = [b for b in self.table["blocks"] if b["block"] == name]
        if not rows:
            raise KeyError(f"block '{name}' is not in the calibration table")

        def covers(row):
            return all(row["params"].get(k, v) >= v for k, v in params.items() if k in row["params"])

        fitting = [r for r in rows if covers(r)]
        if fitting:
            return min(fitting, key=lambda r: sum(r["params"].get(k, 0) for k in params))
        largest = max(rows, key=lambda r: sum(r["params"].get(k, 0) for k in params))
        scale = max(v / max(1, largest["params"].get(k, v)) for k, v in params.items() if k in largest["params"])
        return {k: (math.ceil(v * scale) if k in ("lut", "ff", "carry4", "muxf") else v) for k, v in largest.items()}

    def sp2_lane(self, data_bits: int, weight_bits: int) -> dict:
        return self.block("sp2_runtime", A=data_bits, M1=levels.sp2_fields(weight_bits)[0])

    def fixed_lane(self, data_bits: int, weight_bits: int) -> dict:
        return self.block("fixed_mul_dsp", A=data_bits, K=weight_bits)

    def packed_dsp(self, data_bits: int, weight_bits: int, in_dsp: bool) -> dict:
        """One DSP48E1 with two products and its correction: ``lut`` includes the inverter of the low field."""
        block = self.block("packed_mac_dsp" if in_dsp else "packed_mul_dsp", A=data_bits, K=weight_bits)
        return {**block, "lut": block["lut"] + block.get("inv", 0)}


def accumulator_width(work: LayerWork) -> int:
    return work.data_bits + work.weight_bits + math.ceil(math.log2(work.n_in)) + 1


def row_kernel(work: LayerWork) -> RowKernel:
    """The layer's micro-architecture, as the converter will build it (a model-wide RF that is not
    valid for the layer lowered like the conversion does)."""
    rf = effective_reuse_factor(work.n_in, work.n_out, work.reuse_factor)
    strategy = work.strategy.lower() if work.strategy else ("resource" if rf > 1 else "latency")
    return RowKernel(work.name, work.n_in, work.n_out, work.n_sp2, rf, work.weight_bits, strategy, work.scan,
                     work.data_bits, work.data_signed, work.dsp_packing)


def layer_cycles(kernel: RowKernel, pixels: int) -> int:
    """Cycles per input; a convolution known only by its pixel count scans ``pixels`` positions."""
    if kernel.scan is None and pixels > 1:
        return pixels * kernel.reuse_factor + SCAN_DEPTH
    return kernel.cycles


def layer_fill(reuse_factor: int, scan: ConvScan | None, cycles: int) -> int:
    """Cycles from a layer's first input packet to its first output packet in a stream: a
    convolution's line buffer fills (filt_height - 1 padded rows and filt_width pixels, RF cycles
    each); a Dense layer reads its whole input first, then runs its cycles."""
    if scan is None:
        return cycles
    padded_width = scan.in_width + scan.pad_left + scan.pad_right
    return ((scan.filt_height - 1) * padded_width + scan.filt_width) * reuse_factor


def estimate_layer(work, costs: Costs) -> dict:
    from flow.resources.lq import LQWork, estimate_lq_layer

    if isinstance(work, LQWork):
        result = estimate_lq_layer(work, costs)
        result.setdefault("fill", layer_fill(result.get("reuse_factor", work.reuse_factor), work.scan, result["cycles"]))
        return result
    k = row_kernel(work)
    rf = k.reuse_factor
    fix_lanes, sp2_lanes = k.fixed.lanes, k.sp2.lanes
    acc_w = accumulator_width(work)
    adder = costs.block("adder", W=acc_w)
    acc = costs.block("accumulator", W=acc_w)
    fixed = costs.fixed_lane(work.data_bits, work.weight_bits) if fix_lanes else {"dsp": 0, "lut": 0}
    pack = k.pack
    if pack is not None:  # two lanes per DSP48E1, its correction instead of a multiplier's LUTs
        fixed = costs.packed_dsp(work.data_bits, work.weight_bits, pack.in_dsp)
    constant = not k.rom and rf == 1
    if not sp2_lanes:
        sp2 = {"lut": 0}
    elif constant:
        sp2 = costs.block("sp2_const", A=work.data_bits)
    else:
        sp2 = costs.sp2_lane(work.data_bits, work.weight_bits)
    lanes = fix_lanes + sp2_lanes
    # at RF 1 a lane's sum is its product; packed lanes that accumulate in P need no fabric accumulator
    accumulators = (lanes - (fix_lanes if pack is not None and pack.in_dsp else 0)) if rf > 1 else 0
    row_adders = work.n_out * (k.fixed.chunks - 1)
    row_registers = work.n_out if k.fixed.folded else 0  # finished rows of the folded schedule
    bram = bram18(*k.fixed.rom_shape) + bram18(*k.sp2.rom_shape) if k.rom and not k.rom_lutram else 0
    lut = (rom_luts(*k.fixed.rom_shape) + rom_luts(*k.sp2.rom_shape)) if k.rom_lutram else 0
    lut += k.fix_dsps * fixed["lut"] + sp2_lanes * sp2["lut"] + accumulators * acc["lut"] + row_adders * adder["lut"]
    ff = accumulators * acc["ff"] + (work.n_out + row_registers) * acc_w
    # the input each lane reads: an RF:1 multiplexer per chunk (split), n_in:1 (folded); shared by all rows
    lut += k.fixed.chunks * mux_luts(work.data_bits, k.fixed.n_in if k.fixed.folded else rf)
    if not k.rom and rf > 1:  # Latency at RF > 1: each lane's constant weights multiplexed by the cycle
        lut += lanes * mux_luts(work.weight_bits, rf)
    if work.scan is not None:  # line buffer rows and the window registers of the scan
        line = work.scan.line_buffer_cost(work.data_bits)
        lut += line["lut"]
        ff += line["ff"] + work.scan.window_values * work.data_bits
        bram += line["bram18"]
    dsp = k.fix_dsps * fixed["dsp"]
    if constant and work.dsp_products is not None:  # packed: a pair needs its DSP if either product does
        dsp = min(dsp, work.dsp_products * fixed["dsp"])
    return {
        "layer": work.name,
        "dsp": dsp,
        "lut": lut,
        "ff": ff,
        "bram18": bram,
        "bram36": math.ceil(bram / 2),
        "dsp_lanes": fix_lanes,
        "lut_lanes": sp2_lanes,
        "fix_dsps": k.fix_dsps,
        "dsp_packed": pack is not None,
        "reuse_factor": rf,
        "rom": [list(k.fixed.rom_shape), list(k.sp2.rom_shape)] if k.rom else [],
        "cycles": layer_cycles(k, work.pixels),
        "fill": layer_fill(k.reuse_factor, work.scan, layer_cycles(k, work.pixels)),
        "macs": work.macs,
        "note": getattr(work, "note", ""),
    }


def balanced_reuse_factors(works: list, interval: int) -> list:
    """Per-layer reuse factors for a DATAFLOW design with about ``interval`` cycles per input: each
    layer gets the largest RF whose scan still fits in ``interval`` (lowered to a valid one), so a
    32x32 first layer stays fast while a 2x2 last block folds its long rows (hls4ml's per-layer
    ``ReuseFactor`` in the ``LayerName`` config carries them into the conversion)."""
    import dataclasses

    out = []
    for w in works:
        passes = w.scan.padded_pixels if getattr(w, "scan", None) else max(1, w.pixels)
        limit = w.n_in * w.n_out if isinstance(w, LayerWork) else w.n_out
        rf = max(1, min(limit, interval // passes))
        out.append(dataclasses.replace(w, reuse_factor=rf, **({"strategy": "resource"} if isinstance(w, LayerWork) else {})))
    return out


#: Bits of an output value's lane when the model's output type is not known here (exact sums are wide).
OUTPUT_LANE_BITS = 32


def _lane(bits: int) -> int:
    return next(lane for lane in (8, 16, 32, 64) if lane >= bits)


def axi_beats(n_values: int, value_bits: int) -> int:
    """Beats of one sample on the AXI stream (the rule of ``msq_overlay.packing.beat_format``: lanes of
    8/16/32/64 bits, a 64-bit beat unless the whole sample fits one 32-bit beat)."""
    lane = _lane(value_bits)
    if n_values * lane <= 32:
        return 1
    return -(-n_values // (64 // lane))


def model_axi_beats(model, data_bits: int, io_type: str = "io_parallel") -> tuple[int, int]:
    """(input, output) cycles per sample of a Keras model's AXI-stream top: its beats, or for an
    io_stream model at least one cycle per packet (a pixel of channels) handed to the model."""
    import numpy as np

    n_in = int(np.prod(model.input_shape[1:]))
    n_out = int(np.prod(model.output_shape[1:]))
    beats_in, beats_out = axi_beats(n_in, data_bits), axi_beats(n_out, OUTPUT_LANE_BITS)
    if io_type == "io_stream":
        beats_in = max(beats_in, int(np.prod(model.input_shape[1:-1])) if len(model.input_shape) > 2 else 1)
        beats_out = max(beats_out, int(np.prod(model.output_shape[1:-1])) if len(model.output_shape) > 2 else 1)
    return beats_in, beats_out


def estimate(works: list[LayerWork], board: Board, costs: Costs | None = None, budget: dict | None = None,
             io_beats: tuple[int, int] | None = None, io_type: str = "io_parallel") -> dict:
    """Per-layer and total DSP/LUT/FF/BRAM, cycles, latency, GOPS and a fit verdict per resource.

    Cycles of one input (``total['cycles']``, the latency): io_parallel layers run one after the
    other (arrays between them), so their cycles add up; io_stream layers overlap on the stream,
    so the slowest layer's cycles plus every layer's fill (:func:`layer_fill`). ``io_beats`` (input,
    output beats per sample, :func:`model_axi_beats`) adds the AXI-stream top's receive and send.
    The AXI top calls the model once per sample and waits for it, so the interval between inputs is
    the model's latency (or a stream's beats, when longer): ``total['interval']``.
    """
    costs = costs or Costs()
    budget = {**DEFAULT_BUDGET, **(budget or {})}
    layers = [estimate_layer(w, costs) for w in works]
    total = {k: sum(layer[k] for layer in layers) for k in ("dsp", "lut", "ff", "bram36", "cycles", "macs")}
    if io_type == "io_stream" and layers:
        total["cycles"] = max(layer["cycles"] for layer in layers) + sum(layer["fill"] for layer in layers)
    total["interval"] = total["cycles"]
    if io_beats is not None:
        total["interval"] = max(total["interval"], *io_beats)
        total["cycles"] += sum(io_beats)
        total["axi_beats"] = list(io_beats)
    latency_s = total["cycles"] / (board.clock_mhz * 1e6)
    available = board.budget()
    fit = {k: total[k] <= budget[k] * available[k] for k in available}
    return {
        "board": board.name,
        "layers": layers,
        "total": total,
        "latency_us": latency_s * 1e6,
        "gops": 2 * total["macs"] / latency_s / 1e9 if latency_s else 0.0,
        "inputs_per_s": board.clock_mhz * 1e6 / total["interval"] if total["interval"] else 0.0,
        "utilization": {k: total[k] / available[k] for k in available},
        "fits": fit,
    }


def pe_array(board: Board, data_bits: int = 8, weight_bits: int = 4, costs: Costs | None = None,
             budget: dict | None = None, packed: bool = False) -> dict:
    """The shared PE array the board can hold: all DSPs as fixed lanes, the LUT budget as SP2 lanes.

    Every lane also needs one accumulator adder (LUTs). ``packed``: each DSP48E1 carries two fixed
    lanes (:func:`flow.hls.microarch.plan_dsp_packing` for one product per field, split every cycle,
    so each product keeps its fabric accumulator) plus the measured ``packed_mul_dsp`` correction
    LUTs; an error naming the failing condition where the widths do not allow it. Returns lanes
    (``dsp_lanes``: fixed products per cycle, ``dsp``: DSP48E1 used), the balanced SP2 share
    (``lut_lanes / (dsp_lanes + lut_lanes)``: both kinds of lanes finish together) and the peak
    GOPS (2 ops per MAC per lane per cycle) of fixed-only vs MSQ.
    """
    costs = costs or Costs()
    budget = {**DEFAULT_BUDGET, **(budget or {})}
    acc_w = data_bits + weight_bits + 10  # rows of up to 1024 inputs
    adder_lut = costs.block("adder", W=acc_w)["lut"]
    dsps = int(board.dsp * budget["dsp"])
    dsp_lanes, correction_lut = dsps, 0
    if packed:
        plan, why = plan_dsp_packing(weight_bits, data_bits, True, 1)
        if plan is None:
            raise ValueError(f"pe_array: {weight_bits}-bit weights x {data_bits}-bit data cannot share a DSP48E1: {why}")
        dsp_lanes, correction_lut = 2 * dsps, costs.packed_dsp(data_bits, weight_bits, in_dsp=False)["lut"]
    lut_left = board.lut * budget["lut"] - dsp_lanes * adder_lut - dsps * correction_lut
    sp2_lut = costs.sp2_lane(data_bits, weight_bits)["lut"] + adder_lut
    lut_lanes = max(0, int(lut_left // sp2_lut))
    f = board.clock_mhz * 1e6
    return {
        "board": board.name,
        "packed": packed,
        "dsp": dsps,
        "dsp_lanes": dsp_lanes,
        "lut_lanes": lut_lanes,
        "sp2_share": lut_lanes / (dsp_lanes + lut_lanes),
        "fixed_to_sp2": f"1:{lut_lanes / dsp_lanes:.2f}",
        "peak_gops_fixed": 2 * dsp_lanes * f / 1e9,
        "peak_gops_msq": 2 * (dsp_lanes + lut_lanes) * f / 1e9,
        "gain": (dsp_lanes + lut_lanes) / dsp_lanes,
        "lut_per_sp2_lane": sp2_lut,
    }


def throughput_at_share(works: list[LayerWork], array: dict, share: float, clock_mhz: float) -> float:
    """GOPS of the workload on the PE array when a fraction ``share`` of every layer's rows is SP2.

    Fixed rows run on the DSP lanes and SP2 rows on the LUT lanes at the same time; a layer takes
    as long as the slower side.
    """
    cycles = 0.0
    macs = 0
    for w in works:
        n_sp2 = round(share * w.n_out)
        fix_macs = w.n_in * (w.n_out - n_sp2) * w.pixels
        sp2_macs = w.n_in * n_sp2 * w.pixels
        t_fix = fix_macs / array["dsp_lanes"] if array["dsp_lanes"] else (math.inf if fix_macs else 0.0)
        t_sp2 = sp2_macs / array["lut_lanes"] if array["lut_lanes"] else (math.inf if sp2_macs else 0.0)
        cycles += max(t_fix, t_sp2)
        macs += w.macs
    return 2 * macs / (cycles / (clock_mhz * 1e6)) / 1e9 if cycles else 0.0


def best_share(works: list[LayerWork], array: dict, clock_mhz: float, step: float = 0.05) -> tuple[float, float]:
    """The SP2 share (grid of ``step``) that maximizes workload throughput, and that throughput."""
    shares = [round(i * step, 10) for i in range(int(round(1 / step)) + 1)]
    scored = [(throughput_at_share(works, array, s, clock_mhz), s) for s in shares]
    gops, share = max(scored)
    return share, gops


def resnet18_workload(weight_bits: int = 4, data_bits: int = 8) -> list[LayerWork]:
    """ImageNet ResNet-18 (224x224) convolutions and FC as row-quantized layers (the MSQ paper's workload)."""
    shapes = [("conv1", 7 * 7 * 3, 64, 112 * 112)]
    spec = [(64, 64, 56, 1), (64, 128, 28, 2), (128, 256, 14, 2), (256, 512, 7, 2)]
    for stage, (c_in, c_out, size, stride) in enumerate(spec, start=2):
        for block in range(2):
            first_in = c_in if block == 0 else c_out
            shapes.append((f"conv{stage}_{block}a", 9 * first_in, c_out, size * size))
            shapes.append((f"conv{stage}_{block}b", 9 * c_out, c_out, size * size))
            if block == 0 and stride == 2:
                shapes.append((f"conv{stage}_down", c_in, c_out, size * size))
    shapes.append(("fc", 512, 1000, 1))
    return [LayerWork(n, k, c, 0, p, weight_bits, data_bits) for n, k, c, p in shapes]


def multiplier_products(quantizer, kernel) -> int:
    """Fixed-point products of a row-quantized kernel whose mantissa is not 0 or +-2^k (a constant
    product by those folds into wiring); SP2 rows are not counted."""
    import numpy as np

    from flow.hls.encode import encode_dense
    from flow.quantizers import RowEncoding

    enc = quantizer.encode(kernel)
    values = np.asarray(enc.values)
    dense = encode_dense(RowEncoding(values.reshape(-1, values.shape[-1]), enc.scheme, enc.exponent, enc.bits))
    k = np.abs(dense.fix_weights)
    trivial = (k == 0) | ((k & (k - 1)) == 0)
    return int(np.count_nonzero(~trivial))


def conv_scan_of_keras(layer) -> ConvScan | None:
    """The streaming geometry of a Keras Conv1D/Conv2D (padding as Keras and hls4ml compute it)."""
    if len(layer.kernel.shape) < 3:
        return None
    in_shape = layer.input_shape[1:-1]
    out_shape = layer.output_shape[1:-1]
    kernel = tuple(layer.kernel.shape[:-2])
    strides = tuple(layer.strides)
    pads = []
    for size, out, k, s in zip(in_shape, out_shape, kernel, strides):
        total = max((out - 1) * s + k - size, 0) if layer.padding == "same" else 0
        pads.append((total // 2, total - total // 2))
    if len(in_shape) == 1:
        return ConvScan(1, in_shape[0], int(layer.kernel.shape[-2]), 1, kernel[0], 0, 0, *pads[0])
    return ConvScan(in_shape[0], in_shape[1], int(layer.kernel.shape[-2]), kernel[0], kernel[1], *pads[0], *pads[1])


def estimate_model(model, board: Board, reuse_factor: int = 1, data_bits: int = 8, strategy: str | None = None,
                   costs: Costs | None = None, budget: dict | None = None, io_type: str = "io_parallel") -> dict:
    """:func:`estimate` of a Keras model on the AXI-stream top (its layers and its stream beats)."""
    works = works_from_model(model, reuse_factor, data_bits, strategy)
    return estimate(works, board, costs, budget, io_beats=model_axi_beats(model, data_bits, io_type), io_type=io_type)


def works_from_model(model, reuse_factor: int = 1, data_bits: int = 8, strategy: str | None = None) -> list:
    """Row-quantized layers of a Keras model (SP2/MSQ kernels) as :class:`LayerWork`, LQ/binary
    layers (``quantized_lq`` kernels) as :class:`flow.resources.lq.LQWork`.

    MSQ rows must be frozen (the assignment decides how many rows are SP2).
    """
    import numpy as np

    from flow.quantizers import RowQuantizer, quantized_lq, quantized_msq, quantized_sp2
    from flow.resources.lq import lq_work

    from flow.convert import approximate_layers

    approximate = approximate_layers(model)
    works = []
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if isinstance(q, quantized_lq):
            works.append(lq_work(layer, model, reuse_factor, data_bits, strategy))
            continue
        if not hasattr(layer, "kernel") or len(layer.kernel.shape) < 2:
            continue
        shape = layer.kernel.shape
        n_out = int(shape[-1])
        out_shape = layer.output_shape
        pixels = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
        n_in = int(np.prod(shape[:-1]))
        if isinstance(q, RowQuantizer):
            if isinstance(q, quantized_msq):
                if not q.frozen:
                    raise ValueError(f"layer '{layer.name}': freeze the MSQ rows first (flow.convert.freeze_msq_rows)")
                n_sp2 = int(q.n_sp2)
            else:
                n_sp2 = n_out if isinstance(q, quantized_sp2) else 0
            works.append(LayerWork(layer.name, n_in, n_out, n_sp2, pixels, q.bits, data_bits, reuse_factor,
                                   strategy=strategy, scan=conv_scan_of_keras(layer),
                                   dsp_products=multiplier_products(q, layer.kernel.numpy())))
        elif q is None:
            note = (f"approximate: {approximate.get(layer.name, 'float weights')}; costed as hls4ml's default "
                    f"{DEFAULT_WEIGHT_BITS}-bit weights on DSPs (C-simulation will not equal Keras here)")
            works.append(LayerWork(layer.name, n_in, n_out, 0, pixels, DEFAULT_WEIGHT_BITS, data_bits, reuse_factor, note,
                                   strategy, conv_scan_of_keras(layer)))
        elif hasattr(q, "bits"):
            note = f"stock hls4ml kernel ({type(q).__name__}, {int(q.bits)}-bit weights on DSPs)"
            works.append(LayerWork(layer.name, n_in, n_out, 0, pixels, int(q.bits), data_bits, reuse_factor, note,
                                   strategy, conv_scan_of_keras(layer)))
    if not works:
        raise ValueError(f"model '{model.name}' has no SP2/MSQ/LQ layer to estimate")
    return works


def format_estimate(result: dict) -> str:
    lines = ["| layer | DSP | LUT | FF | BRAM36 | cycles | MACs |", "|---|---|---|---|---|---|---|"]
    for r in result["layers"] + [{"layer": "total", **result["total"]}]:
        lines.append(f"| {r['layer']} | {r['dsp']} | {r['lut']} | {r['ff']} | {r['bram36']} | {r['cycles']} | {r['macs']} |")
    lines += ["", "(estimated, not measured: flow/resources/estimate.py)"]
    util = ", ".join(
        f"{k} {100 * v:.1f}% ({'fits' if result['fits'][k] else 'DOES NOT FIT'})" for k, v in result["utilization"].items()
    )
    lines += ["", f"{result['board']}: {util}",
              f"latency {result['latency_us']:.2f} us, {result['gops']:.2f} GOPS, "
              f"{result['inputs_per_s']:.0f} inputs/s (interval {result['total']['interval']} cycles"
              + (", AXI beats in/out {}/{})".format(*result["total"]["axi_beats"]) if "axi_beats" in result["total"] else ")")]
    notes = [f"{r['layer']}: {r['note']}" for r in result["layers"] if r.get("note")]
    if notes:
        lines += ["", "notes (estimated, not measured):", *notes]
    return "\n".join(lines)


def optimize(works: list[LayerWork], board: Board, costs: Costs | None = None, budget: dict | None = None,
             step: float = 0.05, reuse_factors=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
             io_beats: tuple[int, int] | None = None, io_type: str = "io_parallel") -> dict:
    """The SP2 share and (model-wide) ReuseFactor with the highest GOPS that fit the budget.

    Every layer gets ``round(share * n_out)`` SP2 rows. Raises ValueError naming the resources
    that do not fit when no combination does.
    """
    import dataclasses

    costs = costs or Costs()
    best, closest = None, None
    for rf in reuse_factors:
        for i in range(int(round(1 / step)) + 1):
            share = round(i * step, 10)
            trial = [
                dataclasses.replace(w, n_sp2=round(share * w.n_out), reuse_factor=rf)
                if isinstance(w, LayerWork)
                else dataclasses.replace(w, reuse_factor=rf)
                for w in works
            ]
            result = estimate(trial, board, costs, budget, io_beats, io_type)
            result.update(sp2_share=share, reuse_factor=rf)
            if all(result["fits"].values()):
                if best is None or result["gops"] > best["gops"]:
                    best = result
            elif closest is None or max(result["utilization"].values()) < max(closest["utilization"].values()):
                closest = result
    if best is None:
        util = closest["utilization"]
        over = ", ".join(f"{k} at {100 * util[k]:.0f}%" for k, ok in closest["fits"].items() if not ok)
        raise ValueError(
            f"the model does not fit {board.name} at any SP2 share or ReuseFactor up to {max(reuse_factors)}: "
            f"{over} even at the smallest design"
        )
    return best
