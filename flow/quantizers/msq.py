"""``quantized_msq``: per-row mixed scheme, fixed point or SP2, ranked by weight variance.

For a kernel with ``n`` rows (output channels), the ``round(sp2_share * n)`` rows of lowest
weight variance use SP2 (they are concentrated near zero, where SP2 levels are dense), the
others use ``bits``-bit symmetric fixed point::

    fixed:  w_q = 2**e_j * k / 2**(b-1),          |k| <= 2**(b-1) - 1
    SP2:    w_q = ± 2**e_j * (q1 + q2)            (see ``quantized_sp2``)

The share is not learned: it comes from the board's LUT:DSP budget (DSP lanes run the
fixed rows, LUT lanes the SP2 rows). The assignment is *frozen* into the quantizer
(``row_scheme``) by :meth:`quantized_msq.assign_rows`, saved with the model, and read by
the HLS backend, so Keras and the generated C++ use the same rows. Until it is frozen the
quantizer ranks the current weights at every call (usable for training from scratch).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from flow.quantizers import levels, tf_ops
from flow.quantizers.base import SP2, RowQuantizer
from flow.quantizers.wide_sp2 import warn_wide_sp2


#: The SP2 row share when none is given, everywhere in the API (``quantized_msq``, ``QuantSpec``):
#: the MSQ paper's 1:1.5 fixed:SP2 ratio for the XC7Z020 (PYNQ-Z1/Z2). ``'auto'`` balances the board.
DEFAULT_SP2_SHARE = 0.6


def auto_share(board: str, bits: int, step: float = 0.05) -> float:
    """The SP2 share that balances ``board``'s DSP lanes and LUT lanes, on a grid of ``step``."""
    from flow.boards import get_board
    from flow.resources.estimate import pe_array

    share = pe_array(get_board(board), weight_bits=bits)["sp2_share"]
    return round(round(share / step) * step, 10)


class quantized_msq(RowQuantizer):  # noqa: N801  (QKeras naming)
    """Mixed-scheme (fixed point / SP2 per row) weight quantizer with a straight-through gradient.

    Args:
        bits: bits per weight, 3..8, for both schemes.
        sp2_share: fraction of rows on SP2 in [0, 1] (default DEFAULT_SP2_SHARE, 0.6); 0 is all fixed point, 1 all SP2; or 'auto':
            the share that balances the board's DSP and LUT lanes (see ``flow.resources``).
        board: the board for ``sp2_share='auto'`` (pynq-z1, pynq-z2, zc706).
        row_scheme: frozen assignment (list of 0 = fixed, 1 = SP2 per row), or None.
        per_row: power-of-two scale per row (default) or one per layer.
    """

    scheme_name = "MSQ"

    def __init__(self, bits=4, sp2_share=DEFAULT_SP2_SHARE, row_scheme=None, per_row=True, use_ste=True, board=None):
        super().__init__(bits=bits, per_row=per_row, use_ste=use_ste)
        self.board = board
        if isinstance(sp2_share, str):
            if sp2_share != "auto" or board is None:
                raise ValueError(f"MSQ: sp2_share must be a number in [0, 1] or 'auto' with board=..., got {sp2_share!r}")
            sp2_share = auto_share(board, self.bits)
        if isinstance(sp2_share, bool) or not isinstance(sp2_share, (int, float, np.floating, np.integer)):
            raise TypeError(f"MSQ: sp2_share must be a number in [0, 1], got {sp2_share!r}")
        if not 0.0 <= float(sp2_share) <= 1.0:
            raise ValueError(f"MSQ: sp2_share must be in [0, 1], got {sp2_share}")
        self.sp2_share = float(sp2_share)
        self._row_scheme = None if row_scheme is None else self._check_scheme(row_scheme)
        has_sp2 = self.sp2_share > 0 if self._row_scheme is None else bool(self._row_scheme.any())
        if has_sp2:
            warn_wide_sp2(self.bits, f"quantized_msq({self.bits}, sp2_share={self.sp2_share:g})")

    def _check_scheme(self, row_scheme) -> np.ndarray:
        scheme = np.asarray(list(row_scheme), dtype=np.int64)
        if scheme.ndim != 1 or not np.isin(scheme, (0, 1)).all():
            raise ValueError(f"MSQ: row_scheme must be a list of 0 (fixed) / 1 (SP2), got {list(row_scheme)}")
        return scheme

    @property
    def row_scheme(self) -> np.ndarray | None:
        """The frozen per-row assignment (1 = SP2), or None while it is dynamic."""
        return None if self._row_scheme is None else self._row_scheme.copy()

    @property
    def frozen(self) -> bool:
        return self._row_scheme is not None

    def assign_rows(self, w) -> np.ndarray:
        """Freeze the assignment from kernel ``w`` (lowest-variance rows -> SP2) and return it."""
        self._row_scheme = levels.assign_rows(np.asarray(w), self.sp2_share)
        return self.row_scheme

    def _scheme_tf(self, w: tf.Tensor) -> tf.Tensor:
        n = w.shape[-1]
        if self._row_scheme is None:
            return tf_ops.assign_rows(w, self.sp2_share)
        if len(self._row_scheme) != n:
            raise ValueError(
                f"MSQ: row_scheme has {len(self._row_scheme)} rows but the kernel has {n} output channels"
            )
        return tf.constant(self._row_scheme, tf.int64)

    @property
    def n_sp2(self) -> int | None:
        return None if self._row_scheme is None else int(np.sum(self._row_scheme == SP2))

    def get_config(self):
        config = super().get_config()
        config["sp2_share"] = self.sp2_share
        config["board"] = self.board
        config["row_scheme"] = None if self._row_scheme is None else [int(v) for v in self._row_scheme]
        return config

    def __str__(self):
        return f"quantized_msq({self.bits},sp2_share={self.sp2_share})"
