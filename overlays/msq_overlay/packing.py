"""Fixed-point packing between float arrays and the accelerator's AXI-stream words (numpy only).

Every value travels as one stream word of ``lane_bits`` (8, 16, 32 or 64) bits holding the
two's-complement (or unsigned) code of an ``ap_fixed<width, integer, rounding, saturation>`` value::

    code = rnd(float32(x) * 2**(width - integer)), saturated to the type's range
    x    = code / 2**(width - integer)

with ``rnd`` the type's rounding: ``RND_CONV`` half to even (QKeras' ``quantized_bits`` and
``quantized_relu``), ``TRN`` floor (LQ inputs, compared with midpoints on the grid); ``SAT_SYM``
saturates to ``[-max, max]``, ``WRAP`` keeps the low bits (a type set by hand without saturation). The input type is the model's first quantizer (the build derives it),
and ``float32(x)`` is Keras' own cast, so the packed codes are exactly what Keras quantizes raw floats
to, the same rule as the C-simulation. A value already on the grid survives ``unpack(pack(x))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LANES = (8, 16, 32, 64)


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
