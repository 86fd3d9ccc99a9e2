"""Encode LQ (learned-basis) and binary layers for the bit-plane HLS kernel; size its types exactly.

Pure numpy. An LQ kernel row ``j`` is ``w_ij = sum_q aw_qj ew_qij`` with signs ``ew in {-1, +1}``
(bit ``q`` of the code ``wc_ij`` is 1 for +1) and a basis on a power-of-two grid,
``aw_qj = mw_qj * 2**ew_j`` (integer mantissas ``mw``). Every input is written the same way,
with one extra *offset plane* whose sign is always +1::

    x_i = 2**ex * (mc + sum_p mx_p ex_pi)

* an LQ input (the output of ``QActivation(quantized_lq)``): ``mx`` its basis mantissas and
  ``mc`` its offset; the kernel finds the code of ``x_i`` by comparing with the midpoints
  between sorted levels;
* a fixed-point input of ``B`` bits, ``F`` fractional: its two's-complement bits are the planes,
  ``2 X = sum_p s_p 2**p e_p + C`` with ``s_p = -1`` for a sign bit, ``C = sum_p s_p 2**p``,
  so ``mx_p = s_p 2**p``, ``mc = C`` and ``ex = -F - 1``.

Then ``y_j = b_j + 2**(ex + ew_j) * acc_j`` with the integer

    acc_j = sum_q mw_qj sum_p mx_p (n - 2 popcount(bx_p XOR bw_qj))      (p over all planes)

The C++ does not shift per row: :func:`fold_row_scales` puts every row on one grid ``2**E``
(``E = min(0, min_j (ex + ew_j), -bias fractional bits)``), so that

    y_j = 2**E * (B_j + sum_q mw'_qj sum_p mx_p (n - 2 popcount(bx_p XOR bw_qj)))

with integer mantissas ``mw'_qj = mw_qj 2**(ex + ew_j - E)`` and integer biases ``B_j = b_j 2**-E``:
XNOR + popcount per plane pair, constant multiples by ``mx_p``, one product per weight plane with
the row's mantissa, the bias as one more addend, and one constant power of two for the whole layer.
Zero padding of a convolution drops the position from every plane (``n`` counts valid inputs).
Where no position is ever padded (Dense, 'valid' convolutions) the offset plane's share is the
constant ``2**ex * mc * sum_i w_ij``: :func:`fold_offset_plane` moves it into the bias and the
kernel runs without that plane.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from flow.hls.encode import FixedSpec, exact_spec, fractional_bits, signed_integer_bits
from flow.lq import reference

MAX_INPUT_PLANES = 24


def grid_mantissas(basis: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(m, e)`` with ``basis[:, j] = m[:, j] * 2**e[j]``: integer mantissas, one exponent per column."""
    a = np.asarray(basis, dtype=np.float64)
    exps = np.array([-fractional_bits(a[:, j], what) for j in range(a.shape[1])], dtype=np.int64)
    return (a / np.exp2(exps)[None, :]).astype(np.int64), exps


@dataclass(frozen=True)
class LQKernel:
    """Weight planes of one LQ kernel as a matrix ``(n_in, n_out)``."""

    codes: np.ndarray  # (n_out, n_in) integers < 2**kw, bit q = sign of plane q
    mantissa: np.ndarray  # (kw, n_out) signed integers
    exponent: np.ndarray  # (n_out,)

    @property
    def kw(self) -> int:
        return int(self.mantissa.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.codes.shape[1])

    def values(self) -> np.ndarray:
        """The weights ``(n_in, n_out)`` the planes stand for."""
        signs = reference.signs(self.kw)[self.codes]  # (n_out, n_in, kw)
        basis = self.mantissa * np.exp2(self.exponent)[None, :]
        return np.einsum("jiq,qj->ij", signs, basis)


def encode_kernel(values: np.ndarray, codes: np.ndarray, basis: np.ndarray, what: str) -> LQKernel:
    """From the quantizer's ``(values, codes, basis (K, n_out))``; checks that the planes decode to ``values``."""
    values = np.asarray(values, dtype=np.float64)
    n_out = values.shape[-1]
    codes = np.asarray(codes, dtype=np.int64).reshape(-1, n_out).T
    mantissa, exponent = grid_mantissas(np.asarray(basis, np.float64).reshape(-1, n_out), what)
    kernel = LQKernel(codes, mantissa, exponent)
    if not np.array_equal(kernel.values(), values.reshape(-1, n_out)):
        raise ValueError(f"{what}: the LQ codes do not decode to the quantized weights (internal error)")
    return kernel


@dataclass(frozen=True)
class LQInput:
    """How the kernel turns its input into planes (offset plane last)."""

    mantissa: np.ndarray  # (kx,) signed integers; the last one is the offset plane's mc
    exponent: int
    #: LQ inputs: sorted midpoints between levels and the code of each sorted level; else None.
    midpoints: np.ndarray | None = None
    level_codes: np.ndarray | None = None
    #: LQ inputs: the sorted level values (for sizing and for the activation layer).
    level_values: np.ndarray | None = None
    #: False once :func:`fold_offset_plane` moved the offset into the bias (``mantissa`` then has no mc).
    offset_plane: bool = True

    @property
    def kx(self) -> int:
        return int(len(self.mantissa))

    @property
    def is_lq(self) -> bool:
        return self.midpoints is not None


def lq_levels(basis: np.ndarray, offset: float, what: str) -> LQInput:
    """Planes of an LQ activation with per-layer ``basis (K,)`` and ``offset`` (both on one grid)."""
    basis = np.asarray(basis, dtype=np.float64).reshape(-1)
    values, codes = reference.levels(basis, offset)
    exp = -fractional_bits(np.append(basis, offset), what)
    mant = np.append(basis, offset) / 2.0**exp
    if not np.array_equal(mant, np.round(mant)):
        raise ValueError(f"{what}: basis and offset are not on one power-of-two grid (internal error)")
    mids = (values[1:] + values[:-1]) / 2
    return LQInput(mant.astype(np.int64), int(exp), mids, codes.astype(np.int64), values)


def fixed_planes(data: FixedSpec, what: str) -> LQInput:
    """Planes of a fixed-point input: its own bits, ``x = 2**(-F-1) (C + sum_p s_p 2**p e_p)``."""
    if data.width > MAX_INPUT_PLANES:
        raise ValueError(
            f"{what}: a {data.width}-bit input would need {data.width} bit-planes in the LQ/binary kernel (at most "
            f"{MAX_INPUT_PLANES}); quantize the input first, e.g. QActivation(quantized_lq(...)) or "
            "QActivation(quantized_bits(8, 2, alpha=1)), or give the input layer a narrower precision"
        )
    s = np.ones(data.width, dtype=np.int64)
    if data.signed:
        s[-1] = -1
    m = s * (np.int64(1) << np.arange(data.width, dtype=np.int64))
    return LQInput(np.append(m, int(np.sum(m))), -data.fractional - 1)


def fold_offset_plane(kernel: LQKernel, inp: LQInput, bias: np.ndarray) -> tuple[LQInput, np.ndarray]:
    """The input without its offset plane and the bias with the offset's constant share added."""
    offset = float(inp.mantissa[-1]) * 2.0**inp.exponent
    folded = dataclasses.replace(inp, mantissa=inp.mantissa[:-1], offset_plane=False)
    return folded, np.asarray(bias, np.float64) + offset * kernel.values().sum(axis=0)


@dataclass(frozen=True)
class LQRowScales:
    """Every row on one grid ``2**exponent``: integer mantissas and biases (see the module docstring)."""

    basis: np.ndarray  # (kw, n_out) integers mw * 2**(ex + ew_j - E)
    bias: np.ndarray  # (n_out,) integers b * 2**-E
    exponent: int  # E <= 0


def fold_row_scales(kernel: LQKernel, inp: LQInput, bias: np.ndarray, bias_spec: FixedSpec) -> LQRowScales:
    """Fold each row's power of two ``2**(ex + ew_j)`` into its mantissas, and the bias onto the same grid."""
    shift = inp.exponent + kernel.exponent
    exponent = int(min(0, int(np.min(shift, initial=0)), -bias_spec.fractional))
    basis = kernel.mantissa * (np.int64(1) << (shift - exponent).astype(np.int64))[None, :]
    scaled_bias = np.asarray(bias, np.float64) * 2.0**-exponent
    if not np.array_equal(scaled_bias, np.round(scaled_bias)):
        raise ValueError("LQ bias is not on the layer's grid (internal error)")
    return LQRowScales(basis.astype(np.int64), np.round(scaled_bias).astype(np.int64), exponent)


@dataclass(frozen=True)
class LQTypes:
    count: str  # popcounts and n - 2 popcount, signed
    inner: str  # sum_p mx_p (n - 2 popcount)
    accum: str  # the integer B_j + sum_q mw'_qj inner_qj
    scaled: FixedSpec  # accum's bits times 2**E
    result: FixedSpec
    midpoint: FixedSpec | None
    basis_bits: int  # the folded mantissas mw'
    bias_bits: int  # the integer biases B
    scales: LQRowScales


def _int_type(bound: float) -> str:
    return f"ap_int<{signed_integer_bits(bound)}>"


def size_types(kernel: LQKernel, inp: LQInput, bias: np.ndarray, bias_spec: FixedSpec) -> LQTypes:
    """Exact widths: nothing in the kernel rounds or overflows."""
    n_in = kernel.n_in
    scales = fold_row_scales(kernel, inp, bias, bias_spec)
    inner = float(np.sum(np.abs(inp.mantissa))) * n_in
    acc_bound = np.abs(scales.bias) + np.sum(np.abs(scales.basis), axis=0) * inner  # (n_out,)
    acc_bits = signed_integer_bits(float(np.max(acc_bound, initial=0.0)))
    out_bound = float(np.max(acc_bound, initial=0.0)) * 2.0**scales.exponent
    res_frac = -scales.exponent
    res_int = signed_integer_bits(out_bound)
    midpoint = exact_spec(inp.midpoints, "LQ midpoints") if inp.is_lq else None
    return LQTypes(
        count=_int_type(n_in),
        inner=_int_type(inner),
        accum=f"ap_int<{acc_bits}>",
        scaled=FixedSpec(acc_bits, acc_bits + scales.exponent),
        result=FixedSpec(res_int + res_frac, res_int),
        midpoint=midpoint,
        basis_bits=signed_integer_bits(float(np.max(np.abs(scales.basis), initial=0))),
        bias_bits=signed_integer_bits(float(np.max(np.abs(scales.bias), initial=0))),
        scales=scales,
    )


def dense_reference(x: np.ndarray, kernel: LQKernel, inp: LQInput, bias: np.ndarray) -> np.ndarray:
    """``(batch, n_in) -> (batch, n_out)`` the way the C++ computes it (integers on one grid, then its scale).

    ``x`` must already be on the input's grid (levels of an LQ input, or the fixed-point type).
    """
    x = np.asarray(x, dtype=np.float64)
    if inp.is_lq:
        idx = np.searchsorted(inp.midpoints, x, side="right")
        codes = inp.level_codes[idx]
    else:
        data_planes = inp.kx - 1 if inp.offset_plane else inp.kx
        raw = np.round(x * 2.0 ** (-inp.exponent - 1)).astype(np.int64)
        codes = raw & ((1 << data_planes) - 1)
    if inp.offset_plane:
        codes = codes | (1 << (inp.kx - 1))
    ex = ((codes[..., None] >> np.arange(inp.kx)) & 1) * 2 - 1  # (batch, n_in, kx)
    ew = ((kernel.codes[..., None] >> np.arange(kernel.kw)) & 1) * 2 - 1  # (n_out, n_in, kw)
    d = np.einsum("bip,jiq->bjpq", ex, ew)
    scales = fold_row_scales(kernel, inp, bias, exact_spec(bias, "bias"))
    acc = np.einsum("bjpq,p,qj->bj", d, inp.mantissa, scales.basis) + scales.bias[None, :]
    return acc * 2.0**scales.exponent
