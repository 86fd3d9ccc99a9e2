"""SP2 above 4 bits: a warning, because fixed point of the same width is more accurate there.

SP2 magnitudes are sums of two powers of two, so extra bits add ever larger exponents, not
resolution. Squared weight error on Gaussian rows (256 x 64, best power-of-two scale per row),
SP2 over fixed point of the same width, measured with ``flow.quantizers.levels``::

    bits            3     4     5     6     7     8
    SP2 / fixed    1.5   1.1   3.2   3.5  10.8  43.2

At 4 bits SP2 costs almost nothing in accuracy and saves a multiplier; above, a fixed-point
row (a DSP) or fewer bits is the better choice.
"""

from __future__ import annotations

import warnings

#: The widest SP2 that is not clearly worse than fixed point of the same width.
MAX_USEFUL_SP2_BITS = 4


class WideSP2Warning(UserWarning):
    """An SP2 (or MSQ with SP2 rows) weight quantizer wider than 4 bits."""


def warn_wide_sp2(bits: int, what: str) -> None:
    """Warn when ``what`` puts weights on SP2 with more than :data:`MAX_USEFUL_SP2_BITS` bits."""
    if bits > MAX_USEFUL_SP2_BITS:
        warnings.warn(
            f"{what}: SP2 above {MAX_USEFUL_SP2_BITS} bits is less accurate than fixed point of the same width "
            f"(about 3x the squared weight error at 5-6 bits, 43x at 8); use fixed point there (quantized_bits, or "
            f"sp2_share=0), or SP2 at {MAX_USEFUL_SP2_BITS} bits",
            WideSP2Warning,
            stacklevel=3,
        )
