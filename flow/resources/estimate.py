"""Resource and throughput estimates for the MSQ kernels, from yosys-measured PE costs.

Every figure here is an **estimate**. The micro-architecture comes from :mod:`flow.hls.microarch`,
the same description the C++ config writer uses. One row-quantized layer (``n_in`` inputs per
row, ``n_fix`` fixed rows, ``n_sp2`` SP2 rows, reuse factor ``RF``, ``chunks = ceil(n_in / RF)``) is

    DSP lanes   = n_fix * chunks             one fixed-point product each, on a DSP48E1 (at RF 1 with constant
                                             weights only those whose constant is not 0 or +-2^k, one per
                                             distinct constant of an input: :func:`constant_dsps`); two lanes that
                                             read the same input share one DSP where the width conditions
                                             hold (DSP packing, :func:`flow.hls.microarch.plan_dsp_packing`):
                                             ``RowKernel.fix_dsps`` DSPs, each with the measured
                                             ``packed_mul_dsp`` / ``packed_mac_dsp`` LUTs (its correction)
    LUT lanes   = n_sp2 * chunks             one SP2 shift-add unit each: run-time shifts when the
                                             weights change per cycle (ROM or RF > 1), constant
                                             shifts (``sp2_const``) for Latency at RF 1
    LUT, FF     = structural terms (:func:`dense_terms`), each in LUT or FF per bit, times a coefficient
                  fitted on whole Dense layers synthesized by yosys (:mod:`flow.resources.layer_fit`,
                  ``layer_model.json``; registers, ROM and multiplexers are counted, coefficient 1):
                  SP2 lane at RF > 1 (two run-time shifters, add, sign, accumulator), SP2 add and sign
                  per distinct constant product at RF 1; fixed lanes accumulate in the DSP's P register
                  (fabric accumulators only for packed pairs split every cycle); per row the combine tree
                  (chunk partials, or at RF 1 the non-zero products at their significant widths; its adder
                  bits, and those times log2 of its operands) and the bias add; input, ROM-word, lane, parts and output registers; the input
                  multiplexers (RF:1 per chunk, n_in:1 folded); Latency at RF > 1 multiplexes each
                  lane's constant weights by the cycle. Widths are the kernel's exact ``msq_types``
                  where the weights are known (:func:`works_from_model`, :func:`work_of_stage`)
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


def load_layer_model() -> dict:
    """The fitted layer coefficients (:mod:`flow.resources.layer_fit`), or {} where the file is missing."""
    import json

    from flow.package_data import PACKAGE

    path = PACKAGE / "resources" / "layer_model.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {"coefficients": data.get("coefficients", {})}

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
    #: Exact widths of the fixed and SP2 accumulators and of the result (``msq_types``), where the weights are
    #: known (:func:`works_from_model`, :func:`work_of_stage`); None: the typical widths of :func:`widths`.
    fix_accum_bits: int | None = None
    sp2_accum_bits: int | None = None
    result_bits: int | None = None
    #: Fraction of non-zero weight codes (a constant zero product is no logic at RF 1); None: all non-zero.
    density: float | None = None
    #: DSP48E1 of the constant design at RF 1 counted from the weights: one per product (or packed pair) whose
    #: constant multiplier is not 0 or +-2^k (:func:`constant_dsps`); None: ``dsp_products`` bounds it.
    dsp_constant: int | None = None
    #: Mean significant bits of a non-zero constant product at RF 1 (fixed: ``x * c``; SP2: the two shifted copies
    #: of ``x`` and the sign), from the weights; None: typical (:func:`widths`).
    fix_leaf_bits: float | None = None
    sp2_leaf_bits: float | None = None
    #: Distinct non-zero products per input over non-zero products (rows with equal weights on an input share
    #: the product at RF 1); None: 1.
    distinct: float | None = None

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
    #: Fitted coefficients of the layer terms (``layer_model.json``); a term without one counts 1 per unit.
    layer_model: dict = field(default_factory=lambda: load_layer_model())

    def combine(self, kind: str, terms: dict) -> int:
        """``sum(coefficient * term)`` of :func:`dense_terms`, rounded: the layer's LUT or FF estimate."""
        coef = self.layer_model.get("coefficients", {}).get(kind, {})
        return int(round(sum(coef.get(name, 1.0) * value for name, value in terms.items())))

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


@dataclass(frozen=True)
class Widths:
    """Bit widths of one Dense layer's datapath (the kernel's ``msq_types``, exact or typical)."""

    data: int  # the signed data a lane reads
    sp2_term: int  # one SP2 term (x >> f1) + (x >> f2), signed
    fix_leaf: float  # significant bits of a constant fixed product (RF 1)
    sp2_leaf: float  # significant bits of a constant SP2 term (RF 1)
    fix_accum: int
    sp2_accum: int
    result: int


def _sp2_fields(work: LayerWork) -> tuple[int, int]:
    """(m1, m2) of the layer's SP2 codes; (0, 0) without SP2 rows (e.g. 16-bit stock or approximate kernels)."""
    return levels.sp2_fields(work.weight_bits) if work.n_sp2 else (0, 0)


def widths(work: LayerWork) -> Widths:
    """The layer's widths: exact where :class:`LayerWork` carries them, else typical ones -- a row's sum of
    |mantissa| about ``n_in`` times half the full scale (``flow.hls.encode.size_types`` for the exact rule)."""
    xw = work.data_bits + (0 if work.data_signed else 1)
    m1, m2 = _sp2_fields(work)
    max_shift = 2**m1 - 1
    log_in = math.floor(math.log2(work.n_in))
    fix_acc = work.fix_accum_bits or xw + work.weight_bits - 1 + log_in
    sp2_acc = work.sp2_accum_bits or xw + max_shift + log_in
    result = work.result_bits or max(fix_acc if work.n_fix else 0, sp2_acc if work.n_sp2 else 0) + 1
    fix_leaf = work.fix_leaf_bits or xw + work.weight_bits - 1
    sp2_leaf = work.sp2_leaf_bits or xw + 2**m2
    return Widths(xw, xw + max_shift + 1, fix_leaf, sp2_leaf, fix_acc, sp2_acc, result)


def weight_statistics(enc, data_width: int, data_signed: bool) -> dict:
    """What the weights of a row-quantized kernel (:class:`flow.hls.encode.DenseEncoding`) tell the estimate
    of a constant (RF 1) design: the fraction of non-zero codes (``density``) and the mean significant bits
    of a non-zero product -- ``x * c`` keeps ``bitlen(odd part of c)`` more bits than ``x`` (one less for
    ``c = +2^k``); ``+-((x >> f1) + (x >> f2))`` keeps ``|f1 - f2| + 1`` more with two shifts, the sign's bit
    with one. Fields of :class:`LayerWork`."""
    import numpy as np

    xw = data_width + (0 if data_signed else 1)
    fix = np.asarray(enc.fix_weights, dtype=np.int64).ravel()
    codes = np.asarray(enc.sp2_codes, dtype=np.int64).ravel()
    m1, m2 = enc.m1, enc.m2
    f1, f2, neg = (codes >> m2) & ((1 << m1) - 1), codes & ((1 << m2) - 1), (codes >> (m1 + m2)) & 1
    nz_fix = fix[fix != 0]
    odd = np.abs(nz_fix)
    while np.any(odd % 2 == 0):
        odd = np.where(odd % 2 == 0, odd // 2, odd)
    fix_bits = xw + np.array([int(v).bit_length() for v in odd]) - ((odd == 1) & (nz_fix > 0))
    live = (f1 != 0) | (f2 != 0)
    both = (f1 != 0) & (f2 != 0)
    sp2_bits = np.where(both, xw + np.abs(f1 - f2) + 1, xw + neg)[live]
    total = fix.size + codes.size
    n_in = int(np.asarray(enc.fix_weights).shape[-1]) if np.ndim(enc.fix_weights) == 2 else 1
    fix2 = np.asarray(enc.fix_weights, dtype=np.int64).reshape(-1, n_in)
    sp2_2 = np.asarray(enc.sp2_codes, dtype=np.int64).reshape(-1, n_in)
    live2 = ((sp2_2 >> m2) & ((1 << m1) - 1) != 0) | ((sp2_2 & ((1 << m2) - 1)) != 0)
    unique = sum(len(set(col[col != 0].tolist())) for col in fix2.T) if fix2.size else 0
    unique += sum(len(set(col[ok].tolist())) for col, ok in zip(sp2_2.T, live2.T)) if sp2_2.size else 0
    nonzero = nz_fix.size + int(np.count_nonzero(live))
    return {
        "distinct": round(unique / nonzero, 4) if nonzero else None,
        "density": round(nonzero / total, 4) if total else 1.0,
        "fix_leaf_bits": round(float(fix_bits.mean()), 3) if fix_bits.size else None,
        "sp2_leaf_bits": round(float(sp2_bits.mean()), 3) if sp2_bits.size else None,
    }


def constant_dsps(fix_weights, pack) -> int:
    """DSP48E1 of a constant (RF 1) fixed matrix ``(n_fix, n_in)`` of mantissas: a product by 0 or +-2^k is
    wiring (or a negation), any other constant needs a multiplier, and the products of one input by equal
    constants are one (synthesis merges them). Packed (``pack``, a
    :class:`flow.hls.microarch.DSPPack`), rows ``2p`` and ``2p + 1`` share one DSP per input, whose constant is
    ``w_a * 2^shift + w_b``."""
    import numpy as np

    w = np.asarray(fix_weights, dtype=np.int64).reshape(len(fix_weights), -1) if len(fix_weights) else np.zeros((0, 1), np.int64)
    if pack is not None and len(w) >= 2:
        pairs = len(w) // 2
        packed = w[0 : 2 * pairs : 2] * (1 << pack.shift) + w[1 : 2 * pairs : 2]
        w = np.concatenate([packed, w[2 * pairs :]])
    count = 0
    for column in w.T:  # every product of one input: equal constants are one multiplier (shared)
        k = np.unique(column)
        a = np.abs(k)
        count += int(np.count_nonzero((a & (a - 1)) != 0))  # not 0 or a power of two
    return count


def work_of_stage(stage) -> LayerWork:
    """The :class:`LayerWork` of a converted Dense layer (:class:`flow.rtl.netlist.DenseStage`: its kernel,
    input type and exact ``msq_types``), e.g. to cost a converted model next to its synthesis."""
    k, t, enc = stage.kernel, stage.types, stage.enc
    return LayerWork(stage.name, k.n_in, k.n_out, k.n_sp2, 1, k.weight_bits, stage.in_spec.width, k.reuse_factor,
                     strategy=k.strategy, data_signed=stage.in_spec.signed, dsp_packing=k.dsp_packing,
                     fix_accum_bits=t.fix_accum.width, sp2_accum_bits=t.sp2_accum.width, result_bits=t.result.width,
                     dsp_constant=constant_dsps(enc.fix_weights, k.pack) if k.reuse_factor == 1 else None,
                     **weight_statistics(enc, stage.in_spec.width, stage.in_spec.signed))


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


def tree_bits(leaves: int, leaf_width: int, cap: int) -> int:
    """Adder bits of a balanced tree of two-operand adds over ``leaves`` values of ``leaf_width`` bits: each
    level's sums are one bit wider, up to ``cap`` (the accumulator width, where the kernel wraps)."""
    bits, n, w = 0, max(0, leaves), leaf_width
    while n > 1:
        w = min(cap, w + 1)
        bits += (n // 2) * w
        n = n - n // 2
    return bits


def dense_terms(work: LayerWork, costs: Costs) -> dict:
    """The structures of one row-quantized layer, in LUT and FF units before the fitted coefficients
    (``{'lut': {term: value}, 'ff': {term: value}}``); see :func:`estimate_layer` for the terms."""
    k = row_kernel(work)
    rf, w = k.reuse_factor, widths(work)
    fix, sp2 = k.fixed, k.sp2
    constant = not k.rom and rf == 1
    density = work.density if (constant and work.density is not None) else 1.0
    distinct = work.distinct if (constant and work.distinct is not None) else 1.0
    pack = k.pack
    m1, m2 = _sp2_fields(work)
    max_shift = 2**m1 - 1
    lut, ff = {"control": 1.0}, {"control": 1.0}
    if sp2.lanes and rf > 1:
        # a run-time SP2 lane: two barrel shifters of m1 and m2 stages on the shifted data (two stages per LUT6),
        # the add of the two copies, the sign, and the accumulator (an add and the first-cycle select)
        shift = (w.data + max_shift) * (m1 + m2) / 2
        lut["sp2_lane"] = sp2.lanes * (shift + 2 * w.sp2_term + w.sp2_accum)
        ff["lane_acc"] = sp2.lanes * w.sp2_accum
    if sp2.lanes and constant:
        # constant shifts are wiring: the add of the two copies and the sign, once per distinct product of an input
        lut["sp2_const"] = sp2.lanes * density * distinct * w.sp2_leaf
    # run-time packed weights w_a * 2^k + w_b are formed in the DSP's pre-adder: no LUT (yosys: a packed and an
    # unpacked layer measure the same LUTs)
    if pack is not None and constant and work.dsp_constant is not None:
        # constant pairs whose packed constant is 0 or +-2^k need no multiplier, but their product plus the
        # 2^(k-1) correction is then added in fabric (the DSP's C port otherwise)
        lut["pack_fabric"] = max(0, k.fix_dsps - work.dsp_constant) * w.fix_accum
    # fixed lanes accumulate in the DSP's P register, unless packed with a split every cycle (fabric accumulators)
    if rf > 1 and pack is not None and not pack.in_dsp:
        lut["fix_acc"] = fix.lanes * w.fix_accum
        ff["lane_acc"] = ff.get("lane_acc", 0) + fix.lanes * w.fix_accum
    # parts registers (a lane's sum at the end of the pass; at RF 1 the product itself, one register per distinct
    # product of an input) and the combine tree of each row (at RF 1 over its non-zero products: fixed products
    # are integers aligned at bit 0 and grow a bit per level; SP2 terms are aligned by their shifts and span
    # the whole term; a packed DSP's two fields are read whole, at the accumulator width). Synthesis merges a row's
    # adds into one multi-operand sum (a compressor tree): its cost per adder bit grows with log2 of the operands
    # (``tree_depth``)
    parts, tree, depth = 0.0, 0.0, 0.0
    for lanes, leaf, span, acc, packed in ((fix, w.fix_leaf, w.fix_leaf, w.fix_accum, pack is not None),
                                           (sp2, w.sp2_leaf, w.sp2_term, w.sp2_accum, False)):
        if not lanes.n_rows:
            continue
        if lanes.folded:
            parts += (2 * lanes.n_rows - lanes.lanes) * acc  # finished rows, and those a lane holds
            continue
        if constant:
            reg_w, tree_w = (acc, acc) if packed else (min(leaf, acc), min(span, acc))
            parts += lanes.n_rows * lanes.chunks * density * distinct * reg_w
            leaves = round(lanes.chunks * density)
            bits = lanes.n_rows * tree_bits(leaves, tree_w, acc)
        else:
            parts += lanes.n_rows * lanes.chunks * acc
            leaves = lanes.chunks
            bits = lanes.n_rows * tree_bits(leaves, acc, acc)
        tree += bits
        depth += bits * math.log2(max(leaves, 1))
    ff["parts"] = parts
    if tree:
        lut["adder_tree"] = tree
    if depth:
        lut["tree_depth"] = depth
    lut["bias_add"] = work.n_out * (w.result + 1)
    ff["output_reg"] = work.n_out * w.result
    ff["input_reg"] = work.n_in * work.data_bits
    # weights: a ROM word per cycle (Resource; LUT ROM up to 64 words, registered), constants muxed by the cycle
    # (Latency at RF > 1)
    if k.rom_lutram:  # a bit of the word is a function of the cycle: at most 2^RF distinct ones (equal bits merge)
        lut["rom"] = sum(rom_luts(min(width, 2**depth), depth) for width, depth in (fix.rom_shape, sp2.rom_shape))
        ff["rom_word"] = sum(min(width, 2**depth) for width, depth in (fix.rom_shape, sp2.rom_shape))
    if not k.rom and rf > 1:
        lut["weight_mux"] = (fix.lanes + sp2.lanes) * mux_luts(work.weight_bits, rf)
    # the input each lane reads: an RF:1 multiplexer per chunk (split), n_in:1 (folded); shared by all rows
    mux = fix.chunks * mux_luts(work.data_bits, fix.n_in if fix.folded else rf)
    if mux:
        lut["in_mux"] = mux
    return {"lut": lut, "ff": ff}


def estimate_layer(work, costs: Costs) -> dict:
    """DSP, LUT, FF, BRAM and cycles of one layer. LUT and FF: the structures of :func:`dense_terms`, each
    times its coefficient fitted on whole-layer yosys synthesis (``layer_model.json``,
    :mod:`flow.resources.layer_fit`); DSP: one per fixed lane or packed pair (at RF 1 only the constants
    that need a multiplier)."""
    from flow.resources.lq import LQWork, estimate_lq_layer

    if isinstance(work, LQWork):
        result = estimate_lq_layer(work, costs)
        result.setdefault("fill", layer_fill(result.get("reuse_factor", work.reuse_factor), work.scan, result["cycles"]))
        return result
    k = row_kernel(work)
    rf = k.reuse_factor
    pack = k.pack
    fixed = costs.fixed_lane(work.data_bits, work.weight_bits) if k.fixed.lanes else {"dsp": 0, "lut": 0}
    if pack is not None:
        fixed = costs.packed_dsp(work.data_bits, work.weight_bits, pack.in_dsp)
    constant = not k.rom and rf == 1
    terms = dense_terms(work, costs)
    lut = costs.combine("lut", terms["lut"])
    ff = costs.combine("ff", terms["ff"])
    bram = bram18(*k.fixed.rom_shape) + bram18(*k.sp2.rom_shape) if k.rom and not k.rom_lutram else 0
    if work.scan is not None:  # line buffer rows and the window registers of the scan
        line = work.scan.line_buffer_cost(work.data_bits)
        lut += line["lut"]
        ff += line["ff"] + work.scan.window_values * work.data_bits
        bram += line["bram18"]
    dsp = k.fix_dsps * fixed["dsp"]
    if constant and work.dsp_constant is not None:
        dsp = work.dsp_constant
    elif constant and work.dsp_products is not None:  # packed: a pair needs its DSP if either product does
        dsp = min(dsp, work.dsp_products * fixed["dsp"])
    return {
        "layer": work.name,
        "dsp": dsp,
        "lut": lut,
        "ff": ff,
        "bram18": bram,
        "bram36": math.ceil(bram / 2),
        "dsp_lanes": k.fixed.lanes,
        "lut_lanes": k.sp2.lanes,
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


def kernel_fields(quantizer, kernel, data_bits: int, data_signed: bool = True) -> dict:
    """The :class:`LayerWork` fields that the weights of a row-quantized kernel decide: exact accumulator and
    result widths (``flow.hls.encode.size_types`` for ``data_bits``-wide data, zero bias), the constant DSPs
    at RF 1 (:func:`constant_dsps` with the RF 1 packing plan) and :func:`weight_statistics`. Empty where the
    kernel is not sized that way (row multipliers of a real scale)."""
    import numpy as np

    from flow.hls.encode import FixedSpec, encode_dense, size_types
    from flow.quantizers import RowEncoding

    enc = quantizer.encode(kernel)
    values = np.asarray(enc.values)
    dense = encode_dense(RowEncoding(values.reshape(-1, values.shape[-1]), enc.scheme, enc.exponent, enc.bits))
    if dense.multiplier is not None:
        return {}
    data = FixedSpec(data_bits, 1 if data_signed else 0, data_signed)
    try:
        t = size_types(dense, data, np.zeros(dense.n_out), FixedSpec(1, 1))
    except ValueError:
        return {}
    pack = None
    if len(dense.fix_weights) >= 2:
        pack, _ = plan_dsp_packing(dense.bits, data_bits, data_signed, 1)
    return {"fix_accum_bits": t.fix_accum.width, "sp2_accum_bits": t.sp2_accum.width, "result_bits": t.result.width,
            "dsp_constant": constant_dsps(dense.fix_weights, pack),
            **weight_statistics(dense, data_bits, data_signed)}


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


def estimate_design(model, netlist, board: Board, reuse_factor: int = 1, strategy: str | None = None,
                    costs: Costs | None = None) -> dict:
    """:func:`estimate_model` of a model already converted (and emitted as RTL, ``netlist``:
    :class:`flow.rtl.netlist.Netlist`): each Dense layer is costed from its converted stage
    (:func:`work_of_stage`: its real input width and signedness, exact ``msq_types``, constant DSPs), the
    AXI beats from the real input width; other layers as :func:`works_from_model` sees them."""
    from flow.rtl.netlist import DenseStage

    data_bits = netlist.inp.spec.width
    stages = {st.name: st for st in netlist.stages if isinstance(st, DenseStage)}
    works = [work_of_stage(stages[w.name]) if isinstance(w, LayerWork) and w.name in stages else w
             for w in works_from_model(model, reuse_factor, data_bits, strategy)]
    return estimate(works, board, costs, io_beats=model_axi_beats(model, data_bits))


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
                                   dsp_products=multiplier_products(q, layer.kernel.numpy()),
                                   **kernel_fields(q, layer.kernel.numpy(), data_bits)))
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
            trial = [  # another share: the weights' constant DSP count no longer applies
                dataclasses.replace(w, n_sp2=round(share * w.n_out), reuse_factor=rf,
                                    **({"dsp_constant": None} if round(share * w.n_out) != w.n_sp2 else {}))
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
