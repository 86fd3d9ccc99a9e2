"""Presets: the seed papers' experimental settings (``'paper'``) next to this flow's defaults (``'ours'``).

A preset is data, not behaviour: each function returns the keyword arguments of the ordinary API, so
``preset='paper'`` reproduces what a reader of the papers expects and ``'ours'`` is what every default
already is. What differs (the measured difference of each and why ours stays: README.md, "The papers'
settings"; the numbers: ``bench/ablations.py``, ``bench/README.md``):

==========================  ================================  ==========================================
setting                     ``'paper'``                       ``'ours'`` (the defaults)
==========================  ================================  ==========================================
MSQ SP2 share (per part)    XC7Z020 0.6 (1:1.5), XC7Z045      ``'auto'``: the share that balances the
                            0.667 (1:2): the MSQ paper's      board's DSP and LUT lanes in our resource
                                                              model (currently 0.75 on both parts)
PTQ ranges                  one per layer                     one per output channel
PTQ / frozen-width scale    real (clip at max|w|)             power of two (see ``quantized_symmetric``)
schedule step 4             1e-7 (the paper's; optional)      2e-4 for 10 epochs
alpha bounds                activations [1, 8], kernels       [3, 8] for both
                            [2, 8] (1-bit symmetric weights
                            are all zero)
BOPs cost of a float head   not charged (runs on the host)    charged at 8-bit weights
==========================  ================================  ==========================================

Typed: an unknown preset or part is an error that lists the valid ones.
"""

from __future__ import annotations

from types import MappingProxyType

#: The presets, ``'ours'`` first (the defaults).
PRESETS = ("ours", "paper")

#: The MSQ paper's fixed:SP2 ratios: 1:1.5 on the XC7Z020 (PYNQ-Z1/Z2), 1:2 on the XC7Z045 (ZC706).
PAPER_SP2_SHARES = MappingProxyType({"xc7z020": 0.6, "xc7z045": 2.0 / 3.0})

_PTQ = {
    "ours": MappingProxyType({"granularity": "channel", "scale": "po2"}),
    "paper": MappingProxyType({"granularity": "layer", "scale": "real"}),
}

_SCHEDULE = {
    "ours": MappingProxyType({}),
    "paper": MappingProxyType(
        {
            "finetune_learning_rate": 1e-7,
            "weights": {"low": 2.0, "high": 8.0, "init": 8.0},
            "activations": {"low": 1.0, "high": 8.0, "init": 8.0},
            "head_in_cost": False,
            "scale": "real",
        }
    ),
}


def check_preset(name) -> str:
    """``name`` if it is a preset; otherwise a ValueError naming the key and the valid presets."""
    if name not in PRESETS:
        raise ValueError(f"preset: {name!r} is not one of {PRESETS}")
    return str(name)


def sp2_share(preset: str, board: str, bits: int = 4) -> float:
    """The MSQ SP2 row share of ``preset`` on ``board`` (pynq-z1, pynq-z2, zc706)."""
    from flow.boards import get_board
    from flow.quantizers.msq import auto_share

    check_preset(preset)
    b = get_board(board)
    if preset == "ours":
        return auto_share(b.name, bits)
    family = b.part[:7]
    if family not in PAPER_SP2_SHARES:
        raise ValueError(
            f"board '{board}' (part {b.part}): the MSQ paper has shares for {sorted(PAPER_SP2_SHARES)} only"
        )
    return PAPER_SP2_SHARES[family]


def ptq_settings(preset: str) -> dict:
    """Keyword arguments of :func:`flow.ptq.quantize` (``granularity``, ``scale``) for ``preset``."""
    return dict(_PTQ[check_preset(preset)])


def schedule_settings(preset: str) -> dict:
    """:class:`flow.bitwidth.schedule.ScheduleConfig` keys of ``preset`` (empty for ``'ours'``)."""
    import copy

    return copy.deepcopy(dict(_SCHEDULE[check_preset(preset)]))
