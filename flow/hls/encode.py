"""Encode a row-quantized kernel for the MSQ HLS kernel and size every fixed-point type exactly.

Pure numpy: no hls4ml, no TensorFlow. Row ``j`` of a kernel ``W`` (``n_in x n_out``) is

* fixed point: ``W[:, j] = k[:, j] * 2**shift_j`` with integer mantissas ``k`` of ``bits`` bits,
  computed on DSP multipliers (``x * k``), then shifted by ``shift_j = e_j - (bits - 1)``;
* SP2: ``W[:, j] = ±(2**-f1 + 2**-f2) * 2**shift_j`` with ``shift_j = e_j``, computed as
  ``±((x >> f1) + (x >> f2))`` (a field of 0 means the term is zero), in LUTs;
* fixed point with a real scale (``quantized_symmetric(scale='real')``):
  ``W[:, j] = k[:, j] * c_j * 2**shift_j`` with ``bits``-bit mantissas ``k`` and an odd integer
  multiplier ``c_j``. A fixed row whose weights are not ``bits``-bit mantissas times a power of two is
  factored this way from its values alone: ``g`` = the gcd of the row's weights as integers on their
  finest grid, ``k = w / g``, ``c_j`` = the odd part of ``g``, ``shift_j`` its power of two (an error if
  ``k`` does not fit ``bits`` bits). ``DenseEncoding.multiplier`` holds ``c``; the kernel computes the
  rows without it, and backend 'MSQ' applies ``c_j`` once per output after the accumulator
  (:mod:`flow.hls.row_scale`). Power-of-two rows are encoded exactly as before (multiplier 1).

The accumulators never round: every width below is derived from the actual weights and the
input type so that the C++ result equals the exact real-valued ``x @ W + b``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flow.quantizers import levels
from flow.quantizers.base import FIXED, SP2, RowEncoding

MAX_FRACTIONAL_BITS = 48


@dataclass(frozen=True)
class FixedSpec:
    """An ``ap_fixed<width, integer>`` (signed) or ``ap_ufixed`` type."""

    width: int
    integer: int
    signed: bool = True

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    def cpp(self) -> str:
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer}>"

    def max_abs(self) -> float:
        """An upper bound of ``|x|`` for any value of the type."""
        return 2.0 ** (self.integer - 1) if self.signed else 2.0**self.integer

    def as_signed(self) -> FixedSpec:
        return self if self.signed else FixedSpec(self.width + 1, self.integer + 1, True)


def signed_integer_bits(bound: float) -> int:
    """Integer bits (sign included) of a signed type that holds every value in [-bound, bound]."""
    if bound <= 0:
        return 1
    return int(math.floor(math.log2(bound))) + 2


def fractional_bits(values: np.ndarray, what: str) -> int:
    """Fewest fractional bits that represent every value exactly (error if more than 48)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    for f in range(MAX_FRACTIONAL_BITS + 1):
        scaled = values * 2.0**f
        if np.all(scaled == np.round(scaled)):
            return f
    raise ValueError(
        f"{what}: values need more than {MAX_FRACTIONAL_BITS} fractional bits to be exact in fixed point; "
        "quantize them (e.g. bias_quantizer=quantized_bits(8, 3, alpha=1))"
    )


def exact_spec(values: np.ndarray, what: str) -> FixedSpec:
    """Narrowest signed fixed type holding ``values`` exactly."""
    values = np.asarray(values, dtype=np.float64)
    frac = fractional_bits(values, what)
    integer = signed_integer_bits(float(np.max(np.abs(values))) if values.size else 0.0)
    return FixedSpec(integer + frac, integer)


@dataclass(frozen=True)
class DenseEncoding:
    """Integer arrays and per-row tables of one row-quantized Dense kernel."""

    bits: int
    m1: int
    m2: int
    fix_rows: np.ndarray  # output index of each fixed row
    sp2_rows: np.ndarray  # output index of each SP2 row
    fix_weights: np.ndarray  # (n_fix, n_in) signed mantissas
    sp2_codes: np.ndarray  # (n_sp2, n_in) codes [sign | f1 | f2]
    sp2_mags: np.ndarray  # (n_sp2, n_in) magnitudes 2**-f1 + 2**-f2 (for sizing)
    shift: np.ndarray  # (n_out,) power-of-two exponent applied after accumulation
    #: (n_out,) odd integer applied after the shift (real-scale fixed rows), None when every row's is 1
    multiplier: np.ndarray | None = None

    @property
    def n_in(self) -> int:
        return int(self.fix_weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(len(self.shift))


def _factor_row(values: np.ndarray, bits: int) -> tuple[np.ndarray, int, int]:
    """``values = k * c * 2**shift`` with ``c`` odd and ``k`` the row divided by the gcd ``c * 2**shift``."""
    frac = fractional_bits(values, "fixed row")
    ints = values * 2.0**frac
    if np.max(np.abs(ints), initial=0) >= 2.0**53:
        raise ValueError("fixed rows: weights span more than 53 bits (internal error)")
    ints = ints.astype(np.int64)
    g = int(np.gcd.reduce(np.abs(ints))) if ints.size else 0
    if g == 0:
        return np.zeros(values.shape, np.int64), 1, 0
    twos = (g & -g).bit_length() - 1
    k = ints // g
    if np.max(np.abs(k)) > 2 ** (bits - 1):
        raise ValueError(
            f"fixed rows: weights are neither {bits}-bit mantissas times a power of two nor times an integer "
            "multiplier (internal error)"
        )
    return k, g >> twos, twos - frac


def _encode_fixed(values: np.ndarray, exponent: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mantissas ``(n_rows, n_in)``, shifts and multipliers (1 for power-of-two rows) of the fixed rows."""
    shift = exponent - (bits - 1)
    mant = values / np.exp2(shift)[None, :]
    k = np.round(mant)
    multiplier = np.ones(values.shape[1], np.int64)
    po2 = np.all(k == mant, axis=0) & (np.max(np.abs(k), axis=0, initial=0) <= 2 ** (bits - 1))
    for j in np.flatnonzero(~po2):  # a real scale: factor the row's integer multiplier out
        k[:, j], multiplier[j], shift[j] = _factor_row(values[:, j], bits)
    return k.astype(np.int64).T, shift, multiplier


def _sp2_fields(bits: int, n_sp2: int) -> tuple[int, int]:
    """SP2 field widths; a kernel without SP2 rows (possibly 2-bit) gets unused placeholders."""
    return levels.sp2_fields(bits) if n_sp2 else levels.sp2_fields(max(bits, levels.MIN_BITS))


def _encode_sp2(values: np.ndarray, exponent: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    if values.shape[1] == 0:
        return np.zeros((0, values.shape[0]), np.int64), np.zeros((0, values.shape[0]))
    m1, m2 = levels.sp2_fields(bits)
    mags, f1, f2 = levels.sp2_table(bits)
    unit = np.abs(values) / np.exp2(exponent)[None, :]
    idx = np.searchsorted(mags, unit)
    idx = np.minimum(idx, len(mags) - 1)
    if not np.array_equal(mags[idx], unit):
        raise ValueError("SP2 rows: weights are not on the SP2 level set of their row scale (internal error)")
    sign = (values < 0).astype(np.int64)
    codes = (sign << (m1 + m2)) | (f1[idx] << m2) | f2[idx]
    return codes.T, mags[idx].T


def encode_dense(enc: RowEncoding) -> DenseEncoding:
    """Split a quantized kernel ``(n_in, n_out)`` into fixed mantissas and SP2 codes."""
    values = np.asarray(enc.values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"encode_dense expects a 2-D kernel (n_in, n_out), got shape {values.shape}")
    scheme = np.asarray(enc.scheme)
    fix_rows = np.flatnonzero(scheme == FIXED)
    sp2_rows = np.flatnonzero(scheme == SP2)
    exponent = np.asarray(enc.exponent, dtype=np.int64)
    shift = exponent.copy()
    kf, shift_f, mult_f = _encode_fixed(values[:, fix_rows], exponent[fix_rows], enc.bits)
    shift[fix_rows] = shift_f
    multiplier = np.ones(len(shift), np.int64)
    multiplier[fix_rows] = mult_f
    codes, mags = _encode_sp2(values[:, sp2_rows], exponent[sp2_rows], enc.bits)
    m1, m2 = _sp2_fields(enc.bits, len(sp2_rows))
    return DenseEncoding(
        enc.bits, m1, m2, fix_rows, sp2_rows, kf, codes, mags, shift, multiplier if np.any(multiplier != 1) else None
    )


def without_multiplier(d: DenseEncoding) -> tuple[DenseEncoding, np.ndarray | None]:
    """``(the kernel without its row multipliers, the multipliers or None)``: the kernel computes
    ``x @ W / c``, and ``c`` is applied after it (:mod:`flow.hls.row_scale`)."""
    import dataclasses

    return dataclasses.replace(d, multiplier=None), d.multiplier


def decode_dense(d: DenseEncoding) -> np.ndarray:
    """Inverse of :func:`encode_dense` (numpy reference of what the kernel and its row multipliers compute with)."""
    w = np.zeros((d.n_in, d.n_out))
    w[:, d.fix_rows] = d.fix_weights.T * np.exp2(d.shift[d.fix_rows])[None, :]
    sign = np.where((d.sp2_codes >> (d.m1 + d.m2)) & 1, -1.0, 1.0)
    w[:, d.sp2_rows] = (sign * d.sp2_mags).T * np.exp2(d.shift[d.sp2_rows])[None, :]
    return w if d.multiplier is None else w * d.multiplier[None, :]


@dataclass(frozen=True)
class DenseTypes:
    """Every C++ type of one MSQ Dense layer, sized so that nothing rounds or overflows."""

    fix_weight: str
    sp2_weight: str
    fix_prod: FixedSpec
    fix_accum: FixedSpec
    sp2_data: FixedSpec
    sp2_term: FixedSpec
    sp2_accum: FixedSpec
    out_accum: FixedSpec
    result: FixedSpec


def size_types(d: DenseEncoding, data: FixedSpec, bias: np.ndarray, bias_spec: FixedSpec) -> DenseTypes:
    """Exact widths for input type ``data`` (its max |x| bounds every product)."""
    if d.multiplier is not None:
        raise ValueError(
            "size_types: this kernel has row multipliers (a real scale); size the kernel without them "
            "(without_multiplier) and apply them after it (flow.hls.row_scale)"
        )
    xs = data.as_signed()
    xmax = data.max_abs()
    max_shift = 2**d.m1 - 1
    fix_bound = float(np.max(np.sum(np.abs(d.fix_weights), axis=1), initial=0.0)) * xmax
    sp2_bound = float(np.max(np.sum(d.sp2_mags, axis=1), initial=0.0)) * xmax
    fix_accum = FixedSpec(signed_integer_bits(fix_bound) + data.fractional, signed_integer_bits(fix_bound))
    sp2_int = signed_integer_bits(sp2_bound)
    sp2_accum = FixedSpec(sp2_int + data.fractional + max_shift, sp2_int)

    row_abs = np.zeros(d.n_out)
    row_abs[d.fix_rows] = np.sum(np.abs(d.fix_weights), axis=1) * np.exp2(d.shift[d.fix_rows])
    row_abs[d.sp2_rows] = np.sum(d.sp2_mags, axis=1) * np.exp2(d.shift[d.sp2_rows])
    out_bound = float(np.max(row_abs * xmax + np.abs(bias), initial=0.0))
    acc_frac = np.zeros(d.n_out, dtype=np.int64)
    acc_frac[d.fix_rows] = data.fractional
    acc_frac[d.sp2_rows] = data.fractional + max_shift
    res_frac = max(0, int(np.max(acc_frac - d.shift, initial=0)), bias_spec.fractional)
    res_int = signed_integer_bits(out_bound)
    result = FixedSpec(res_int + res_frac, res_int)
    union_frac = max(res_frac, fix_accum.fractional, sp2_accum.fractional)
    union_int = max(res_int, fix_accum.integer, sp2_accum.integer)
    return DenseTypes(
        fix_weight=f"ap_int<{d.bits}>",
        sp2_weight=f"ap_uint<{d.bits}>",
        fix_prod=FixedSpec(xs.width + d.bits, xs.integer + d.bits),
        fix_accum=fix_accum,
        sp2_data=FixedSpec(xs.width + max_shift, xs.integer),
        sp2_term=FixedSpec(xs.width + max_shift + 1, xs.integer + 1),
        sp2_accum=sp2_accum,
        out_accum=FixedSpec(union_int + union_frac, union_int),
        result=result,
    )

