"""The micro-architecture of the LQ / binary bit-plane kernels: one description, read by the C++
config writer (``flow/hls/lq_templates.py``), the weight layout (``flow/hls/lq_layers.py``) and the
estimator (``flow/resources/lq.py``). The MSQ counterpart is :mod:`flow.hls.microarch`.

Pure Python: no hls4ml, no TensorFlow.

**Lanes fold rows** (``nnet_lq_dense.h``). A layer of ``n_out`` rows at reuse factor ``RF``
(``1 <= RF <= n_out``) has ``lanes = ceil(n_out / RF)``; lane ``l`` computes row ``l * RF + c`` at
cycle ``c`` of the reuse loop (``PIPELINE II=1``), every product of that row in that cycle. When
``RF`` does not divide ``n_out`` the last lane idles on ``lanes * RF - n_out`` padded zero rows.

**Row words.** Row ``j``'s ``n_in`` codes of ``kw`` bits are packed into ``segments`` words of
``seg_inputs`` inputs each, plane-major (bit ``q * seg_inputs + t`` is weight plane ``q`` of input
``s * seg_inputs + t`` of segment ``s``): ``weight_t = ap_uint<kw * seg_inputs>``, at most
:data:`SEGMENT_BITS` bits, so one segment is one XNOR-popcount block per plane pair and every word
is an exact decimal literal in hls4ml's weight files (``.h`` for synthesis, ``.txt`` for C-simulation;
hls4ml prints integers through a float64, exact below 2**53). A row of at most
``SEGMENT_BITS`` bits is one word: ``ap_uint<n_in * kw>``.

**ROMs** (Resource strategy). The generator writes the words in lane order: element
``(l * segments + s) * RF + c`` is segment ``s`` of lane ``l``'s row at cycle ``c``, i.e. of row
``l * RF + c``. ``ARRAY_RESHAPE block factor=lanes*segments`` makes that ROM word ``c``:
``lanes * segments * kw * seg_inputs`` bits wide, ``RF`` deep, one word per cycle (BRAM, as the MSQ
weights). The per-row basis mantissas (``kw`` per row) and integer biases are laid out the same way
(``(l * kw + q) * RF + c`` and ``l * RF + c``) in two small ROMs in LUTRAM.

**Per-row scale.** Each row's power of two is folded into its basis mantissas at conversion
(``flow.hls.lq_encode.fold_row_scales``): the lanes multiply by the run-time mantissa (a LUT
multiplier, ``BIND_OP impl=fabric``; a constant multiple in the Latency strategy, where rows are
compile-time), add the row's integer bias, and the output is the integer times one constant
power of two (wiring). No run-time shifter, no multiplexer on a row index.

**Cycles.** Dense: ``RF + LQ_DENSE_DEPTH``. A convolution scans its padded input
(``padded_height x padded_width`` positions, :class:`flow.hls.microarch.ConvScan`), one reuse pass
(``RF`` cycles) per position, plus ``LQ_SCAN_DEPTH``; its line buffer holds
``(filt_height - 1) x in_width x n_chan`` input codes of ``kx`` bits (codes, not values: each pixel
is encoded once, when it enters). The depths are estimates (ROM read, popcount tree, basis product,
accumulation), to be checked against csynth.
"""

from __future__ import annotations

from dataclasses import dataclass

from flow.hls.microarch import ConvScan, bram18, rom_luts, scan_cycles

#: Widest ROM segment (bits): exact through hls4ml's float64 printing of weights, one popcount block.
SEGMENT_BITS = 48
#: Pipeline depth of the reuse loop: ROM read, XNOR-popcount tree, constant multiples, basis product,
#: accumulation and output register (estimate; csynth reports the real figure).
LQ_DENSE_DEPTH = 6
#: Extra cycles of a convolution's scan after its last pixel (estimate, as LQ_DENSE_DEPTH).
LQ_SCAN_DEPTH = 6
#: Distributed ROM: LUT6 primitives hold 64 x 1 bits.


def valid_reuse_factors(n_out: int) -> list[int]:
    """Reuse factors without padded rows (RF divides n_out)."""
    return [d for d in range(1, n_out + 1) if n_out % d == 0]


def check_lq_reuse_factor(n_out: int, reuse_factor, where: str) -> None:
    """``1 <= RF <= n_out``; an invalid one is refused naming the valid range and the exact divisors."""
    if isinstance(reuse_factor, bool) or not isinstance(reuse_factor, int) or not 1 <= reuse_factor <= n_out:
        raise ValueError(
            f"{where}: ReuseFactor {reuse_factor!r} is not valid for an LQ layer of {n_out} output rows (its lanes "
            f"fold rows); use 1..{n_out} (without idle padded rows: {', '.join(map(str, valid_reuse_factors(n_out)))})"
        )


@dataclass(frozen=True)
class LQRows:
    """Everything the C++ config, the weight layout and the estimator share about one LQ layer.

    ``kx`` counts the input planes the kernel runs (the offset plane only when some input is
    padded), ``basis_bits``/``bias_bits`` the widths of the folded per-row mantissas and integer
    biases (the estimator, which does not fold, passes its own estimates).
    """

    name: str
    n_in: int
    n_out: int
    kx: int
    kw: int
    reuse_factor: int
    strategy: str = "latency"
    scan: ConvScan | None = None
    basis_bits: int = 8
    bias_bits: int = 16

    def __post_init__(self):
        if min(self.n_in, self.n_out, self.kx, self.kw) < 1:
            raise ValueError(f"layer '{self.name}': sizes and planes must be positive")
        check_lq_reuse_factor(self.n_out, self.reuse_factor, f"layer '{self.name}'")

    @property
    def lanes(self) -> int:
        return -(-self.n_out // self.reuse_factor)

    @property
    def rows_alloc(self) -> int:
        """Rows the ROMs hold: ``lanes * RF`` (zero rows past n_out)."""
        return self.lanes * self.reuse_factor

    @property
    def padded_rows(self) -> int:
        return self.rows_alloc - self.n_out

    @property
    def seg_inputs(self) -> int:
        return min(self.n_in, max(1, SEGMENT_BITS // self.kw))

    @property
    def segments(self) -> int:
        return -(-self.n_in // self.seg_inputs)

    @property
    def segment_bits(self) -> int:
        return self.kw * self.seg_inputs

    @property
    def row_bits(self) -> int:
        """Bits of one packed row (its segments, the last one zero-padded)."""
        return self.segments * self.segment_bits

    @property
    def rom(self) -> bool:
        """Codes in ROM (Resource) or constants in logic (Latency)."""
        return self.strategy == "resource"

    @property
    def rom_shape(self) -> tuple[int, int]:
        """(word width in bits, depth in words) of the code ROM: one word per reuse cycle."""
        return self.lanes * self.row_bits, self.reuse_factor

    @property
    def basis_rom_shape(self) -> tuple[int, int]:
        return self.lanes * self.kw * self.basis_bits, self.reuse_factor

    @property
    def bias_rom_shape(self) -> tuple[int, int]:
        return self.lanes * self.bias_bits, self.reuse_factor

    @property
    def rom_bram18(self) -> int:
        """RAMB18 tiles of the code ROM (0 for constant weights)."""
        return bram18(*self.rom_shape) if self.rom else 0

    @property
    def param_rom_luts(self) -> int:
        """LUTs of the basis and bias ROMs (0 for constant weights)."""
        return rom_luts(*self.basis_rom_shape) + rom_luts(*self.bias_rom_shape) if self.rom else 0

    @property
    def pixels(self) -> int:
        """Reuse passes per input: 1 for Dense, every padded position for a convolution."""
        return self.scan.padded_pixels if self.scan else 1

    @property
    def cycles(self) -> int:
        """Cycles per input (Dense: one vector, convolution: one frame)."""
        return scan_cycles(self.scan, self.reuse_factor, LQ_DENSE_DEPTH, LQ_SCAN_DEPTH)

    @property
    def line_buffer_bits(self) -> int:
        """Bits of a convolution's line buffer (codes of ``kx`` planes; 0 for Dense)."""
        return self.scan.line_buffer_values * self.kx if self.scan else 0

    def config_values(self) -> dict:
        """The members of ``lq_dense_config`` that this description decides."""
        width, depth = self.rom_shape
        return {
            "reuse_factor": self.reuse_factor,
            "lanes": self.lanes,
            "seg_inputs": self.seg_inputs,
            "segments": self.segments,
            "code_words": self.lanes * self.segments,
            "basis_words": self.lanes * self.kw,
            "rom_width": width,
            "rom_depth": depth,
        }

    def _lane_order(self, values, per_row: int):
        """``values (n_out, per_row)`` as the flat array the kernel reads: element ``(l * per_row + k) * RF + c``
        is item ``k`` of row ``l * RF + c`` (zero for padded rows)."""
        import numpy as np

        v = np.asarray(values).reshape(self.n_out, per_row)
        rows = np.zeros((self.rows_alloc, per_row), dtype=v.dtype if v.size else np.int64)
        rows[: self.n_out] = v
        # rows[l * RF + c, k] -> out[l, k, c]
        out = rows.reshape(self.lanes, self.reuse_factor, per_row).transpose(0, 2, 1)
        return out.reshape(-1)

    def pack_rows(self, codes):
        """Codes ``(n_out, n_in)`` (``kw`` bits each) as ``(n_out, segments)`` words, plane-major per segment."""
        import numpy as np

        c = np.asarray(codes, dtype=np.int64).reshape(self.n_out, self.n_in)
        s_in = self.seg_inputs
        padded = np.zeros((self.n_out, self.segments * s_in), dtype=np.int64)
        padded[:, : self.n_in] = c
        seg = padded.reshape(self.n_out, self.segments, s_in)
        words = np.zeros((self.n_out, self.segments), dtype=np.int64)
        for q in range(self.kw):
            bits = (seg >> q) & 1
            for t in range(s_in):
                words |= bits[:, :, t] << (q * s_in + t)
        return words

    def code_layout(self, codes):
        """The code ROM as the kernel reads it (element ``(l * segments + s) * RF + c``)."""
        return self._lane_order(self.pack_rows(codes), self.segments)

    def basis_layout(self, basis):
        """Folded mantissas ``(kw, n_out)`` in lane order (element ``(l * kw + q) * RF + c``)."""
        import numpy as np

        return self._lane_order(np.asarray(basis).reshape(self.kw, self.n_out).T, self.kw)

    def bias_layout(self, bias):
        """Integer biases ``(n_out,)`` in lane order (element ``l * RF + c``)."""
        return self._lane_order(bias, 1)
