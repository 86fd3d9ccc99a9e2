"""Driver packing (msq_overlay.packing, numpy only): exact round trip on the grid, saturation, lanes."""

from __future__ import annotations

import numpy as np
import pytest
from msq_overlay.packing import FixedType, lane_dtype, pack, unpack

TYPES = [FixedType(6, 2), FixedType(8, 3, False), FixedType(16, 6), FixedType(13, -2), FixedType(25, 10), FixedType(4, 6)]


@pytest.mark.parametrize("t", TYPES, ids=str)
def test_round_trip_on_grid_and_lanes(rng, t):
    lo, hi = t.code_range
    codes = rng.integers(lo, hi + 1, size=1000)
    codes[:2] = lo, hi  # both edges
    x = np.ldexp(codes.astype(np.float64), -t.frac)
    words = pack(x, t, t.lane_bits())
    assert words.dtype == lane_dtype(t.lane_bits()) and t.width <= t.lane_bits()
    np.testing.assert_array_equal(unpack(words, t), x)


@pytest.mark.parametrize("t", TYPES, ids=str)
def test_saturation_and_rounding(t):
    lo, hi = t.value_range
    step = 2.0**-t.frac
    x = np.array([hi + 100 * step, lo - 100 * step, hi, lo, 0.5 * step, 1.5 * step, -0.5 * step])
    got = unpack(pack(x, t, t.lane_bits()), t)
    expected = [hi, lo, hi, lo, 0.0, 2 * step if 2 * step <= hi else hi, 0.0]  # half to even, clipped
    np.testing.assert_array_equal(got, np.array(expected))


def test_signed_codes_use_twos_complement_in_the_lane():
    t = FixedType(6, 2)
    assert pack(np.array([-0.0625, -2.0, 1.9375]), t, 8).tolist() == [0x3F, 0x20, 0x1F]
    assert unpack(np.array([0x3F, 0xFF], dtype=np.uint8), t).tolist() == [-0.0625, -0.0625]  # bits above width ignored


def test_errors():
    with pytest.raises(ValueError, match="NaN or infinity"):
        pack(np.array([np.nan]), FixedType(8, 2), 8)
    with pytest.raises(ValueError, match="lane_bits must be one of"):
        lane_dtype(12)
    with pytest.raises(ValueError, match="width must be in"):
        FixedType(0, 0)
