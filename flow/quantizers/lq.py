"""``quantized_lq``: learned-basis (LQ) quantizer for kernels and activations (QKeras-compatible).

K-bit levels ``q_l = <e_l, a>``, ``e_l in {-1, +1}^K`` (see :mod:`flow.lq.reference`); a value
goes to its nearest level (ties to the upper one), the gradient is straight-through.

* Kernels (``per_channel=True``): one basis per output channel. Without a given ``basis`` it is
  fitted to the current weights at every call by ``qem_iters`` QEM steps from LQ-Nets' start
  (``a_k ~ mean|w| * 2**k``), so training updates it with the weights and the quantizer keeps no
  state; ``basis=`` freezes it (post-training quantization sets it).
  With ``momentum=m`` the basis is LQ-Nets' moving average instead: a variable that the forward
  pass reads and that :meth:`quantized_lq.update_basis` (called after every training step by
  ``flow.train.LQBasisUpdate``, which ``flow.train.train`` adds) moves by one QEM step,
  ``a <- m a + (1 - m) QEM(w; a)``; ``basis=`` is then its start, and the saved config holds
  its current value.
* Activations (``per_channel=False``): one basis per layer, which must come from calibration
  (``basis=``, e.g. ``flow.ptq.lq_quantize``); an uncalibrated activation quantizer is an error.

Bases are rounded to a fixed-point grid (``mantissa_bits`` signed bits and a power-of-two
exponent per basis vector), the grid the HLS kernels use.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from flow.lq import reference
from flow.quantizers.base import FlowQuantizer


def _signs(k: int) -> tf.Tensor:
    return tf.constant(reference.signs(k), tf.float32)  # (2**K, K)


def round_basis(a: tf.Tensor, mantissa_bits: int) -> tf.Tensor:
    """Basis ``(K,)`` or ``(K, C)`` rounded to multiples of ``2**e`` (``e`` per column)."""
    from flow.quantizers.tf_ops import ceil_log2, exp2_exact

    top = tf.reduce_max(tf.abs(a), axis=0)
    top = tf.where(top > 0, top, tf.ones_like(top))
    e = ceil_log2(top) - float(mantissa_bits)
    s = exp2_exact(e)
    return tf.round(a / s) * s


def nearest(x: tf.Tensor, basis: tf.Tensor, k: int, offset: float = 0.0) -> tuple[tf.Tensor, tf.Tensor]:
    """``(x_q, codes)``; ``basis`` is ``(K,)`` (one for all of x) or ``(K, C)`` (per last axis).

    The index of ``x``'s level among the sorted levels is the number of midpoints ``m_l <= x``
    (ties go to the upper level). The levels lie on a power-of-two grid, so the midpoints are
    exact in float32 and so are the comparisons: a fixed-point input truncated (floor) to a grid
    holding every midpoint makes the same decisions, which is what the HLS input type does.
    """
    levels = tf.tensordot(_signs(k), basis, axes=1) + offset  # (L,) or (L, C)
    if len(basis.shape) == 1:
        order = tf.argsort(levels, stable=True)
        sorted_levels = tf.gather(levels, order)
        mids = (sorted_levels[1:] + sorted_levels[:-1]) / 2.0
        idx = tf.reduce_sum(tf.cast(x[..., None] >= mids, tf.int32), axis=-1)
        return tf.gather(sorted_levels, idx), tf.gather(order, idx)
    lv = tf.transpose(levels)  # (C, L)
    order = tf.argsort(lv, axis=-1, stable=True)
    sorted_levels = tf.gather(lv, order, batch_dims=1)
    mids = (sorted_levels[:, 1:] + sorted_levels[:, :-1]) / 2.0  # (C, L-1)
    idx = tf.reduce_sum(tf.cast(x[..., None] >= mids, tf.int32), axis=-1)  # (..., C)
    flat_idx = tf.reshape(idx, [-1, tf.shape(lv)[0]])
    q = tf.gather(sorted_levels, tf.transpose(flat_idx), batch_dims=1)  # (C, N)
    c = tf.gather(order, tf.transpose(flat_idx), batch_dims=1)
    shape = tf.shape(x)
    return tf.reshape(tf.transpose(q), shape), tf.reshape(tf.transpose(c), shape)


def qem_channels(w: tf.Tensor, k: int, iters: int, start: tf.Tensor | None = None) -> tf.Tensor:
    """QEM per output channel in TF: basis ``(K, C)`` for a kernel ``(..., C)``, from ``start``
    (default LQ-Nets' ``a_k ~ mean|w| * 2**k``)."""
    w2 = tf.reshape(tf.convert_to_tensor(w, tf.float32), [-1, tf.shape(w)[-1]])  # (N, C)
    if start is None:
        scale = tf.reduce_mean(tf.abs(w2), axis=0)
        scale = tf.where(scale > 0, scale, tf.ones_like(scale))
        a = tf.constant(np.exp2(np.arange(k)) / (2**k - 1) * 2, tf.float32)[:, None] * scale[None, :]
    else:
        a = tf.convert_to_tensor(start, tf.float32)
    signs = _signs(k)
    for _ in range(iters):
        _, codes = nearest(w2, a, k)
        b = tf.gather(signs, codes)  # (N, C, K)
        gram = tf.einsum("nck,ncl->ckl", b, b) + 1e-6 * tf.eye(k)[None]
        rhs = tf.einsum("nck,nc->ck", b, w2)
        a = tf.transpose(tf.linalg.solve(gram, rhs[..., None])[..., 0])  # (K, C)
        a = tf.sort(tf.abs(a), axis=0)
    return a


class quantized_lq(FlowQuantizer):  # noqa: N801  (QKeras naming)
    """LQ quantizer with K = ``bits`` in 1..4 (1 is binary with a learned scale)."""

    def __init__(self, bits: int = 2, per_channel: bool = True, basis=None, qem_iters: int = 3,
                 mantissa_bits: int = 8, use_ste: bool = True, offset: float = 0.0, momentum: float | None = None):
        super().__init__()
        self.bits = reference.check_k(bits)
        self.per_channel = bool(per_channel)
        self.qem_iters = int(qem_iters)
        self.mantissa_bits = int(mantissa_bits)
        self.use_ste = bool(use_ste)
        self.basis = None if basis is None else np.asarray(basis, dtype=np.float64)
        if self.basis is not None:
            want = 1 if not self.per_channel else 2
            if self.basis.ndim != want or self.basis.shape[0] != self.bits:
                raise ValueError(
                    f"quantized_lq: basis must have shape ({self.bits},{' n_out' if self.per_channel else ''}), "
                    f"got {self.basis.shape}"
                )
        if offset and self.per_channel:
            raise ValueError("quantized_lq: an offset is for activations (per_channel=False)")
        self.offset = float(offset)
        self.keep_negative = True
        self.integer = 0
        self.momentum = None
        self._ema = self._ready = self._step = None
        if momentum is not None:
            self.start_moving_average(momentum)

    def start_moving_average(self, momentum: float) -> None:
        """Make the kernel basis a moving average (from ``basis`` when there is one)."""
        if isinstance(momentum, bool) or not self.per_channel or not 0.0 <= float(momentum) < 1.0:
            raise ValueError(
                f"quantized_lq: momentum must be in [0, 1) and is for kernels (per_channel=True), got {momentum!r}"
            )
        self.momentum = float(momentum)
        self._ema = self._ready = self._step = None
        if self.basis is not None:
            self._make_state(self.basis.shape[1], self.basis)

    def _make_state(self, n_out: int, start=None) -> None:
        """The moving-average basis ``(K, n_out)`` and whether it holds a value yet (eager variables)."""
        with tf.init_scope():
            init = np.zeros((self.bits, n_out)) if start is None else start
            self._ema = tf.Variable(np.asarray(init, np.float32), trainable=False, name="lq_basis")
            self._ready = tf.Variable(start is not None, trainable=False, name="lq_basis_ready")

    def _moving_average_step(self, kernel: tf.Tensor) -> None:
        new = qem_channels(kernel, self.bits, 1, start=self._ema)
        self._ema.assign(self.momentum * self._ema + (1.0 - self.momentum) * new)

    def update_basis(self, kernel) -> None:
        """One moving-average step from the current ``kernel`` (eager; see the module docstring)."""
        if self.momentum is None:
            raise ValueError("quantized_lq.update_basis: this quantizer has no momentum (no moving-average basis)")
        kernel = tf.convert_to_tensor(kernel, tf.float32)
        if self._ema is None:
            self._make_state(int(kernel.shape[-1]))
        if bool(self._ready.numpy()):
            if self._step is None:  # one traced graph per quantizer: the eager ops cost 5x a training step
                self._step = tf.function(self._moving_average_step)
            self._step(kernel)
        else:
            self._ema.assign(qem_channels(kernel, self.bits, self.qem_iters))
            self._ready.assign(True)

    def current_basis(self, x: tf.Tensor) -> tf.Tensor:
        if self.momentum is not None:
            if self._ema is None:
                self._make_state(int(x.shape[-1]))
            basis = tf.cond(
                self._ready, lambda: tf.identity(self._ema), lambda: qem_channels(x, self.bits, self.qem_iters)
            )
            return round_basis(basis, self.mantissa_bits)
        if self.basis is not None:
            return round_basis(tf.constant(self.basis, tf.float32), self.mantissa_bits)
        if not self.per_channel:
            raise ValueError(
                "quantized_lq activation quantizer has no basis: calibrate it on real activations "
                "(flow.ptq.lq_quantize) or pass basis=[...]"
            )
        return round_basis(qem_channels(x, self.bits, self.qem_iters), self.mantissa_bits)

    def __call__(self, x):
        x = tf.convert_to_tensor(x, tf.float32)
        q, _ = nearest(x, self.current_basis(x), self.bits, self.offset_value())
        return x + tf.stop_gradient(q - x) if self.use_ste else q

    def offset_value(self) -> float:
        """The offset on the basis grid of the smallest basis vector (so levels stay on the grid)."""
        if not self.offset or self.basis is None:
            return 0.0
        top = np.max(np.abs(reference.on_grid(self.basis, self.mantissa_bits)))
        step = 2.0 ** (np.ceil(np.log2(top)) - self.mantissa_bits) if top > 0 else 1.0
        return float(np.round(self.offset / step) * step)

    def encode(self, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(values, codes, basis)`` of numpy ``x`` (what an HLS kernel or the CPU kernel needs)."""
        x = tf.constant(np.asarray(x, np.float32))
        basis = self.current_basis(x)
        q, codes = nearest(x, basis, self.bits, self.offset_value())
        return q.numpy().astype(np.float64), codes.numpy(), basis.numpy().astype(np.float64)

    def get_config(self):
        basis = self.basis
        if self._ready is not None and bool(self._ready.numpy()):
            basis = self._ema.numpy().astype(np.float64)
        return {
            "bits": self.bits,
            "per_channel": self.per_channel,
            "basis": None if basis is None else basis.tolist(),
            "momentum": self.momentum,
            "qem_iters": self.qem_iters,
            "mantissa_bits": self.mantissa_bits,
            "use_ste": self.use_ste,
            "offset": self.offset,
        }

    def __str__(self):
        return f"quantized_lq({self.bits},per_channel={self.per_channel})"
