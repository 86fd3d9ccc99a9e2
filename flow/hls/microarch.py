"""The micro-architecture of the MSQ row kernels: one description, read by the C++ config writer
(``flow/hls/templates.py``), the weight layout (``flow/hls/layers.py``) and the estimator
(``flow/resources/estimate.py``).

Pure Python: no hls4ml, no TensorFlow.

**Lane schedule** (``nnet_msq_dense.h``). A matrix of ``n_rows`` rows of ``n_in`` products at reuse
factor ``RF``:

* split, ``1 <= RF <= n_in``: each row is cut into ``chunks = ceil(n_in / RF)`` runs of ``RF``
  consecutive inputs. Lane ``l = r * chunks + ch`` owns row ``r`` and, at cycle ``c``, input
  ``ch * RF + c``: its row and input offset are compile-time constants, only the cycle counter
  moves. When ``RF`` does not divide ``n_in`` the last lane of each row idles
  ``chunks * RF - n_in`` cycles (zero weights): ``padded`` products.
* folded, ``RF = k * n_in`` (``2 <= k <= n_out``): lane ``l`` computes rows ``l * k .. l * k + k - 1``
  one after the other, ``ceil(n_rows / k)`` lanes; the input index and the row within the group
  are counters.

The weights are laid out so that lane ``l`` reads element ``l * RF + c``; ``ARRAY_RESHAPE block
factor=lanes`` makes that ROM word ``c``, ``lanes x bits`` wide and ``RF`` deep. The fixed (DSP) and
SP2 (LUT) matrices share the schedule and run in the same loop. Any other reuse factor is refused
when set on a layer; a model-wide one is lowered to the largest valid one below it.

**DSP packing** (:func:`plan_dsp_packing`, :class:`DSPPack`). Two fixed lanes that read the same input in
the same cycle share one DSP48E1: in the split schedule rows ``2p`` and ``2p + 1`` of the same chunk, in the
folded one lanes ``2p`` and ``2p + 1`` (all lanes read the same input index). The DSP multiplies
``w_a * 2^k + w_b`` (its pre-adder) by ``x`` and the two sums are split off P with a correction constant;
``RowKernel.fix_dsps`` DSPs instead of ``fixed.lanes``. On by default where the width conditions hold
(``DSPPacking`` in the hls4ml config: False turns it off, True makes a failing condition an error). The
weight layout does not change: a packed DSP reads both weights from the same ROM word.

**Cycles.** A Dense layer takes ``RF + DENSE_DEPTH`` cycles. A convolution scans its padded input
(``padded_height x padded_width`` positions), one reuse pass (``RF`` cycles) per position, plus
``SCAN_DEPTH``; its line buffer holds ``(filt_height - 1) x in_width x n_chan`` values. The depths
are estimates (pipeline registers of the multiply, the add and the row sums), to be checked
against csynth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Pipeline depth of the reuse loop plus the row sums (estimate; csynth reports the real figure).
DENSE_DEPTH = 4
#: Extra cycles of a convolution's scan after its last pixel (estimate).
SCAN_DEPTH = 4
#: Largest io_parallel convolution input (values): hls4ml partitions io_parallel arrays completely, so a
#: frame is registers (double-buffered under DATAFLOW) read through a pixel multiplexer.
MAX_PARALLEL_FRAME = 2048


#: Line-buffer rows at most this many words deep are registers.
LINE_REGISTERS_MAX_DEPTH = 8

#: Deepest weight ROM kept in LUTs (distributed ROM, 64 words per LUT6); deeper ones are RAMB18 tiles.
LUTROM_MAX_DEPTH = 64

#: Widest hls::stream word Vitis HLS accepts (a packet or struct on a stream is packed into one word).
MAX_STREAM_WORD_BITS = 4096

#: Widest word Vitis HLS builds from ARRAY_RESHAPE (a wider weight ROM word is refused at conversion).
MAX_ROM_WORD_BITS = 65536


def check_rom_word(width_bits: int, reuse_factor: int, where: str) -> None:
    """Refuse a weight ROM word wider than Vitis HLS builds, with the way out."""
    if width_bits > MAX_ROM_WORD_BITS:
        factor = -(-width_bits // MAX_ROM_WORD_BITS)
        raise ValueError(
            f"{where}: at ReuseFactor {reuse_factor} the weight ROM word is {width_bits} bits, above the "
            f"{MAX_ROM_WORD_BITS} bits Vitis HLS builds from ARRAY_RESHAPE; use a ReuseFactor about {factor}x larger "
            "(fewer lanes) or the Latency strategy"
        )


def valid_reuse_factor(n_in: int, n_out: int, reuse_factor: int) -> bool:
    """``1..n_in`` (split schedule) or ``k * n_in`` for ``2 <= k <= n_out`` (folded schedule)."""
    if reuse_factor <= n_in:
        return reuse_factor >= 1
    return reuse_factor % n_in == 0 and reuse_factor // n_in <= n_out


def check_reuse_factor(n_in: int, n_out: int, reuse_factor: int, where: str) -> None:
    """Refuse an invalid reuse factor, naming the valid ones."""
    if isinstance(reuse_factor, bool) or not isinstance(reuse_factor, int) or not valid_reuse_factor(n_in, n_out, reuse_factor):
        exact = [d for d in range(1, n_in + 1) if n_in % d == 0]
        folded = f" or a multiple of {n_in} up to {n_in * n_out}" if n_out > 1 else ""
        raise ValueError(
            f"{where}: ReuseFactor {reuse_factor!r} is not valid for {n_out} rows of {n_in} inputs; use 1..{n_in}"
            f"{folded} (without idle padded lanes: {', '.join(map(str, exact))})"
        )


def scan_cycles(scan: "ConvScan | None", reuse_factor: int, dense_depth: int, scan_depth: int) -> int:
    """Cycles per input of a row kernel: one reuse pass (Dense) or one per padded position (convolution),
    plus the kernel's pipeline depth."""
    if scan is None:
        return reuse_factor + dense_depth
    return scan.padded_pixels * reuse_factor + scan_depth


def effective_reuse_factor(n_in: int, n_out: int, reuse_factor: int) -> int:
    """A model-wide ReuseFactor as a layer uses it: the largest valid one not above it."""
    rf = max(1, int(reuse_factor))
    if rf <= n_in:
        return rf
    return min(rf // n_in, max(1, n_out)) * n_in


@dataclass(frozen=True)
class LaneArray:
    """One matrix (fixed rows or SP2 rows) folded over ``reuse_factor`` cycles (see the module doc)."""

    n_rows: int
    n_in: int
    reuse_factor: int
    weight_bits: int

    @property
    def folded(self) -> bool:
        return self.reuse_factor > self.n_in

    @property
    def rows_per_lane(self) -> int:
        return self.reuse_factor // self.n_in if self.folded else 1

    @property
    def chunks(self) -> int:
        return 1 if self.folded else -(-self.n_in // self.reuse_factor)

    @property
    def last_chunk(self) -> int:
        """Busy cycles of the last lane of a row (split schedule)."""
        return self.n_in - (self.chunks - 1) * self.reuse_factor if not self.folded else self.n_in

    @property
    def lanes(self) -> int:
        if self.folded:
            return -(-self.n_rows // self.rows_per_lane)
        return self.n_rows * self.chunks

    @property
    def lanes_alloc(self) -> int:
        return max(1, self.lanes)

    @property
    def parts_alloc(self) -> int:
        """Row partial sums kept after the loop (chunk partials, or finished rows when folded)."""
        return max(1, self.n_rows * self.chunks)

    @property
    def padded(self) -> int:
        """Idle lane-cycles per pass (zero weights)."""
        return self.lanes * self.reuse_factor - self.n_rows * self.n_in

    @property
    def rom_shape(self) -> tuple[int, int]:
        """(word width in bits, depth in words) of the weight ROM of the Resource strategy."""
        return (self.lanes * self.weight_bits, self.reuse_factor) if self.lanes else (0, 0)

    def layout(self, weights):
        """Weights ``(n_rows, n_in)`` as the flat array the kernel reads: element ``l * RF + c`` is
        lane ``l``'s weight at cycle ``c`` (zero where it idles); one zero lane when empty."""
        import numpy as np

        rf, chunks = self.reuse_factor, self.chunks
        w = np.asarray(weights).reshape(self.n_rows, self.n_in)
        out = np.zeros((self.lanes_alloc, rf), dtype=w.dtype if w.size else np.int64)
        if not self.n_rows:
            return out.reshape(-1)
        if self.folded:
            group = self.rows_per_lane
            padded = np.zeros((self.lanes * group, self.n_in), dtype=out.dtype)
            padded[: self.n_rows] = w
            out[: self.lanes, : group * self.n_in] = padded.reshape(self.lanes, group * self.n_in)
        else:
            padded = np.zeros((self.n_rows, chunks * rf), dtype=out.dtype)
            padded[:, : self.n_in] = w
            out[: self.lanes] = padded.reshape(self.n_rows * chunks, rf)
        return out.reshape(-1)


#: DSP48E1 (UG479): the multiplier takes the 25-bit pre-adder output AD = D + A and the 18-bit B port
#: (both signed); the product M (43 bits) is added to C or to P itself in the 48-bit post-adder (wrapping).
DSP_A_BITS = 25
DSP_B_BITS = 18
DSP_P_BITS = 48


def integer_range(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest value of a ``bits``-wide integer (its raw bits, for a fixed-point type)."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def signed_bits(lo: int, hi: int) -> int:
    """Fewest bits of a signed integer that holds every value in ``[lo, hi]``."""
    bits = 1
    while lo < -(1 << (bits - 1)) or hi > (1 << (bits - 1)) - 1:
        bits += 1
    return bits


def product_range(weight_bits: int, data_width: int, data_signed: bool) -> tuple[int, int]:
    """Exact range of ``w * x`` for a signed ``weight_bits`` mantissa and the data's raw integer."""
    w = integer_range(weight_bits, True)
    x = integer_range(data_width, data_signed)
    corners = [a * b for a in w for b in x]
    return min(corners), max(corners)


@dataclass(frozen=True)
class DSPPack:
    """Two fixed-point products that share the data ``x`` in one DSP48E1 (``nnet_msq_dense.h``)::

        AD = w_a * 2^shift + w_b                (pre-adder: D = w_a << shift, A = w_b; 25 bits)
        P  = 2^(shift-1) + sum over terms of AD * x    (C port, then P accumulates; 48 bits, wrapping)
        high = P[47:shift]                      = sum w_a * x   (signed, 48 - shift bits)
        low  = P[shift-1:0] with its MSB inverted = sum w_b * x (signed, shift bits)

    The constant ``2^(shift-1)`` is the sign correction: without it ``P >> shift`` is
    ``sum w_a*x - 1`` whenever ``sum w_b*x < 0`` (the plain WP521 INT4 recipe's error); with it the
    low field is stored offset by half its range, so the high field is exact and the low field is
    read by flipping its top bit. No adder outside the DSP.
    """

    shift: int  # k: weight of the upper product
    terms: int  # products summed in P before it is split (1: split every cycle, sums in fabric)
    weight_bits: int
    data_bits: int  # signed width of the data integer on the B port

    @property
    def in_dsp(self) -> bool:
        """The lane's sum is accumulated in P (split once per row) rather than in fabric."""
        return self.terms > 1

    @property
    def high_bits(self) -> int:
        return DSP_P_BITS - self.shift


def plan_dsp_packing(weight_bits: int, data_width: int, data_signed: bool, terms: int) -> tuple[DSPPack | None, str]:
    """Whether two rows' products ``w_a * x`` and ``w_b * x`` fit one DSP48E1, and how.

    ``w`` are signed ``weight_bits`` integers (the fixed rows' mantissas), ``x`` the data's raw integer
    (``data_width`` bits, signed or not; its fractional bits are a common scale), ``terms`` the
    products a lane sums before its row partial is complete (``RF`` split, ``n_in`` folded). With
    ``[p_min, p_max]`` the exact range of one product and ``n`` the products summed in P, the
    conditions are (``k`` the shift of the upper product):

    (B) ``x`` fits the 18-bit B port: ``data_width + (0 if signed else 1) <= 18``;
    (L) the low field holds the sum of ``n`` products: ``-2^(k-1) <= n * p_min`` and
        ``n * p_max <= 2^(k-1) - 1``; ``k`` is the smallest such;
    (A) the packed weight ``w_a * 2^k + w_b`` fits the pre-adder's 25-bit signed output for every
        pair of weights: ``weight_bits + k <= 24`` (``-2^(wb-1) * (2^k + 1)`` is the extreme);
    (P) the high field holds the same sum in the rest of P: ``n * [p_min, p_max]`` fits
        ``48 - k`` signed bits (P wraps modulo 2^48; the low ``k`` bits and the high field modulo
        ``2^(48-k)`` are still exact, so nothing else of P has to fit).

    The accumulation is first tried inside the DSP (``n = terms``: P accumulates, one split per row
    partial, no fabric accumulator), then outside it (``n = 1``: P is split every cycle and the two
    fields are summed in fabric). Returns the plan, or None and the first condition that fails
    for ``n = 1`` (which then rules out packing altogether).
    """
    b_bits = data_width + (0 if data_signed else 1)
    if b_bits > DSP_B_BITS:
        return None, (
            f"condition (B): the data ({'signed' if data_signed else 'unsigned'} {data_width} bits, {b_bits} bits as a "
            f"signed integer) is wider than the DSP48E1's {DSP_B_BITS}-bit B port"
        )
    p_lo, p_hi = product_range(weight_bits, data_width, data_signed)
    why = ""
    for n in dict.fromkeys((max(1, terms), 1)):
        k = signed_bits(n * p_lo, n * p_hi)  # (L)
        what = f"{n} product{'s' if n > 1 else ''} of {weight_bits}-bit weights and {b_bits}-bit data {'need' if n > 1 else 'needs'} k = {k} bits"
        if weight_bits + k > DSP_A_BITS - 1:  # (A)
            why = (f"condition (A): {what} in the low field, so the packed weight w_a*2^{k} + w_b needs "
                   f"{weight_bits + k + 1} bits, above the DSP48E1's {DSP_A_BITS}-bit A port (pre-adder output)")
            continue
        if k > DSP_P_BITS - k:  # (P): the high field holds the same range as the low one
            why = f"condition (P): {what} in each field, above the 48-bit P register"
            continue
        return DSPPack(k, n, weight_bits, b_bits), ""
    return None, why


@dataclass(frozen=True)
class ConvScan:
    """Geometry of a streaming convolution (Conv1D: height 1)."""

    in_height: int
    in_width: int
    n_chan: int
    filt_height: int
    filt_width: int
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0

    @property
    def padded_pixels(self) -> int:
        return (self.in_height + self.pad_top + self.pad_bottom) * (self.in_width + self.pad_left + self.pad_right)

    @property
    def line_buffer_values(self) -> int:
        return (self.filt_height - 1) * self.in_width * self.n_chan

    @property
    def window_values(self) -> int:
        return self.filt_height * self.filt_width * self.n_chan

    @property
    def frame_values(self) -> int:
        return self.in_height * self.in_width * self.n_chan

    @property
    def line_storage(self) -> int:
        """Where the line buffer lives (``nnet_msq_window.h``): 0 registers (rows at most 8 words deep),
        1 distributed RAM (up to 64), 2 RAMB18 tiles."""
        if self.in_width <= LINE_REGISTERS_MAX_DEPTH:
            return 0
        return 1 if self.in_width <= 64 else 2

    def line_buffer_cost(self, value_bits: int) -> dict:
        """``{'lut', 'ff', 'bram18'}`` of the line buffer, ``value_bits`` per channel value."""
        rows = self.filt_height - 1
        width = self.n_chan * value_bits
        if rows <= 0:
            return {"lut": 0, "ff": 0, "bram18": 0}
        if self.line_storage == 0:  # registers, read through an in_width:1 multiplexer
            return {"lut": rows * mux_luts(width, self.in_width), "ff": rows * width * self.in_width, "bram18": 0}
        if self.line_storage == 1:
            return {"lut": rows * line_buffer_row(width, self.in_width)["lut"], "ff": 0, "bram18": 0}
        return {"lut": 0, "ff": 0, "bram18": rows * bram18(width, self.in_width)}


@dataclass(frozen=True)
class RowKernel:
    """Everything the C++ config, the weight layout and the estimator share about one layer."""

    name: str
    n_in: int
    n_out: int
    n_sp2: int
    reuse_factor: int
    weight_bits: int
    strategy: str = "latency"
    scan: ConvScan | None = None
    #: The data (layer input) as the DSP sees it: raw integer width and signedness.
    data_width: int = 8
    data_signed: bool = True
    #: ``DSPPacking`` of the hls4ml config: None packs where :func:`plan_dsp_packing` allows, False never,
    #: True requires it (an error naming the failing condition otherwise).
    dsp_packing: bool | None = None

    def __post_init__(self):
        check_reuse_factor(self.n_in, self.n_out, self.reuse_factor, f"layer '{self.name}'")
        if not 0 <= self.n_sp2 <= self.n_out:
            raise ValueError(f"layer '{self.name}': n_sp2 must be in [0, {self.n_out}], got {self.n_sp2}")
        if self.dsp_packing is True and self.pack_units >= 2 and self.pack is None:
            raise ValueError(
                f"layer '{self.name}': DSPPacking is True, but two products do not fit one DSP48E1: {self._pack_plan()[1]} "
                "(set DSPPacking: False for this layer, or narrow its weights/data)"
            )

    @property
    def n_fix(self) -> int:
        return self.n_out - self.n_sp2

    @property
    def fixed(self) -> LaneArray:
        return LaneArray(self.n_fix, self.n_in, self.reuse_factor, self.weight_bits)

    @property
    def sp2(self) -> LaneArray:
        return LaneArray(self.n_sp2, self.n_in, self.reuse_factor, self.weight_bits)

    @property
    def pack_terms(self) -> int:
        """Products a fixed lane sums into one row partial: ``RF`` (split) or ``n_in`` (folded)."""
        return self.n_in if self.fixed.folded else self.reuse_factor

    @property
    def pack_units(self) -> int:
        """What packing pairs: fixed rows (split: rows ``2p`` and ``2p+1``, same chunk, read the same input
        at the same cycle) or fixed lanes (folded: every lane reads the same input)."""
        return self.fixed.lanes if self.fixed.folded else self.n_fix

    def _pack_plan(self) -> tuple[DSPPack | None, str]:
        if self.dsp_packing is False:
            return None, "DSPPacking is False"
        if self.pack_units < 2:
            return None, "fewer than two fixed rows (lanes) to pair"
        return plan_dsp_packing(self.weight_bits, self.data_width, self.data_signed, self.pack_terms)

    @property
    def pack(self) -> DSPPack | None:
        """Two fixed products per DSP48E1 (:class:`DSPPack`), or None (one per DSP)."""
        return self._pack_plan()[0]

    @property
    def fix_pairs(self) -> int:
        """Packed: pairs of fixed rows (split) or lanes (folded); the last may have no partner."""
        return -(-self.pack_units // 2) if self.pack else 0

    @property
    def fix_dsps(self) -> int:
        """DSP48E1 multipliers of the fixed rows: one per lane, or one per pair (and chunk) packed."""
        if not self.pack:
            return self.fixed.lanes
        return self.fix_pairs if self.fixed.folded else self.fix_pairs * self.fixed.chunks

    @property
    def rom(self) -> bool:
        """Weights in ROM (Resource) or constants in logic (Latency)."""
        return self.strategy == "resource"

    @property
    def rom_lutram(self) -> bool:
        """Resource ROMs at most ``LUTROM_MAX_DEPTH`` words deep are distributed ROM (LUTs): a RAMB18 tile
        would hold only a few of its 512+ words."""
        return self.rom and self.reuse_factor <= LUTROM_MAX_DEPTH

    @property
    def pixels(self) -> int:
        """Reuse passes per input: 1 for Dense, every padded position for a convolution."""
        return self.scan.padded_pixels if self.scan else 1

    @property
    def cycles(self) -> int:
        """Cycles per input (Dense: one vector, convolution: one frame)."""
        return scan_cycles(self.scan, self.reuse_factor, DENSE_DEPTH, SCAN_DEPTH)

    def check_rom_words(self) -> None:
        """Resource strategy: each matrix's ROM word within what Vitis HLS builds."""
        if self.rom:
            for array in (self.fixed, self.sp2):
                check_rom_word(array.rom_shape[0], self.reuse_factor, f"layer '{self.name}'")

    def config_values(self) -> dict:
        """The members of ``msq_dense_config`` that this description decides."""
        return {
            "reuse_factor": self.reuse_factor,
            "chunks": self.fixed.chunks,
            "last_chunk": self.fixed.last_chunk,
            "rows_per_lane": self.fixed.rows_per_lane,
            "rom_lutram": self.rom_lutram,
            "fix_lanes": self.fixed.lanes,
            "sp2_lanes": self.sp2.lanes,
            "fix_lanes_alloc": self.fixed.lanes_alloc,
            "sp2_lanes_alloc": self.sp2.lanes_alloc,
            "fix_parts_alloc": self.fixed.parts_alloc,
            "sp2_parts_alloc": self.sp2.parts_alloc,
            "dsp_packed": self.pack is not None,
            "fix_pairs": self.fix_pairs,
            "fix_dsps": self.fix_dsps,
            "fix_dsps_alloc": max(1, self.fix_dsps),
            "pack_shift": self.pack.shift if self.pack else 1,
            "pack_terms": self.pack.terms if self.pack else 1,
            "pack_in_dsp": bool(self.pack and self.pack.in_dsp),
            "fix_weight_bits": self.weight_bits,
            "data_width": self.data_width,
            "data_signed": self.data_signed,
        }


def fifo_depth(packets_per_frame: int, consumer_idle: int = 0) -> int:
    """Depth of a FIFO between two streaming layers.

    Every MSQ/LQ layer consumes and produces at most one packet per cycle in scan order, so on a chain
    a FIFO only has to absorb the pipeline latency between a write and the consumer's read (a small
    constant; hls4ml's default is the whole frame) and the packets the producer may write while the
    consumer reads nothing (``consumer_idle``: a convolution's padded row). Never more than the frame.
    """
    return max(1, min(packets_per_frame, max(STREAM_DEPTH, consumer_idle)))


#: FIFO depth between layers of a chain (packets).
STREAM_DEPTH = 8


def bram18(width_bits: int, depth: int) -> int:
    """RAMB18 tiles of a ROM ``width x depth`` (7-series aspect ratios: 16Kx1 ... 512x36)."""
    if width_bits <= 0 or depth <= 0:
        return 0
    best = None
    for w, d in ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512)):
        tiles = math.ceil(width_bits / w) * math.ceil(depth / d)
        best = tiles if best is None else min(best, tiles)
    return best


def rom_luts(width_bits: int, depth: int) -> int:
    """LUT6 of a distributed ROM ``width x depth`` (a ROM64X1 per bit per 64 words)."""
    if width_bits <= 0 or depth <= 0:
        return 0
    return width_bits * math.ceil(depth / 64)


def line_buffer_row(width_bits: int, depth: int) -> dict:
    """One line-buffer row memory (one read and one write per cycle): ``{'lut': ..., 'bram18': 0}``.

    The scans bind their line buffers to distributed RAM (``BIND_STORAGE ... type=ram_s2p impl=lutram``):
    a row is ``in_width`` words deep (shallow) and ``n_chan x bits`` wide, which RAMB18 tiles would
    mostly waste. Simple dual-port distributed RAM takes 2 LUT6 per bit per 64 words (RAM64X1D).
    """
    if width_bits <= 0 or depth <= 0:
        return {"lut": 0, "bram18": 0}
    return {"lut": 2 * width_bits * math.ceil(depth / 64), "bram18": 0}


def mux_luts(width_bits: int, inputs: int) -> int:
    """LUT6 of an ``inputs``:1 multiplexer of ``width_bits`` bits (a LUT6 selects among 4, MUXF7/8 pair them)."""
    if inputs <= 1:
        return 0
    return width_bits * math.ceil(inputs / 4)

