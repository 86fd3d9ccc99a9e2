"""Board database: the FPGA parts our users deploy to and what they offer.

Numbers are the Zynq-7000 data-sheet resources (DESIGN.md section 4); ``clock_mhz`` is the
fabric clock the PYNQ overlays use by default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    lut: int
    ff: int
    dsp: int
    bram36: int
    clock_mhz: float
    #: Vivado board-file preset (block design automation applies it to the Zynq PS).
    board_part: str = ""

    def budget(self) -> dict[str, int]:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram36": self.bram36}


_Z7020 = dict(part="xc7z020clg400-1", lut=53_200, ff=106_400, dsp=220, bram36=140, clock_mhz=100.0)

BOARDS: dict[str, Board] = {
    "pynq-z1": Board("pynq-z1", **_Z7020, board_part="www.digilentinc.com:pynq-z1:part0:1.0"),
    "pynq-z2": Board("pynq-z2", **_Z7020, board_part="tul.com.tw:pynq-z2:part0:1.0"),
    "zc706": Board(
        "zc706", part="xc7z045ffg900-2", lut=218_600, ff=437_200, dsp=900, bram36=545, clock_mhz=200.0,
        board_part="xilinx.com:zc706:part0:1.4",
    ),
}


def get_board(name: str) -> Board:
    """The board called ``name`` (case-insensitive); the error lists the known ones."""
    key = str(name).lower()
    if key not in BOARDS:
        raise ValueError(f"unknown board '{name}'; known boards: {', '.join(sorted(BOARDS))}")
    return BOARDS[key]
