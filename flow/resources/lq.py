"""Resource estimates of the LQ / binary bit-plane kernels (``nnet_lq_dense.h``), from the same
yosys-measured blocks as the MSQ estimate.

One LQ layer with ``n_in`` inputs per row, ``kx`` input planes (offset plane included) and ``kw``
weight planes at reuse factor ``RF`` is built as

    lanes        = ceil(n_out / RF) rows in flight, each computing kx * kw plane pairs:
                   ceil(n_in / 64) popcount blocks of 64 bits plus their adder tree, a constant
                   multiple (by the input plane's mantissa: about two adders) and an adder;
                   then per weight plane a multiple of its 8-bit basis mantissa
    encoder      = (levels - 1) comparators per input for an LQ input (shared by all rows),
                   nothing for a fixed-point input (its bits are the planes)
    cycles       = RF per input vector, times ``pixels`` for a convolution
    weight ROM   = BRAM36 when RF > 1, n_in * n_out * kw bits; no DSP at all

Weights from ROM (RF > 1): XNOR-popcount blocks and LUT multipliers by the basis. Constant weights
(Latency, RF = 1): the XNOR folds into the popcount's LUTs (``popcount`` block), the basis
multiple is a constant one (about two adders). Without padding the offset plane is folded into the bias by the
converter in any strategy. Not checked against Vitis HLS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BRAM36_BITS = 36 * 1024
POPCOUNT_BITS = 64
MANTISSA_BITS = 8


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

    def __post_init__(self):
        if min(self.n_in, self.n_out, self.kx, self.kw, self.pixels, self.reuse_factor) < 1:
            raise ValueError(f"layer '{self.name}': sizes, planes and reuse factor must be positive")

    @property
    def macs(self) -> int:
        return self.n_in * self.n_out * self.pixels


def estimate_lq_layer(work: LQWork, costs) -> dict:
    """Same keys as ``flow.resources.estimate.estimate_layer`` (``lut_lanes`` = rows in flight)."""
    lanes = -(-work.n_out // work.reuse_factor)
    words = -(-work.n_in // POPCOUNT_BITS)
    count_bits = math.ceil(math.log2(work.n_in + 1)) + 1
    constant = work.reuse_factor == 1
    popcount = costs.block("popcount" if constant else "xnor_popcount", N=min(work.n_in, POPCOUNT_BITS))["lut"]
    tree = costs.block("adder", W=count_bits)["lut"]
    inner_bits = count_bits + MANTISSA_BITS + math.ceil(math.log2(work.kx))
    acc_bits = inner_bits + MANTISSA_BITS + math.ceil(math.log2(work.kw)) + 1
    inner_adder = costs.block("adder", W=inner_bits)["lut"]
    acc_adder = costs.block("adder", W=acc_bits)["lut"]
    pair = words * popcount + (words - 1) * tree + 3 * inner_adder  # popcounts, tree, constant multiple, sum
    multiple = 2 * acc_adder if constant else costs.block("fixed_mul_lut", A=inner_bits, K=MANTISSA_BITS)["lut"]
    live_x_planes = work.kx if work.padded else work.kx - 1  # unpadded: the offset plane is in the bias
    row = live_x_planes * work.kw * pair + work.kw * (multiple + acc_adder)
    encoder = work.n_in * max(0, work.levels - 1) * costs.block("adder", W=work.data_bits)["lut"]
    acc = costs.block("accumulator", W=acc_bits)
    weight_bits = work.n_in * work.n_out * work.kw
    return {
        "layer": work.name,
        "dsp": 0,
        "lut": lanes * row + encoder + work.n_out * acc["lut"],
        "ff": work.n_out * acc["ff"],
        "bram36": math.ceil(weight_bits / BRAM36_BITS) if work.reuse_factor > 1 else 0,
        "dsp_lanes": 0,
        "lut_lanes": lanes,
        "cycles": work.reuse_factor * work.pixels,
        "macs": work.macs,
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


def lq_work(layer, model, reuse_factor: int, data_bits: int) -> LQWork:
    """The :class:`LQWork` of a Keras layer whose kernel quantizer is ``quantized_lq``."""
    import numpy as np

    shape = layer.kernel.shape
    out_shape = layer.output_shape
    pixels = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
    source = _lq_input(layer, model)
    kx = (source.bits if source is not None else data_bits) + 1
    levels = 2**source.bits if source is not None else 0
    kw = layer.kernel_quantizer_internal.bits
    padded = getattr(layer, "padding", "valid") == "same" and int(np.prod(shape[:-2])) > 1
    return LQWork(layer.name, int(np.prod(shape[:-1])), int(shape[-1]), kx, kw, levels, data_bits, pixels, reuse_factor,
                  padded)
