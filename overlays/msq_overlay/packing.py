"""Fixed-point packing between float arrays and the accelerator's AXI-stream words (numpy only).

Every value travels as one stream word of ``lane_bits`` (8, 16, 32 or 64) bits holding the
two's-complement (or unsigned) code of an ``ap_fixed<width, integer>`` value::

    code = round_half_even(x * 2**(width - integer)), saturated to the type's range
    x    = code / 2**(width - integer)

so a value already on the type's grid survives ``unpack(pack(x))`` unchanged, and values
beyond the range saturate to its edges (like ``AP_SAT``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LANES = (8, 16, 32, 64)


@dataclass(frozen=True)
class FixedType:
    """``ap_fixed<width, integer>`` (``signed``) or ``ap_ufixed``."""

    width: int
    integer: int
    signed: bool = True

    def __post_init__(self):
        if not 1 <= int(self.width) <= 64:
            raise ValueError(f"fixed type: width must be in [1, 64], got {self.width}")

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def code_range(self) -> tuple[int, int]:
        if self.signed:
            return -(2 ** (self.width - 1)), 2 ** (self.width - 1) - 1
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
        return {"width": int(self.width), "integer": int(self.integer), "signed": bool(self.signed)}

    @classmethod
    def from_dict(cls, data: dict) -> "FixedType":
        return cls(int(data["width"]), int(data["integer"]), bool(data["signed"]))

    def __str__(self):
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer}>"


def lane_dtype(lane_bits: int) -> np.dtype:
    if lane_bits not in LANES:
        raise ValueError(f"lane_bits must be one of {LANES}, got {lane_bits}")
    return np.dtype(f"u{lane_bits // 8}")


def pack(x, t: FixedType, lane_bits: int) -> np.ndarray:
    """Float array -> stream words (unsigned lane integers holding the codes)."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("pack: inputs contain NaN or infinity")
    lo, hi = t.code_range
    codes = np.clip(np.round(np.ldexp(x, t.frac)), lo, hi).astype(np.int64)
    mask = (1 << t.width) - 1 if t.width < 64 else -1
    return (codes & mask).astype(np.uint64).astype(lane_dtype(lane_bits))


def unpack(words, t: FixedType) -> np.ndarray:
    """Stream words -> float64 values (the low ``width`` bits, sign-extended when signed)."""
    codes = np.asarray(words).astype(np.uint64) & np.uint64((1 << t.width) - 1 if t.width < 64 else 2**64 - 1)
    codes = codes.astype(np.int64)
    if t.signed and t.width < 64:
        codes = np.where(codes >= 2 ** (t.width - 1), codes - 2**t.width, codes)
    return np.ldexp(codes.astype(np.float64), -t.frac)
