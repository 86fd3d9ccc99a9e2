"""SP2 above 4 bits warns (fixed point is more accurate there); one default SP2 share in the API."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from flow.models import QuantSpec
from flow.quantizers import levels, quantized_msq, quantized_sp2
from flow.quantizers.msq import DEFAULT_SP2_SHARE
from flow.quantizers.wide_sp2 import MAX_USEFUL_SP2_BITS, WideSP2Warning


@pytest.mark.parametrize("make", [lambda: quantized_sp2(5), lambda: quantized_sp2(8), lambda: quantized_msq(8, 0.6),
                                  lambda: quantized_msq(6, 0.0, row_scheme=[0, 1, 0])])
def test_wide_sp2_warns(make):
    with pytest.warns(WideSP2Warning, match=r"SP2 above 4 bits is less accurate than fixed point.*quantized_bits"):
        make()


@pytest.mark.parametrize("make", [lambda: quantized_sp2(4), lambda: quantized_msq(4, 0.6), lambda: quantized_msq(8, 0.0),
                                  lambda: quantized_msq(8, 0.6, row_scheme=[0, 0, 0])])
def test_no_warning_where_sp2_is_useful_or_absent(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error", WideSP2Warning)
        make()


def test_the_warning_states_a_measured_fact():
    """Above the threshold SP2's squared error is well above fixed point's; at it, about equal."""
    w = np.random.default_rng(0).normal(size=(256, 64)).astype(np.float32)

    def ratio(bits):
        return np.mean((levels.sp2_quantize(w, bits)[0] - w) ** 2) / np.mean((levels.fixed_quantize(w, bits)[0] - w) ** 2)

    assert ratio(MAX_USEFUL_SP2_BITS) < 1.3
    assert all(ratio(b) > 3 for b in range(MAX_USEFUL_SP2_BITS + 1, 9)) and ratio(8) > 40


def test_one_default_share():
    assert quantized_msq(4).sp2_share == QuantSpec("msq", 4).sp2_share == DEFAULT_SP2_SHARE == 0.6
