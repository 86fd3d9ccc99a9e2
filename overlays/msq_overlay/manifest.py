"""The overlay manifest: what the driver needs to know about a built accelerator (JSON).

Written by ``python -m flow build`` from the same variables the Tcl scripts read, so the
driver never shares hard-coded names with them::

    {"format": 2, "overlay": "msq_accel", "board": "pynq-z2", "part": "xc7z020clg400-1",
     "clock_mhz": 100.0,
     "ip": {"name": "msq_accel_0", "vlnv": "...", "registers": {"ctrl": 0, "n_samples": 16}},
     "dma": {"name": "axi_dma_0", "length_width": 26, "max_transfer_bytes": 67108863,
             "mm2s_stream_bits": 64, "s2mm_stream_bits": 64, "mm2s_mm_bits": 64, "s2mm_mm_bits": 64,
             "dre": false},
     "input":  {"shape": [64], "type": {"width": 6, "integer": 2, "signed": true}, "lane_bits": 8,
                "beat_bits": 64, "values_per_beat": 8, "beats_per_sample": 8},
     "output": {"shape": [10], "type": {...}, "lane_bits": 16, "beat_bits": 64, "values_per_beat": 4,
                "beats_per_sample": 3},
     "head": "head.npz" | null,
     "bitstream": {"file": "msq_accel.bit", "md5": "..."} | null, "hwh": "msq_accel.hwh"}

The beat fields are the stream format (:mod:`msq_overlay.packing`): the driver packs and unpacks by
them and the DMA's stream widths are the beat widths. Format 1 (builds before several values per
beat) is refused with the advice to rebuild.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from msq_overlay.packing import LANES, BeatFormat, FixedType

FORMAT = 2
#: the stream format of each side; format-1 manifests (one value per beat) have none of them
BEAT_KEYS = ("beat_bits", "values_per_beat", "beats_per_sample")
REBUILD = "rebuild with `python -m flow build ... --force`"
MANIFEST_NAME = "manifest.json"
REQUIRED = ("format", "overlay", "board", "part", "ip", "dma", "input", "output")
#: the AXI DMA as the block design configures it (``flow/build/steps.py`` ``dma_parameters``)
DMA_KEYS = ("name", "length_width", "max_transfer_bytes", "mm2s_stream_bits", "s2mm_stream_bits",
            "mm2s_mm_bits", "s2mm_mm_bits", "dre")
#: AXI DMA 7.1 memory-mapped data widths (PG021) and buffer length register widths
DMA_MM_BITS = (32, 64, 128, 256, 512, 1024)
DMA_LENGTH_WIDTHS = range(8, 27)


@dataclass(frozen=True)
class StreamSpec:
    shape: tuple
    type: FixedType
    beat: BeatFormat

    @property
    def count(self) -> int:
        return self.beat.count

    @property
    def lane_bits(self) -> int:
        return self.beat.lane_bits

    @property
    def beat_bits(self) -> int:
        return self.beat.beat_bits

    @property
    def beats_per_sample(self) -> int:
        return self.beat.beats_per_sample

    @property
    def bytes_per_sample(self) -> int:
        return self.beat.bytes_per_sample

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "StreamSpec":
        try:
            shape, t = tuple(int(d) for d in data["shape"]), FixedType.from_dict(data["type"])
            lane = int(data["lane_bits"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{where}: needs shape, type (width, integer, signed) and lane_bits ({exc})") from None
        missing = [k for k in BEAT_KEYS if k not in data]
        if missing:
            raise ValueError(f"{where}: lacks the stream beat format {missing} (it was written by an older build that "
                             f"streams one value per beat); {REBUILD}")
        if lane not in LANES or t.width > lane:
            raise ValueError(f"{where}: lane_bits {lane} must be one of {LANES} and hold {t}")
        count = 1
        for d in shape:
            count *= d
        try:
            beat = BeatFormat(data["beat_bits"], lane, data["values_per_beat"], count)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if data["beats_per_sample"] != beat.beats_per_sample:
            raise ValueError(f"{where}: beats_per_sample {data['beats_per_sample']!r} is not ceil({count} values / "
                             f"{beat.values_per_beat} per beat) = {beat.beats_per_sample}")
        return cls(shape, t, beat)

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "type": self.type.to_dict(), **self.beat.to_dict()}


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
    return check_manifest(data, path)


def check_manifest(data: dict, path="<manifest>") -> dict:
    """Check a manifest's contents (a dict as in the JSON file); adds ``input_spec``, ``output_spec``, ``path``."""
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"overlay manifest {path}: missing keys {missing}")
    if data["format"] == 1:
        raise ValueError(f"overlay manifest {path}: format 1 (one value per stream beat) is older than this driver "
                         f"(format {FORMAT}: several values per beat); {REBUILD}")
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
    data = dict(data)
    data["input_spec"] = StreamSpec.from_dict(data["input"], f"{path}: input")
    data["output_spec"] = StreamSpec.from_dict(data["output"], f"{path}: output")
    _check_dma(data["dma"], data["input_spec"], data["output_spec"], path)
    data["path"] = str(path)
    return data


def _check_dma(dma: dict, input_spec: StreamSpec, output_spec: StreamSpec, path) -> None:
    missing = [k for k in DMA_KEYS if k not in dma]
    if missing:
        raise ValueError(
            f"overlay manifest {path}: 'dma' lacks {missing} (the DMA's widths, transfer limit and DRE); it was "
            f"written by an older build: {REBUILD}"
        )

    def integer(key, allowed=None):
        value = dma[key]
        if isinstance(value, bool) or not isinstance(value, int) or (allowed is not None and value not in allowed):
            choices = f" (one of {list(allowed)})" if allowed is not None else ""
            raise ValueError(f"overlay manifest {path}: 'dma.{key}' is {value!r}, expected an integer{choices}")
        return value

    width = integer("length_width", DMA_LENGTH_WIDTHS)
    if integer("max_transfer_bytes") != (1 << width) - 1:
        raise ValueError(
            f"overlay manifest {path}: 'dma.max_transfer_bytes' {dma['max_transfer_bytes']} is not "
            f"2**length_width - 1 = {(1 << width) - 1}"
        )
    for direction, spec, side in (("mm2s", input_spec, "input"), ("s2mm", output_spec, "output")):
        stream, mm = integer(f"{direction}_stream_bits"), integer(f"{direction}_mm_bits", DMA_MM_BITS)
        if stream != spec.beat_bits:
            raise ValueError(
                f"overlay manifest {path}: 'dma.{direction}_stream_bits' {stream} is not the {side} beat width "
                f"({spec.beat_bits} bits): the DMA stream and the accelerator's port disagree"
            )
        if mm < stream:
            raise ValueError(
                f"overlay manifest {path}: 'dma.{direction}_mm_bits' {mm} is narrower than its stream ({stream} bits)"
            )
    if not isinstance(dma["dre"], bool):
        raise ValueError(f"overlay manifest {path}: 'dma.dre' is {dma['dre']!r}, expected true or false")


def write_manifest(data: dict, path) -> Path:
    path = Path(path)
    clean = {k: v for k, v in data.items() if k not in ("input_spec", "output_spec", "path")}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True))
    return path
