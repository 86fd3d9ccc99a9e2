"""Fixed-point packing between float arrays and the accelerator's AXI-stream beats (numpy only).

Every value is the two's-complement (or unsigned) code of an ``ap_fixed<width, integer, rounding,
saturation>`` value in a lane of ``lane_bits`` (8, 16, 32 or 64: the width rounded up), zeros above
the width::

    code = rnd(float32(x) * 2**(width - integer)), saturated to the type's range
    x    = code / 2**(width - integer)

with ``rnd`` the type's rounding: ``RND_CONV`` half to even (QKeras' ``quantized_bits`` and
``quantized_relu``), ``TRN`` floor (LQ inputs, compared with midpoints on the grid); ``SAT_SYM``
saturates to ``[-max, max]``, ``WRAP`` keeps the low bits (a type set by hand without saturation). The input type is the model's first quantizer (the build derives it),
and ``float32(x)`` is Keras' own cast, so the packed codes are exactly what Keras quantizes raw floats
to, the same rule as the C-simulation. A value already on the grid survives ``unpack(pack(x))``.

Beats (:class:`BeatFormat`, chosen by :func:`beat_format`, the one place that decides it): a stream
beat is ``beat_bits`` (32 or 64) wide and carries ``values_per_beat = beat_bits // lane_bits`` lanes,
little-endian (value k of a beat in bits ``[k * lane_bits, (k + 1) * lane_bits)``). Each sample starts
on a new beat and its last beat is padded with zero lanes; TLAST marks the last beat of a batch.
:func:`pack_beats` / :func:`unpack_beats` convert between ``(samples, values)`` floats and
``(samples, beats_per_sample)`` beat words, the layout of the DMA buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LANES = (8, 16, 32, 64)
#: AXI-stream beat widths the accelerator top uses (a multiple of 32 bits, at most 64)
BEATS = (32, 64)


ROUNDINGS = ("RND_CONV", "TRN")
SATURATIONS = ("SAT", "SAT_SYM", "WRAP")


@dataclass(frozen=True)
class FixedType:
    """``ap_fixed<width, integer, rounding, saturation>`` (``signed``) or ``ap_ufixed``."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "RND_CONV"
    saturation: str = "SAT"

    def __post_init__(self):
        if not 1 <= int(self.width) <= 64:
            raise ValueError(f"fixed type: width must be in [1, 64], got {self.width}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"fixed type: rounding must be one of {ROUNDINGS}, got {self.rounding!r}")
        if self.saturation not in SATURATIONS:
            raise ValueError(f"fixed type: saturation must be one of {SATURATIONS}, got {self.saturation!r}")

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def code_range(self) -> tuple[int, int]:
        if self.signed:
            hi = 2 ** (self.width - 1) - 1
            return (-hi if self.saturation == "SAT_SYM" else -hi - 1), hi
        return 0, 2**self.width - 1

    @property
    def value_range(self) -> tuple[float, float]:
        lo, hi = self.code_range
        return lo * 2.0**-self.frac, hi * 2.0**-self.frac

    def lane_bits(self) -> int:
        """The smallest stream lane that holds the type."""
        for lane in LANES:
            if self.width <= lane:
                return lane
        raise ValueError(f"fixed type of {self.width} bits does not fit a 64-bit lane")

    def to_dict(self) -> dict:
        return {
            "width": int(self.width), "integer": int(self.integer), "signed": bool(self.signed),
            "rounding": self.rounding, "saturation": self.saturation,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "FixedType":
        return cls(
            int(data["width"]), int(data["integer"]), bool(data["signed"]),
            str(data.get("rounding", "RND_CONV")), str(data.get("saturation", "SAT")),
        )

    def __str__(self):
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer},AP_{self.rounding},AP_{self.saturation}>"


def lane_dtype(lane_bits: int) -> np.dtype:
    if lane_bits not in LANES:
        raise ValueError(f"lane_bits must be one of {LANES}, got {lane_bits}")
    return np.dtype(f"u{lane_bits // 8}")


def quantize_codes(x, t: FixedType) -> np.ndarray:
    """Float array -> integer codes of type ``t`` by its rounding and saturation, through float32
    (what Keras does to raw float inputs; the C-simulation bridge does the same)."""
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("pack: inputs contain NaN or infinity")
    scaled = np.ldexp(x, t.frac)
    rounded = np.floor(scaled) if t.rounding == "TRN" else np.round(scaled)  # np.round: half to even
    lo, hi = t.code_range
    if t.saturation == "WRAP":
        span = float(2**t.width)
        return (np.mod(rounded - lo, span) + lo).astype(np.int64)
    return np.clip(rounded, lo, hi).astype(np.int64)


def pack(x, t: FixedType, lane_bits: int) -> np.ndarray:
    """Float array -> stream words (unsigned lane integers holding the codes of :func:`quantize_codes`)."""
    codes = quantize_codes(x, t)
    mask = (1 << t.width) - 1 if t.width < 64 else -1
    return (codes & mask).astype(np.uint64).astype(lane_dtype(lane_bits))


def unpack(words, t: FixedType) -> np.ndarray:
    """Stream words -> float64 values (the low ``width`` bits, sign-extended when signed)."""
    codes = np.asarray(words).astype(np.uint64) & np.uint64((1 << t.width) - 1 if t.width < 64 else 2**64 - 1)
    codes = codes.astype(np.int64)
    if t.signed and t.width < 64:
        codes = np.where(codes >= 2 ** (t.width - 1), codes - 2**t.width, codes)
    return np.ldexp(codes.astype(np.float64), -t.frac)


@dataclass(frozen=True)
class BeatFormat:
    """How ``count`` values of a sample travel in AXI-stream beats (see the module docstring)."""

    beat_bits: int
    lane_bits: int
    values_per_beat: int
    count: int

    def __post_init__(self):
        if self.beat_bits not in BEATS:
            raise ValueError(f"beat_bits must be one of {BEATS}, got {self.beat_bits!r}")
        if self.lane_bits not in LANES or self.lane_bits > self.beat_bits:
            raise ValueError(f"lane_bits must be one of {LANES} and at most beat_bits {self.beat_bits}, got {self.lane_bits!r}")
        if self.values_per_beat != self.beat_bits // self.lane_bits:
            raise ValueError(f"values_per_beat must be beat_bits // lane_bits = {self.beat_bits // self.lane_bits}, "
                             f"got {self.values_per_beat!r}")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ValueError(f"count (values per sample) must be a positive integer, got {self.count!r}")

    @property
    def beats_per_sample(self) -> int:
        return -(-self.count // self.values_per_beat)

    @property
    def bytes_per_sample(self) -> int:
        return self.beats_per_sample * self.beat_bits // 8

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of one beat (little-endian, as the DMA writes memory)."""
        return np.dtype(f"<u{self.beat_bits // 8}")

    def to_dict(self) -> dict:
        return {"beat_bits": self.beat_bits, "lane_bits": self.lane_bits, "values_per_beat": self.values_per_beat,
                "beats_per_sample": self.beats_per_sample}


def beat_format(t: FixedType, count: int) -> BeatFormat:
    """The beat format of a sample of ``count`` values of type ``t``: lanes of ``t.lane_bits()``, and the
    beat width (32 or 64) that takes the fewest beats per sample, the narrower on a tie (a sample that
    fits one 32-bit beat uses 32 bits, anything larger 64). The single source of the choice: the build
    writes it into the C++ config, the Tcl (DMA stream widths) and the manifest, which the driver and
    ``SimDevice`` follow."""
    lane = t.lane_bits()
    options = [b for b in BEATS if b >= lane]
    beat = min(options, key=lambda b: (-(-int(count) // (b // lane)), b))
    return BeatFormat(beat, lane, beat // lane, int(count))


def pack_beats(x, t: FixedType, fmt: BeatFormat) -> np.ndarray:
    """Floats ``(samples, count)`` -> beat words ``(samples, beats_per_sample)`` of dtype ``fmt.dtype``."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != fmt.count:
        raise ValueError(f"pack_beats: expected (samples, {fmt.count}) values, got shape {x.shape}")
    lanes = np.zeros((len(x), fmt.beats_per_sample * fmt.values_per_beat), dtype=np.dtype(f"<u{fmt.lane_bits // 8}"))
    lanes[:, : fmt.count] = pack(x, t, fmt.lane_bits)  # padding lanes stay zero
    return np.ascontiguousarray(lanes).view(fmt.dtype)


def unpack_beats(words, t: FixedType, fmt: BeatFormat) -> np.ndarray:
    """Beat words ``(samples, beats_per_sample)`` -> float64 values ``(samples, count)`` (padding dropped)."""
    words = np.ascontiguousarray(np.asarray(words).astype(fmt.dtype, copy=False))
    if words.ndim != 2 or words.shape[1] != fmt.beats_per_sample:
        raise ValueError(f"unpack_beats: expected (samples, {fmt.beats_per_sample}) beats, got shape {words.shape}")
    lanes = words.view(np.dtype(f"<u{fmt.lane_bits // 8}"))
    return unpack(lanes[:, : fmt.count], t)
