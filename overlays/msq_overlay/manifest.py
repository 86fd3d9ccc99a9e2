"""The overlay manifest: what the driver needs to know about a built accelerator (JSON).

Written by ``python -m flow build`` from the same variables the Tcl scripts read, so the
driver never shares hard-coded names with them::

    {"format": 1, "overlay": "msq_accel", "board": "pynq-z2", "part": "xc7z020clg400-1",
     "clock_mhz": 100.0,
     "ip": {"name": "msq_accel_0", "vlnv": "...", "registers": {"ctrl": 0, "n_samples": 16}},
     "dma": {"name": "axi_dma_0", "max_transfer_bytes": 67108863},
     "input":  {"shape": [64], "type": {"width": 6, "integer": 2, "signed": true}, "lane_bits": 8},
     "output": {"shape": [16], "type": {...}, "lane_bits": 16},
     "head": "head.npz" | null,
     "bitstream": {"file": "msq_accel.bit", "md5": "..."} | null, "hwh": "msq_accel.hwh"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from msq_overlay.packing import LANES, FixedType

FORMAT = 1
MANIFEST_NAME = "manifest.json"
REQUIRED = ("format", "overlay", "board", "part", "ip", "dma", "input", "output")


@dataclass(frozen=True)
class StreamSpec:
    shape: tuple
    type: FixedType
    lane_bits: int

    @property
    def count(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "StreamSpec":
        try:
            spec = cls(tuple(int(d) for d in data["shape"]), FixedType.from_dict(data["type"]), int(data["lane_bits"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{where}: needs shape, type (width, integer, signed) and lane_bits ({exc})") from None
        if spec.lane_bits not in LANES or spec.type.width > spec.lane_bits:
            raise ValueError(f"{where}: lane_bits {spec.lane_bits} must be one of {LANES} and hold {spec.type}")
        return spec

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "type": self.type.to_dict(), "lane_bits": self.lane_bits}


def load_manifest(path) -> dict:
    """Read and check a manifest; errors name the file and the key."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"overlay manifest {path} does not exist (python -m flow build writes it next to the bitstream)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"overlay manifest {path} is not valid JSON: {exc}") from None
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"overlay manifest {path}: missing keys {missing}")
    if data["format"] != FORMAT:
        raise ValueError(f"overlay manifest {path}: format {data['format']} is not supported (expected {FORMAT})")
    for key in ("name",):
        for section in ("ip", "dma"):
            if key not in data[section]:
                raise ValueError(f"overlay manifest {path}: '{section}.{key}' is missing")
    registers = data["ip"].get("registers", {})
    for key in ("ctrl", "n_samples"):
        if not isinstance(registers.get(key), int):
            raise ValueError(f"overlay manifest {path}: 'ip.registers.{key}' (an AXI-lite offset) is missing")
    data["input_spec"] = StreamSpec.from_dict(data["input"], f"{path}: input")
    data["output_spec"] = StreamSpec.from_dict(data["output"], f"{path}: output")
    data["path"] = str(path)
    return data


def write_manifest(data: dict, path) -> Path:
    path = Path(path)
    clean = {k: v for k, v in data.items() if k not in ("input_spec", "output_spec", "path")}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True))
    return path
