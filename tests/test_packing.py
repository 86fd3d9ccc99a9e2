"""Driver packing (msq_overlay.packing, numpy only): exact round trip on the grid, saturation, lanes, beats."""

from __future__ import annotations

import numpy as np
import pytest
from msq_overlay.packing import BeatFormat, FixedType, beat_format, lane_dtype, pack, pack_beats, unpack, unpack_beats

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


@pytest.mark.parametrize("t, count, expected", [
    (FixedType(6, 2), 64, (64, 8, 8, 8)),        # 8-bit lanes, 8 a beat
    (FixedType(16, 6), 10, (64, 16, 4, 3)),      # 10 values: 3 beats of 64 (5 of 32)
    (FixedType(16, 6), 2, (32, 16, 2, 1)),       # fits one 32-bit beat: the narrower on a tie
    (FixedType(8, 3, False), 3, (32, 8, 4, 1)),
    (FixedType(8, 3, False), 5, (64, 8, 8, 1)),
    (FixedType(25, 10), 7, (64, 32, 2, 4)),
    (FixedType(25, 10), 1, (32, 32, 1, 1)),
    (FixedType(40, 16), 3, (64, 64, 1, 3)),      # a 64-bit lane only fits a 64-bit beat
])
def test_beat_format_choice(t, count, expected):
    fmt = beat_format(t, count)
    assert (fmt.beat_bits, fmt.lane_bits, fmt.values_per_beat, fmt.beats_per_sample) == expected
    assert fmt.to_dict() == dict(zip(("beat_bits", "lane_bits", "values_per_beat", "beats_per_sample"), expected))
    assert fmt.bytes_per_sample == expected[0] // 8 * expected[3]


@pytest.mark.parametrize("t", TYPES, ids=str)
@pytest.mark.parametrize("count", [1, 3, 10, 64])
def test_beats_round_trip_little_endian_zero_padded(rng, t, count):
    fmt = beat_format(t, count)
    lo, hi = t.code_range
    codes = rng.integers(lo, hi + 1, size=(5, count))
    x = np.ldexp(codes.astype(np.float64), -t.frac)
    words = pack_beats(x, t, fmt)
    assert words.shape == (5, fmt.beats_per_sample) and words.dtype == fmt.dtype
    np.testing.assert_array_equal(unpack_beats(words, t, fmt), x)
    # value k of beat b in bits [k * lane, (k + 1) * lane) of the beat, the padding lanes zero
    mask = (1 << t.width) - 1
    for s in range(5):
        for i in range(fmt.beats_per_sample * fmt.values_per_beat):
            b, k = divmod(i, fmt.values_per_beat)
            lane = (int(words[s, b]) >> (k * fmt.lane_bits)) & ((1 << fmt.lane_bits) - 1)
            assert lane == (int(codes[s, i]) & mask if i < count else 0)


def test_beat_errors():
    t = FixedType(6, 2)
    fmt = beat_format(t, 10)
    with pytest.raises(ValueError, match=r"pack_beats: expected \(samples, 10\) values, got shape \(2, 9\)"):
        pack_beats(np.zeros((2, 9)), t, fmt)
    with pytest.raises(ValueError, match=r"unpack_beats: expected \(samples, 2\) beats, got shape \(2, 3\)"):
        unpack_beats(np.zeros((2, 3), dtype=np.uint64), t, fmt)
    with pytest.raises(ValueError, match=r"beat_bits must be one of \(32, 64\), got 128"):
        BeatFormat(128, 8, 16, 4)
    with pytest.raises(ValueError, match="values_per_beat must be beat_bits // lane_bits = 4, got 2"):
        BeatFormat(32, 8, 2, 4)
    with pytest.raises(ValueError, match="lane_bits must be one of .* at most beat_bits 32, got 64"):
        BeatFormat(32, 64, 0, 4)
