"""flow.hls.lq_encode: the plane decomposition the bit-plane HLS kernel uses (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from flow.hls.encode import FixedSpec
from flow.hls.lq_encode import dense_reference, encode_kernel, fixed_planes, fold_offset_plane, lq_levels
from flow.lq import reference as R


@pytest.mark.parametrize("spec", [FixedSpec(6, 2, True), FixedSpec(5, 3, False), FixedSpec(4, 4, True)])
def test_fixed_point_input_is_its_bits_plus_an_offset_plane(spec):
    """x = 2**ex (mc + sum_p mx_p e_p), e_p = +1 where bit p of the raw value is set."""
    planes = fixed_planes(spec, "x")
    lo = -(2 ** (spec.width - 1)) if spec.signed else 0
    raw = np.arange(lo, lo + 2**spec.width)
    x = raw * 2.0 ** -spec.fractional
    bits = (raw[:, None] >> np.arange(spec.width)) & 1
    e = 2 * bits - 1
    decoded = 2.0**planes.exponent * (planes.mantissa[-1] + e @ planes.mantissa[:-1])
    np.testing.assert_array_equal(decoded, x)


def test_lq_levels_are_integer_multiples_of_one_grid():
    inp = lq_levels(np.array([0.25, 0.75]), 0.5, "a")
    assert inp.exponent == -2 and list(inp.mantissa) == [1, 3, 2]
    np.testing.assert_array_equal(inp.level_values, [-0.5, 0.0, 1.0, 1.5])
    np.testing.assert_array_equal(inp.midpoints, [-0.25, 0.5, 1.25])


@pytest.mark.parametrize("kw", [1, 2, 3])
@pytest.mark.parametrize("lq_input", [True, False])
@pytest.mark.parametrize("fold", [False, True])
def test_plane_products_equal_the_matrix_product(rng, kw, lq_input, fold):
    w = rng.normal(0, 0.3, (30, 7))
    basis = R.on_grid(R.qem_fit_channels(w, kw, 3), 6)
    codes = np.stack([R.encode(w[:, j], basis[:, j]) for j in range(7)], axis=1)
    values = np.stack([R.decode(codes[:, j], basis[:, j]) for j in range(7)], axis=1)
    kernel = encode_kernel(values, codes, basis, "w")
    bias = np.round(rng.normal(0, 1, 7) * 64) / 64
    if lq_input:
        inp = lq_levels(R.on_grid(np.array([0.25, 0.5, 1.0]), 6), 0.75, "x")
        x = inp.level_values[rng.integers(0, 8, (20, 30))]
    else:
        inp = fixed_planes(FixedSpec(7, 3, True), "x")
        x = rng.integers(-64, 64, (20, 30)) / 16.0
    expected = x @ values + bias
    if fold:  # the offset plane's constant share moves into the bias, the kernel runs one plane fewer
        inp, bias = fold_offset_plane(kernel, inp, bias)
        assert not inp.offset_plane
    np.testing.assert_array_equal(dense_reference(x, kernel, inp, bias), expected)


def test_codes_that_do_not_decode_to_the_weights_are_an_internal_error():
    basis = np.array([[0.5, 0.25]])
    with pytest.raises(ValueError, match="do not decode"):
        encode_kernel(np.array([[0.5, 0.25]]), np.array([[0, 1]]), basis, "w")


def test_too_many_input_planes_are_refused():
    with pytest.raises(ValueError, match="a 30-bit input would need 30 bit-planes"):
        fixed_planes(FixedSpec(30, 10, True), "layer 'd'")
