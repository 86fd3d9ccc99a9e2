"""Encoding of row-quantized kernels and exact sizing of the C++ types (no C++ involved)."""

from __future__ import annotations

import numpy as np
import pytest

from flow.hls.encode import FixedSpec, decode_dense, encode_dense, exact_spec, signed_integer_bits, size_types
from flow.quantizers import quantized_msq


@pytest.mark.parametrize("bits", [3, 4, 6, 8])
@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_encode_decode_round_trip(bits, share, rng):
    w = rng.normal(0, 0.2, (24, 10)) * rng.uniform(0.05, 2, 10)
    q = quantized_msq(bits, share)
    q.assign_rows(w)
    enc = q.encode(w)
    d = encode_dense(enc)
    np.testing.assert_array_equal(decode_dense(d), enc.values)
    assert len(d.fix_rows) + len(d.sp2_rows) == 10
    assert d.sp2_codes.max(initial=0) < 2**bits and d.sp2_codes.min(initial=0) >= 0
    assert np.abs(d.fix_weights).max(initial=0) <= 2 ** (bits - 1) - 1


def test_sized_types_hold_every_exact_result(rng):
    w = rng.normal(0, 0.3, (16, 8))
    q = quantized_msq(4, 0.5)
    q.assign_rows(w)
    d = encode_dense(q.encode(w))
    data = FixedSpec(8, 3, True)
    bias = np.round(rng.normal(0, 1, 8) * 16) / 16
    types = size_types(d, data, bias, exact_spec(bias, "bias"))
    x = np.round(rng.uniform(-4, 4 - 1 / 32, (500, 16)) * 32) / 32
    y = x @ decode_dense(d) + bias
    scaled = y * 2.0**types.result.fractional
    assert np.array_equal(scaled, np.round(scaled)), "result type lacks fractional bits"
    assert np.abs(y).max() < 2.0 ** (types.result.integer - 1)


def test_helpers():
    assert signed_integer_bits(0) == 1 and signed_integer_bits(1) == 2 and signed_integer_bits(3.9) == 3
    assert exact_spec(np.array([0.375, -1.5]), "x") == FixedSpec(5, 2)
    with pytest.raises(ValueError, match="fractional bits"):
        exact_spec(np.array([0.1]), "bias")
