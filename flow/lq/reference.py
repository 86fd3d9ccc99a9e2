"""Learned-basis (LQ) quantization, numpy reference (LQ-Nets; the thesis' quantizer).

K-bit levels are ``q_l = <e_l, a>`` with ``e_l in {-1, +1}^K`` and a basis ``a in R^K``: per
output channel for weights (``a`` of shape ``(K, n_out)``), per layer for activations (``(K,)``).
A value is encoded to its nearest level (ties go to the upper level: ``x >= midpoint``); bit ``k`` of a code is 1
for ``e_k = +1``. QEM fits the basis to data ``x``: encode with ``a``, then solve the least
squares ``a = argmin ||B a - x||^2`` for the codes ``B`` (``(n, K)`` of ±1), and repeat.

The dot product of two LQ vectors over ``n`` elements needs only bit-planes::

    sum_i x_i w_i = sum_p sum_q ax_p aw_q (n - 2 popcount(bx_p XOR bw_q))
"""

from __future__ import annotations

import numpy as np

MAX_K = 4


def check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_K:
        raise ValueError(f"LQ: the number of bits K must be an integer in [1, {MAX_K}], got {k!r}")
    return int(k)


def signs(k: int) -> np.ndarray:
    """All ``2**k`` sign vectors ``e_l`` (rows), code ``l`` has bit k set when ``e_lk = +1``."""
    k = check_k(k)
    codes = np.arange(2**k)
    return np.array([[1.0 if (c >> b) & 1 else -1.0 for b in range(k)] for c in codes])


def levels(basis: np.ndarray, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted levels ``offset + <e_l, a>`` and their codes: ``(values (2**K,), codes (2**K,))``."""
    basis = np.asarray(basis, dtype=np.float64)
    e = signs(len(basis))
    values = e @ basis + offset
    order = np.argsort(values, kind="stable")
    return values[order], np.arange(2 ** len(basis))[order]


def encode(x: np.ndarray, basis: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """Codes (integers ``< 2**K``) of the nearest levels of ``x`` for one basis ``(K,)``."""
    vals, codes = levels(basis, offset)
    mids = (vals[1:] + vals[:-1]) / 2
    return codes[np.searchsorted(mids, np.asarray(x, dtype=np.float64), side="right")]


def decode(codes: np.ndarray, basis: np.ndarray, offset: float = 0.0) -> np.ndarray:
    return signs(len(basis))[np.asarray(codes)] @ np.asarray(basis, dtype=np.float64) + offset


def quantize(x: np.ndarray, basis: np.ndarray, offset: float = 0.0) -> np.ndarray:
    return decode(encode(x, basis, offset), basis, offset)


def init_basis(x: np.ndarray, k: int) -> np.ndarray:
    """LQ-Nets' start: powers of two scaled to the data, ``a_k = s * 2**k`` (largest last)."""
    k = check_k(k)
    scale = np.mean(np.abs(x)) if np.size(x) else 1.0
    scale = scale if scale > 0 else 1.0
    return scale * np.exp2(np.arange(k)) / (2**k - 1) * 2


def qem_fit(x: np.ndarray, k: int, iters: int = 10, basis=None, offset: bool = False):
    """Quantization Error Minimization for one basis over all of ``x``.

    With ``offset=True`` the levels are ``c + <e_l, a>`` and ``(a, c)`` is returned: the least
    squares gets a column of ones. (For ReLU outputs; in a dot product the offset only adds
    ``c * sum(w)``, which folds into the bias.)
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    a = init_basis(x, k) if basis is None else np.asarray(basis, dtype=np.float64).copy()
    c = float(np.mean(x)) if offset else 0.0
    if offset:
        a = init_basis(x - c, k)
    e = signs(len(a))
    for _ in range(iters):
        b = e[encode(x, a, c)]
        design = np.hstack([b, np.ones((len(x), 1))]) if offset else b
        new, *_ = np.linalg.lstsq(design, x, rcond=None)
        if not np.all(np.isfinite(new)):
            break
        a = np.sort(np.abs(new[: len(a)]))  # sign flips only relabel codes; keep a canonical, non-negative basis
        c = float(new[-1]) if offset else 0.0
    return (a, c) if offset else a


def qem_fit_channels(w: np.ndarray, k: int, iters: int = 10) -> np.ndarray:
    """One basis per output channel (last axis) of a kernel: ``(K, n_out)``."""
    w2 = np.asarray(w, dtype=np.float64).reshape(-1, np.shape(w)[-1])
    return np.stack([qem_fit(w2[:, j], k, iters) for j in range(w2.shape[1])], axis=1)


def on_grid(basis: np.ndarray, mantissa_bits: int = 8) -> np.ndarray:
    """Round a basis to a fixed-point grid: multiples of ``2**e`` with ``|a| < 2**mantissa_bits * 2**e``
    (one exponent per basis vector, i.e. per column for ``(K, n_out)``)."""
    a = np.asarray(basis, dtype=np.float64)
    top = np.max(np.abs(a), axis=0, keepdims=a.ndim > 1)
    top = np.where(top > 0, top, 1.0)
    e = np.ceil(np.log2(top)) - mantissa_bits
    return np.round(a / np.exp2(e)) * np.exp2(e)


def pack_bits(codes: np.ndarray, k: int) -> np.ndarray:
    """Codes ``(..., n)`` -> bit-planes ``(..., K, ceil(n / 64))`` of uint64 (bit i of word i // 64)."""
    codes = np.asarray(codes, dtype=np.int64)
    n = codes.shape[-1]
    words = -(-n // 64)
    out = np.zeros((*codes.shape[:-1], k, words), dtype=np.uint64)
    for plane in range(k):
        bits = ((codes >> plane) & 1).astype(np.uint64)
        padded = np.zeros((*codes.shape[:-1], words * 64), dtype=np.uint64)
        padded[..., :n] = bits
        chunks = padded.reshape(*codes.shape[:-1], words, 64)
        out[..., plane, :] = np.sum(chunks << np.arange(64, dtype=np.uint64), axis=-1, dtype=np.uint64)
    return out


def popcount64(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.uint64)
    return np.unpackbits(v.view(np.uint8), axis=-1).reshape(*v.shape, 64).sum(axis=-1).astype(np.int64)


def dense_reference(x_planes, x_basis, w_planes, w_basis, bias, n: int) -> np.ndarray:
    """The bit-plane dense layer, in the order the compiled kernel sums (float64).

    x_planes ``(batch, Kx, words)``, x_basis ``(Kx,)``, w_planes ``(n_out, Kw, words)``,
    w_basis ``(Kw, n_out)``, bias ``(n_out,)`` -> ``(batch, n_out)``.
    """
    batch, kx, _ = x_planes.shape
    n_out, kw, _ = w_planes.shape
    y = np.zeros((batch, n_out))
    for p in range(kx):
        for q in range(kw):
            pop = popcount64(x_planes[:, None, p, :] ^ w_planes[None, :, q, :]).sum(axis=-1)
            y = y + (x_basis[p] * w_basis[q][None, :]) * (n - 2 * pop).astype(np.float64)
    return y + np.asarray(bias, dtype=np.float64)[None, :]

