"""Numpy reference for the level sets of the fixed-point and SP2 schemes.

Everything here is plain numpy: it is the ground truth the TensorFlow quantizers
(``flow.quantizers.tf_ops``) and the HLS encoder (``flow.hls.encode``) are tested against.

Fixed point, ``b`` bits, symmetric, power-of-two row scale ``s = 2**e``::

    w_q = s * k / 2**(b-1),   k in {-(2**(b-1) - 1), ..., 2**(b-1) - 1}

SP2 (sum of two powers of two), ``b`` bits = 1 sign + m1 + m2, ``m1 >= m2``,
``m1 + m2 = b - 1``::

    w_q = ± s * (q1 + q2),  q1 in {0, 2**-1, ..., 2**-(2**m1 - 1)},
                            q2 in {0, 2**-1, ..., 2**-(2**m2 - 1)}

A field value ``f`` of 0 encodes the level 0, ``f > 0`` encodes ``2**-f``; in hardware
``w * x = ±((x >> f1) + (x >> f2)) * s``: two shifts and one add, no multiplier.
"""

from __future__ import annotations

import functools

import numpy as np

MIN_BITS = 3
MAX_BITS = 8
#: Row-scale exponents are clamped to this range so they fit a small C++ integer.
MIN_EXP = -24
MAX_EXP = 15
#: Candidate scales tried per row: 2**(ceil(log2(max|w|)) + d) for d in SCALE_OFFSETS.
SCALE_OFFSETS = (-2, -1, 0)


def check_bits(bits: int, scheme: str, min_bits: int = MIN_BITS) -> int:
    """Validate a bit-width and return it as an int (clear error otherwise)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"{scheme}: bits must be an integer in [{min_bits}, {MAX_BITS}], got {bits!r}")
    if not min_bits <= int(bits) <= MAX_BITS:
        raise ValueError(f"{scheme}: bits must be in [{min_bits}, {MAX_BITS}], got {bits}")
    return int(bits)


def sp2_fields(bits: int) -> tuple[int, int]:
    """Split ``bits - 1`` magnitude bits into ``(m1, m2)`` with ``m1 >= m2``."""
    bits = check_bits(bits, "SP2")
    m2 = (bits - 1) // 2
    return bits - 1 - m2, m2


def _field_value(field: np.ndarray | int) -> np.ndarray:
    field = np.asarray(field)
    return np.where(field == 0, 0.0, np.exp2(-field.astype(np.float64)))


@functools.lru_cache(maxsize=None)
def sp2_table(bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct non-negative SP2 magnitudes (sorted) and a canonical (f1, f2) code for each.

    Where two codes give the same magnitude (``1/2 + 0 == 0 + 1/2``) the one with the
    smaller ``f1`` field, then smaller ``f2``, is canonical.
    """
    m1, m2 = sp2_fields(bits)
    best: dict[float, tuple[int, int]] = {}
    for f1 in range(2**m1):
        for f2 in range(2**m2):
            mag = float(_field_value(f1) + _field_value(f2))
            if mag not in best or (f1, f2) < best[mag]:
                best[mag] = (f1, f2)
    mags = np.array(sorted(best), dtype=np.float64)
    codes = np.array([best[m] for m in mags], dtype=np.int64)
    return mags, codes[:, 0], codes[:, 1]


def sp2_levels(bits: int) -> np.ndarray:
    """Sorted non-negative SP2 magnitudes, in units of the scale (``1.0`` is the largest)."""
    return sp2_table(bits)[0]


def sp2_boundaries(bits: int) -> np.ndarray:
    """Decision boundaries (midpoints between consecutive magnitudes)."""
    mags = sp2_levels(bits)
    return (mags[1:] + mags[:-1]) / 2


def fixed_max_code(bits: int) -> int:
    """Largest integer code of the symmetric fixed-point scheme: ``2**(bits-1) - 1``."""
    return 2 ** (check_bits(bits, "fixed", min_bits=2) - 1) - 1


def row_axes(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Axes reduced for per-row statistics: all but the last (output channel) axis."""
    return tuple(range(len(shape) - 1))


def quantize_fixed_unit(u: np.ndarray, bits: int) -> np.ndarray:
    """Quantize ``u = w / s`` to the fixed-point levels (round half to even, clip)."""
    kmax = fixed_max_code(bits)
    half = 2.0 ** (bits - 1)
    return np.clip(np.round(u * half), -kmax, kmax) / half


def quantize_sp2_unit(u: np.ndarray, bits: int) -> np.ndarray:
    """Quantize ``u = w / s`` to the nearest SP2 level (ties go to the larger magnitude)."""
    mags = sp2_levels(bits)
    idx = np.searchsorted(sp2_boundaries(bits), np.abs(u), side="right")
    return np.sign(u) * mags[idx]


def candidate_exponents(w: np.ndarray, per_row: bool) -> np.ndarray:
    """Base exponent ``ceil(log2(max|w|))`` per row (shape ``(n_rows,)``) or per tensor (``(1,)``)."""
    w = np.asarray(w, dtype=np.float64)
    if per_row:
        m = np.max(np.abs(w), axis=row_axes(w.shape)) if w.ndim > 1 else np.abs(w)
    else:
        m = np.array([np.max(np.abs(w))])
    return ceil_log2(np.maximum(m, 2.0**MIN_EXP))


def ceil_log2(m: np.ndarray) -> np.ndarray:
    """Smallest integer ``e`` with ``2**e >= m`` (exact for powers of two), for ``m > 0``."""
    e = np.round(np.log2(m))
    e = np.where(np.exp2(e) < m, e + 1, e)
    return np.where(np.exp2(e - 1) >= m, e - 1, e)


def best_scale_quantize(
    w: np.ndarray, quantize_unit, per_row: bool = True, offsets=SCALE_OFFSETS
) -> tuple[np.ndarray, np.ndarray]:
    """Quantize ``w`` with the power-of-two scale (per row or per tensor) of least squared error.

    Returns ``(w_q, e)`` with ``e`` the chosen exponents (``s = 2**e``), shape ``(n_rows,)``
    when ``per_row`` else ``(1,)``. Ties between candidates keep the larger scale.
    """
    w = np.asarray(w, dtype=np.float64)
    base = candidate_exponents(w, per_row)
    best_q, best_err, best_e = None, None, None
    for d in sorted(offsets, reverse=True):
        e = np.clip(base + d, MIN_EXP, MAX_EXP)
        s = np.exp2(e)
        q = quantize_unit(w / s) * s
        err = (w - q) ** 2
        err = np.sum(err, axis=row_axes(w.shape)) if per_row and w.ndim > 1 else np.atleast_1d(np.sum(err))
        if best_q is None:
            best_q, best_err, best_e = q, err, e
            continue
        better = err < best_err
        best_q = np.where(better, q, best_q)
        best_err = np.where(better, err, best_err)
        best_e = np.where(better, e, best_e)
    return best_q, best_e


def fixed_quantize(
    w: np.ndarray, bits: int, per_row: bool = True, offsets=SCALE_OFFSETS
) -> tuple[np.ndarray, np.ndarray]:
    """Reference fixed-point quantization with best power-of-two scale. Returns ``(w_q, e)``.

    ``offsets=(0,)`` is symmetric max-abs scaling: ``s = 2**ceil(log2(max|w|))``.
    """
    return best_scale_quantize(w, lambda u: quantize_fixed_unit(u, bits), per_row, offsets)


def sp2_quantize(w: np.ndarray, bits: int, per_row: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Reference SP2 quantization with best power-of-two scale. Returns ``(w_q, e)``."""
    return best_scale_quantize(w, lambda u: quantize_sp2_unit(u, bits), per_row)


def sp2_row_count(n_rows: int, sp2_share: float) -> int:
    """Number of SP2 rows for a share in [0, 1] (rounded to nearest, halves up)."""
    return int(np.floor(n_rows * float(sp2_share) + 0.5))


def assign_rows(w: np.ndarray, sp2_share: float) -> np.ndarray:
    """MSQ row assignment: the ``round(share * n)`` rows of lowest weight variance are SP2.

    Returns an int array with 1 for SP2 rows and 0 for fixed-point rows. Ties in variance
    are broken by row index (stable sort), exactly as the TensorFlow version does.
    """
    w = np.asarray(w, dtype=np.float32)
    n = w.shape[-1]
    var = np.var(w.reshape(-1, n), axis=0)
    order = np.argsort(var, kind="stable")
    scheme = np.zeros(n, dtype=np.int64)
    scheme[order[: sp2_row_count(n, sp2_share)]] = 1
    return scheme
