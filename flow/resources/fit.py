"""Fit gate: does a model's design fit its board (estimated), and the smallest folding that does.

The estimate (``flow.resources.estimate``) is a model calibrated by yosys, not a synthesis
result: every figure here is labelled *estimated*. The folding searched is the model-wide
reuse factor ``RF`` in ``REUSE_FACTORS``: ``RF = 1`` keeps the requested strategy, ``RF > 1``
uses ``Resource`` (lanes fold over ``RF`` cycles, weights in ROM). The SP2 share is fixed once a
model is trained; when no reuse factor fits, :func:`share_advice` names the share to retrain with.
"""

from __future__ import annotations

from dataclasses import dataclass

from flow.boards import Board, get_board
from flow.resources.estimate import DEFAULT_BUDGET, estimate_model, optimize, works_from_model

REUSE_FACTORS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
RESOURCE_NAMES = {"dsp": "DSP", "lut": "LUT", "ff": "FF", "bram36": "BRAM36"}


class DoesNotFit(ValueError):
    """The design is estimated (or, after HLS, reported) to exceed its board's budget."""


@dataclass(frozen=True)
class Fit:
    """One design point: its strategy, reuse factor and estimate (``fits`` per resource)."""

    strategy: str
    reuse_factor: int
    result: dict

    @property
    def fits(self) -> bool:
        return all(self.result["fits"].values())

    def over(self) -> list[str]:
        """'DSP 1600 of 220 (727%, budget 100%)' for each resource over its budget."""
        total, util = self.result["total"], self.result["utilization"]
        available = get_board(self.result["board"]).budget()
        return [
            f"{RESOURCE_NAMES[k]} {total[k]} of {available[k]} ({100 * util[k]:.0f}%, budget {100 * DEFAULT_BUDGET[k]:.0f}%)"
            for k, ok in self.result["fits"].items()
            if not ok
        ]

    def summary(self) -> str:
        util = ", ".join(f"{RESOURCE_NAMES[k]} {100 * v:.1f}%" for k, v in self.result["utilization"].items())
        verdict = "fits" if self.fits else "does NOT fit"
        return (f"{self.strategy} ReuseFactor {self.reuse_factor} {verdict} {self.result['board']} (estimated: {util}; "
                f"{self.result['latency_us']:.2f} us per input at the board clock)")


def fit_at(model, board: Board, strategy: str, reuse_factor: int, data_bits: int = 8, io_type: str = "io_parallel") -> Fit:
    """The estimate of ``model`` built with ``strategy`` / ``reuse_factor`` / ``io_type`` on ``board``."""
    return Fit(strategy, reuse_factor, estimate_model(model, board, reuse_factor, data_bits, strategy, io_type=io_type))


def smallest_fit(model, board: Board, strategy: str = "Latency", data_bits: int = 8,
                 io_type: str = "io_parallel") -> Fit | None:
    """The smallest reuse factor (fastest design) that fits, or None."""
    for rf in REUSE_FACTORS:
        point = fit_at(model, board, strategy if rf == 1 else "Resource", rf, data_bits, io_type)
        if point.fits:
            return point
    return None


def share_advice(model, board: Board, data_bits: int = 8) -> str:
    """What to retrain with when no reuse factor fits at the model's own SP2 share."""
    try:
        best = optimize(works_from_model(model, 1, data_bits), board)
    except ValueError as exc:
        return f"no SP2 share fits either ({exc}); use a smaller model or a larger board"
    return (f"retrain with SP2 share {best['sp2_share']:.2f} (estimated to fit at ReuseFactor "
            f"{best['reuse_factor']}), or use a smaller model or a larger board")


def gate(model, board: Board, strategy: str, reuse_factor: int, data_bits: int = 8,
         io_type: str = "io_parallel") -> tuple[Fit, Fit | None]:
    """The requested point and, where it does not fit, the smallest one that does (or None)."""
    point = fit_at(model, board, strategy, reuse_factor, data_bits, io_type)
    if point.fits:
        return point, point
    return point, smallest_fit(model, board, strategy, data_bits, io_type)


def refusal(point: Fit, better: Fit | None, model, board: Board, data_bits: int = 8) -> str:
    """The error text when a design does not fit: what is over, and what to do."""
    text = f"{point.strategy} ReuseFactor {point.reuse_factor} does not fit {board.name}: " + ", ".join(point.over())
    text += " (estimated, not measured)."
    if better is not None:
        text += (f" The fastest design that fits is --strategy {better.strategy} --reuse-factor {better.reuse_factor} "
                 f"({better.summary()}); pass --optimize to use it")
    else:
        text += f" No reuse factor up to {REUSE_FACTORS[-1]} fits: {share_advice(model, board, data_bits)}"
    return text + ", or --allow-overbudget to go on anyway."
