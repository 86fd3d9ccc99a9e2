"""Resource estimates of the LQ / binary bit-plane kernels (``nnet_lq_dense.h``, ``nnet_lq_conv.h``),
from the same yosys-measured blocks as the MSQ estimate. Every figure is an **estimate**.

The micro-architecture is :class:`flow.hls.lq_microarch.LQRows`, the description the C++ config
writer and the weight layout use. One LQ layer with ``n_in`` inputs per row, ``kx`` input planes
(the offset plane only when some input is padded: otherwise the converter folds it into the bias)
and ``kw`` weight planes at reuse factor ``RF`` (``1..n_out``; a larger model-wide one is lowered
to ``n_out``, as the conversion does) is

    lanes        = ceil(n_out / RF); lane l computes row l * RF + c in cycle c. Per lane:
                   kx * kw * segments XNOR-popcounts of ``seg_inputs`` bits (popcount only, the XNOR
                   folded into its LUTs, when the weights are constants), the segment sums, the
                   constant multiples by the input mantissas and their sum, then per weight plane
                   one product with the row's folded basis mantissa -- a LUT multiplier
                   (``fixed_mul_lut``, BIND_OP impl=fabric) when the row is a run-time one (Resource,
                   or RF > 1), a constant multiple (two adders) at RF 1 -- and one adder (the last one
                   adds the row's integer bias). No DSP. No run-time shifter: each row's power of two
                   is folded into its mantissas, the layer's one scale is wiring.
    row results  = lanes * RF registers of the accumulator width (a shift register per lane)
    encoder      = (levels - 1) comparators per input of a Dense layer, per channel of a convolution
                   (its line buffer holds codes), none for a fixed-point input (its bits are the planes)
    code ROM     = Resource: ``lanes * segments * kw * seg_inputs`` bits wide, RF deep, in RAMB18
                   tiles by the 7-series aspect ratios (:func:`flow.hls.microarch.bram18`)
    basis, bias  = Resource: two LUTRAM ROMs of the same depth (``lanes * kw * basis_bits`` and
                   ``lanes * bias_bits`` wide; 64 x 1 bits per LUT)
    line buffer  = a convolution's ``filt_height - 1`` rows of ``in_width`` words of ``n_chan * kx``
                   bits: registers, distributed RAM or RAMB18 by its depth
                   (:meth:`flow.hls.microarch.ConvScan.line_buffer_cost`, the kernel binds the same)
    cycles       = Dense RF + LQ_DENSE_DEPTH, a convolution padded_pixels * RF + LQ_SCAN_DEPTH

Not checked against Vitis HLS (the ``vivado``-marked tests compare with csynth where it exists).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flow.hls.lq_microarch import LQ_SCAN_DEPTH, LQRows
from flow.hls.microarch import ConvScan

POPCOUNT_BITS = 64
#: Estimated width of a folded basis mantissa (K-bit LQ bases with a few mantissa bits, plus the rows' exponent spread).
MANTISSA_BITS = 8
#: A line-buffer row of at most this many bits is assumed in LUTRAM (Vitis HLS maps small arrays there).


@dataclass(frozen=True)
class LQWork:
    """One LQ/binary layer as the estimator sees it (``levels`` = 0 for a fixed-point input)."""

    name: str
    n_in: int
    n_out: int
    kx: int
    kw: int
    levels: int = 0
    data_bits: int = 8
    pixels: int = 1
    reuse_factor: int = 1
    #: a 'same' convolution: border windows are padded, so the offset plane stays in the kernel
    padded: bool = False
    #: 'latency' or 'resource'; None: Resource when RF > 1 (codes in ROM), Latency at RF 1.
    strategy: str | None = None
    #: Streaming geometry of a convolution (None: Dense, or a workload without geometry).
    scan: ConvScan | None = None

    def __post_init__(self):
        if min(self.n_in, self.n_out, self.kx, self.kw, self.pixels, self.reuse_factor) < 1:
            raise ValueError(f"layer '{self.name}': sizes, planes and reuse factor must be positive")

    @property
    def macs(self) -> int:
        return self.n_in * self.n_out * self.pixels


def _bits(n: int) -> int:
    return max(1, math.ceil(math.log2(n + 1)))


def lq_rows(work: LQWork) -> LQRows:
    """The layer's micro-architecture as the converter builds it (estimated mantissa/bias widths)."""
    rf = max(1, min(int(work.reuse_factor), work.n_out))
    strategy = work.strategy.lower() if work.strategy else ("resource" if rf > 1 else "latency")
    kx = work.kx if work.padded else max(1, work.kx - 1)  # unpadded: the offset plane is in the bias
    return LQRows(work.name, work.n_in, work.n_out, kx, work.kw, rf, strategy, work.scan, MANTISSA_BITS,
                  _acc_bits(work, kx))


def _inner_bits(work: LQWork, kx: int) -> int:
    return _bits(work.n_in) + 1 + MANTISSA_BITS + _bits(kx)


def _acc_bits(work: LQWork, kx: int) -> int:
    return _inner_bits(work, kx) + MANTISSA_BITS + _bits(work.kw) + 1


def estimate_lq_layer(work: LQWork, costs) -> dict:
    """Same keys as ``flow.resources.estimate.estimate_layer`` (``lut_lanes`` = rows in flight)."""
    arch = lq_rows(work)
    kx, kw = arch.kx, arch.kw
    runtime_rows = arch.rom or arch.reuse_factor > 1  # the row (codes, mantissas) changes per cycle
    count_bits = _bits(work.n_in) + 1
    inner_bits = _inner_bits(work, kx)
    acc_bits = _acc_bits(work, kx)
    block = costs.block("xnor_popcount" if runtime_rows else "popcount", N=POPCOUNT_BITS)
    popcount = math.ceil(block["lut"] * arch.seg_inputs / POPCOUNT_BITS)
    count_adder = costs.block("adder", W=count_bits)["lut"]
    inner_adder = costs.block("adder", W=inner_bits)["lut"]
    acc_adder = costs.block("adder", W=acc_bits)["lut"]
    # a plane pair: segment popcounts, their sum, n - 2 pop, the constant multiple by mx_p and its add
    pair = arch.segments * popcount + arch.segments * count_adder + 2 * inner_adder
    if runtime_rows:
        product = costs.block("fixed_mul_lut", A=inner_bits, K=MANTISSA_BITS)["lut"]
    else:
        product = 2 * acc_adder
    lane = kx * kw * pair + kw * (product + acc_adder)
    encoder_inputs = work.scan.n_chan if work.scan else work.n_in
    encoder = encoder_inputs * max(0, work.levels - 1) * costs.block("adder", W=work.data_bits)["lut"]
    bram = arch.rom_bram18
    lut = arch.lanes * lane + encoder + arch.param_rom_luts
    ff = arch.rows_alloc * acc_bits
    if work.scan is not None and work.scan.filt_height > 1:
        line = work.scan.line_buffer_cost(kx)
        lut += line["lut"]
        bram += line["bram18"]
        ff += line["ff"] + work.scan.window_values * kx
    if work.scan is None and work.pixels > 1:  # a convolution known only by its output pixels
        cycles = work.pixels * arch.reuse_factor + LQ_SCAN_DEPTH
    else:
        cycles = arch.cycles
    return {
        "layer": work.name,
        "dsp": 0,
        "lut": lut,
        "ff": ff,
        "bram18": bram,
        "bram36": math.ceil(bram / 2),
        "dsp_lanes": 0,
        "lut_lanes": arch.lanes,
        "reuse_factor": arch.reuse_factor,
        "rom": [list(arch.rom_shape)] if arch.rom else [],
        "cycles": cycles,
        "macs": work.macs,
        "note": "",
    }


def _lq_input(layer, model):
    """The LQ activation feeding ``layer`` through Flatten/Reshape/max pooling, or None."""
    from flow.quantizers import quantized_lq

    node = layer
    while True:
        inbound = node._inbound_nodes[0].inbound_layers if node._inbound_nodes else []
        if isinstance(inbound, list):
            if len(inbound) != 1:
                return None
            inbound = inbound[0]
        node = inbound
        name = type(node).__name__
        quantizer = getattr(node, "quantizer", None)
        if name == "QActivation" and isinstance(quantizer, quantized_lq):
            return quantizer
        if name not in ("Flatten", "Reshape", "MaxPooling1D", "MaxPooling2D"):
            return None


def lq_work(layer, model, reuse_factor: int, data_bits: int, strategy: str | None = None) -> LQWork:
    """The :class:`LQWork` of a Keras layer whose kernel quantizer is ``quantized_lq``."""
    import numpy as np

    from flow.resources.estimate import conv_scan_of_keras

    shape = layer.kernel.shape
    out_shape = layer.output_shape
    pixels = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
    source = _lq_input(layer, model)
    kx = (source.bits if source is not None else data_bits) + 1
    levels = 2**source.bits if source is not None else 0
    kw = layer.kernel_quantizer_internal.bits
    scan = conv_scan_of_keras(layer)
    padded = scan is not None and any((scan.pad_top, scan.pad_bottom, scan.pad_left, scan.pad_right))
    return LQWork(layer.name, int(np.prod(shape[:-1])), int(shape[-1]), kx, kw, levels, data_bits, pixels, reuse_factor,
                  padded, strategy, scan)
