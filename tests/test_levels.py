"""Numpy reference of the level sets (DESIGN.md section 2)."""

from __future__ import annotations

import numpy as np
import pytest

from flow.quantizers import levels


def test_sp2_4bit_levels_match_the_definition():
    assert levels.sp2_fields(4) == (2, 1)
    np.testing.assert_array_equal(levels.sp2_levels(4), [0, 1 / 8, 1 / 4, 1 / 2, 5 / 8, 3 / 4, 1])


@pytest.mark.parametrize("bits, n_nonneg", [(3, 3), (4, 7), (5, 8), (8, 94)])
def test_sp2_level_counts(bits, n_nonneg):
    mags = levels.sp2_levels(bits)
    assert len(mags) == n_nonneg
    assert mags[0] == 0 and mags[-1] == 1
    m1, m2 = levels.sp2_fields(bits)
    assert m1 >= m2 and m1 + m2 == bits - 1


def test_sp2_canonical_codes_decode_to_their_level():
    for bits in range(3, 9):
        mags, f1, f2 = levels.sp2_table(bits)
        dec = np.where(f1 == 0, 0, 2.0 ** -f1.astype(float)) + np.where(f2 == 0, 0, 2.0 ** -f2.astype(float))
        np.testing.assert_array_equal(dec, mags)


@pytest.mark.parametrize("bits", [3, 4, 6, 8])
def test_quantized_values_lie_on_their_level_sets(bits, rng):
    w = rng.normal(0, 0.4, (30, 9))
    q, e = levels.sp2_quantize(w, bits)
    unit = np.abs(q) / np.exp2(e)
    assert np.isin(unit, levels.sp2_levels(bits)).all()
    q, e = levels.fixed_quantize(w, bits)
    k = q / np.exp2(e) * 2 ** (bits - 1)
    assert np.array_equal(k, np.round(k)) and np.abs(k).max() <= 2 ** (bits - 1) - 1


def test_best_scale_is_never_worse_than_the_covering_scale(rng):
    w = rng.standard_t(2, (64, 16)) * 0.1
    q, e = levels.sp2_quantize(w, 4)
    base = levels.candidate_exponents(w, per_row=True)
    s = np.exp2(base)
    q0 = levels.quantize_sp2_unit(w / s, 4) * s
    assert np.all(np.sum((w - q) ** 2, axis=0) <= np.sum((w - q0) ** 2, axis=0))
    assert set(np.unique(e - base)) <= {-2, -1, 0}


def test_sp2_quantization_is_nearest_level(rng):
    u = rng.uniform(-1, 1, 1000)
    q = levels.quantize_sp2_unit(u, 5)
    cand = np.concatenate([-levels.sp2_levels(5), levels.sp2_levels(5)])
    nearest = np.min(np.abs(u[:, None] - cand[None, :]), axis=1)
    np.testing.assert_allclose(np.abs(u - q), nearest)


def test_assign_rows_ranks_by_variance():
    w = np.stack([np.full(8, 0.1) * s for s in (1, -1)] + [np.linspace(-1, 1, 8) * s for s in (0.1, 1.0, 0.5)], 1)
    scheme = levels.assign_rows(w, 0.6)
    assert scheme.tolist() == [1, 1, 1, 0, 0]  # rows 0, 1 (zero variance) and 2 (small) -> SP2
    assert levels.assign_rows(w, 0.0).sum() == 0 and levels.assign_rows(w, 1.0).sum() == 5


@pytest.mark.parametrize("bad", [2, 9, 4.0, "4", True])
def test_bits_out_of_range_is_a_clear_error(bad):
    with pytest.raises((ValueError, TypeError), match="bits"):
        levels.check_bits(bad, "SP2")
