"""Typed build configuration (validated at creation; errors name the field)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from flow.boards import get_board

STRATEGIES = ("Latency", "Resource")
IO_TYPES = ("io_parallel", "io_stream")


@dataclass(frozen=True)
class BuildConfig:
    """``python -m flow build`` settings.

    model: a saved QKeras model (.h5). board: pynq-z1, pynq-z2 or zc706. out: build directory.
    cut: layer after which a float head runs on the host ('auto': before a final float Dense,
    'none': no head). clock_mhz: fabric clock (default: the board's PYNQ clock).
    input_precision: HLS input type such as 'fixed<6,2>' (default: the model's first quantizer, so
    raw floats are quantized exactly like Keras). io_type: hls4ml's 'io_parallel' (arrays; small
    models) or 'io_stream' (streams of packets, one per pixel for a convolution; the AXI stream
    feeds the model directly). allow_approximate: build layers that have no exact
    type (float weights or activations on the accelerator) with hls4ml's default types.
    allow_overbudget: go on when the design is estimated (or reported by Vitis HLS) not to fit.
    rtl: the RTL route (no Vitis HLS): Verilog from :mod:`flow.rtl`, checked in Verilator, packaged as an
    IP by Vivado, in the same block design (io_parallel only).
    """

    model: str
    board: str = "pynq-z2"
    out: str = "build"
    cut: str = "auto"
    strategy: str = "Latency"
    reuse_factor: int = 1
    io_type: str = "io_parallel"
    clock_mhz: float | None = None
    input_precision: str | None = None
    jobs: int = 4
    allow_approximate: bool = False
    allow_overbudget: bool = False
    rtl: bool = False

    def __post_init__(self):
        get_board(self.board)  # unknown board: the error lists the known ones
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy: '{self.strategy}' is not one of {STRATEGIES}")
        if self.io_type not in IO_TYPES:
            raise ValueError(f"io_type: {self.io_type!r} is not one of {IO_TYPES}")
        if isinstance(self.reuse_factor, bool) or not isinstance(self.reuse_factor, int) or self.reuse_factor < 1:
            raise ValueError(f"reuse_factor: must be a positive integer, got {self.reuse_factor!r}")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs: must be a positive integer, got {self.jobs!r}")
        if not isinstance(self.rtl, bool):
            raise ValueError(f"rtl: must be True or False, got {self.rtl!r}")
        if self.rtl and self.io_type != "io_parallel":
            raise ValueError(f"rtl: the RTL route takes io_type 'io_parallel' only (flow.rtl), got {self.io_type!r}")
        if self.clock_mhz is not None and not 10 <= float(self.clock_mhz) <= 400:
            raise ValueError(f"clock_mhz: must be in [10, 400], got {self.clock_mhz}")
        from flow import check_model_path
        from flow.convert import check_precision_string

        check_model_path(self.model)
        if self.input_precision is not None:
            check_precision_string(self.input_precision, "input_precision")

    @property
    def board_info(self):
        return get_board(self.board)

    @property
    def fclk_mhz(self) -> float:
        return float(self.clock_mhz or self.board_info.clock_mhz)

    def to_dict(self) -> dict:
        return asdict(self)
