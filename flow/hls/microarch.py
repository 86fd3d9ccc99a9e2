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

    def __post_init__(self):
        check_reuse_factor(self.n_in, self.n_out, self.reuse_factor, f"layer '{self.name}'")
        if not 0 <= self.n_sp2 <= self.n_out:
            raise ValueError(f"layer '{self.name}': n_sp2 must be in [0, {self.n_out}], got {self.n_sp2}")

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

