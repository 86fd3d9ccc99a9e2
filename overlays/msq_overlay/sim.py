"""``SimDevice``: a ``pynq.Device`` whose DMA transfers run the accelerator's C-simulation.

Off-board testing as PYNQ's own tests do it (a ``pynq.Device`` subclass), with the real
``pynq.Overlay``, driver binding and ``pynq.lib.dma.DMA`` driver. The overlay metadata (IP
dictionary) comes from the manifest instead of a ``.hwh``, because no hardware handoff exists
before Vivado has run; the DMA register writes are served by ``libmsq_axi_sim.so``, the
g++ build of the same AXI top and model the HLS tools synthesize (``python -m flow build``
compiles it), called through ctypes with the raw stream words::

    dev = SimDevice("build/overlay")            # manifest.json + libmsq_axi_sim.so
    ol = MSQOverlay(dev.placeholder_bitfile(), device=dev)
    y = ol.predict(x)

Nothing here is or pretends to be a bitstream: ``placeholder_bitfile`` writes a text file
saying so, in a temporary directory, with a manifest copy that records its md5.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pynq
from pynq.buffer import PynqBuffer

from msq_overlay.manifest import MANIFEST_NAME, load_manifest, write_manifest

SIM_LIBRARY = "libmsq_axi_sim.so"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
MM2S, S2MM = 0x00, 0x30
CR, SR, ADDR, ADDR_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
SR_IDLE = 0x2
PLACEHOLDER_TEXT = b"SIMULATION PLACEHOLDER: not a bitstream. Written by msq_overlay.sim for SimDevice only.\n"


def _load_library(path: Path):
    if not path.exists():
        raise FileNotFoundError(f"C-simulation library {path} does not exist (python -m flow build compiles it)")
    lib = ctypes.CDLL(str(path))
    lib.msq_axi_run.restype = ctypes.c_int
    lib.msq_axi_run.argtypes = [
        ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint, ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint, ctypes.c_uint,
    ]
    for name in ("msq_axi_n_in", "msq_axi_n_out", "msq_axi_in_lane", "msq_axi_out_lane"):
        getattr(lib, name).restype = ctypes.c_uint
    return lib


class SimDevice(pynq.Device):
    """A simulated Zynq: registers, contiguous buffers, an AXI DMA (simple mode) and the accelerator."""

    simulated = True
    DMA_BASE = 0x40400000
    IP_BASE = 0x43C00000

    def __init__(self, package_dir, library=None, tag: str = "msq_sim0"):
        super().__init__(tag)
        self.package_dir = Path(package_dir)
        self.manifest = load_manifest(self.package_dir / MANIFEST_NAME)
        self.lib = _load_library(Path(library) if library else self.package_dir / SIM_LIBRARY)
        self._check_library()
        self.name = self.manifest["board"]
        self.capabilities = {"REGISTER_RW": True}
        self.arch = "armv7l"
        self.timestamp = ""
        self.bitfile_name = None
        self.registers: dict[int, int] = {}
        self.buffers: dict[int, PynqBuffer] = {}
        self._next_address = 0x10000000
        self._pending_input = None
        self._tmp = None

    def _check_library(self):
        m, lib = self.manifest, self.lib
        have = (lib.msq_axi_n_in(), lib.msq_axi_n_out(), lib.msq_axi_in_lane(), lib.msq_axi_out_lane())
        want = (m["input_spec"].count, m["output_spec"].count, m["input_spec"].lane_bits, m["output_spec"].lane_bits)
        if have != want:
            raise ValueError(
                f"C-simulation library (n_in, n_out, lanes {have}) does not match overlay manifest {m['path']} ({want})"
            )

    # -- overlay metadata ------------------------------------------------------------------
    def _ip_dict(self) -> dict:
        m = self.manifest
        common = {"fullpath": None, "mem_id": None, "state": None, "interrupts": {}, "gpio": {}, "registers": {}}
        dma = dict(common, fullpath=m["dma"]["name"], type=DMA_VLNV, phys_addr=self.DMA_BASE, addr_range=0x10000,
                   parameters={"c_include_sg": "0", "c_sg_length_width": "26", "c_include_mm2s": "1",
                               "c_include_s2mm": "1", "c_m_axi_mm2s_data_width": "32",
                               "c_m_axi_s2mm_data_width": "32", "c_micro_dma": "0",
                               "c_include_mm2s_dre": "1", "c_include_s2mm_dre": "1"})
        ip = dict(common, fullpath=m["ip"]["name"], type=m["ip"].get("vlnv", "msq:hls:accel:1.0"),
                  phys_addr=self.IP_BASE, addr_range=0x10000, parameters={})
        return {m["dma"]["name"]: dma, m["ip"]["name"]: ip}

    def get_bitfile_metadata(self, bitfile_name, partial=False):
        return SimpleNamespace(ip_dict=self._ip_dict(), gpio_dict={}, interrupt_controllers={}, interrupt_pins={},
                               hierarchy_dict={}, mem_dict={}, clock_dict={}, systemgraph=None)

    def download(self, bitstream, parser=None):
        self.post_download(bitstream, parser, self.name)

    def placeholder_bitfile(self, directory=None) -> str:
        """A text file standing in for the .bit, with a manifest copy that records its md5."""
        from msq_overlay.files import md5sum

        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="msq_sim_")
            directory = self._tmp.name
        directory = Path(directory)
        bit = directory / "msq_accel.sim.bit"
        bit.write_bytes(PLACEHOLDER_TEXT)
        data = json.loads(Path(self.manifest["path"]).read_text())
        data["bitstream"] = {"file": bit.name, "md5": md5sum(bit), "simulated": True}
        write_manifest(data, directory / MANIFEST_NAME)
        for key in ("head", "reference"):
            if data.get(key):
                shutil.copy(self.package_dir / data[key], directory / data[key])
        return str(bit)

    # -- memory ------------------------------------------------------------------------------
    def allocate(self, shape, dtype, **kwargs):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        address = self._next_address
        self._next_address += (nbytes + 0xFFF) & ~0xFFF
        buf = PynqBuffer(shape, dtype, device=self, device_address=address, coherent=True)
        self.buffers[address] = buf
        return buf

    def _buffer_at(self, address: int, nbytes: int) -> np.ndarray:
        for base, buf in self.buffers.items():
            if base <= address and address + nbytes <= base + buf.nbytes:
                start = address - base
                return buf.view(np.uint8).reshape(-1)[start : start + nbytes]
        raise RuntimeError(f"simulated DMA: no allocated buffer at 0x{address:x} (+{nbytes} bytes)")

    # -- registers -----------------------------------------------------------------------------
    def read_registers(self, address, length):
        value = SR_IDLE if address in (self.DMA_BASE + MM2S + SR, self.DMA_BASE + S2MM + SR) else self.registers.get(address, 0)
        return int(value).to_bytes(length, "little")

    def write_registers(self, address, data):
        value = int.from_bytes(bytes(data), "little")
        self.registers[address] = value
        if address == self.DMA_BASE + MM2S + LENGTH:
            self._stream_in(value)
        elif address == self.DMA_BASE + S2MM + LENGTH and self._pending_input is not None:
            self._deliver()

    def _reg(self, base, offset):
        return self.registers.get(base + offset, 0)

    def _stream_in(self, nbytes):
        spec = self.manifest["input_spec"]
        src = self._reg(self.DMA_BASE, MM2S + ADDR) | (self._reg(self.DMA_BASE, MM2S + ADDR_MSB) << 32)
        words = self._buffer_at(src, nbytes).view(np.dtype(f"u{spec.lane_bits // 8}")).astype(np.uint64)
        self._pending_input = words
        if self._reg(self.DMA_BASE, S2MM + LENGTH):
            self._deliver()

    def _deliver(self):
        regs = self.manifest["ip"]["registers"]
        ctrl = self.IP_BASE + regs["ctrl"]
        if not self.registers.get(ctrl, 0) & 0x1:
            raise RuntimeError("simulated accelerator: data streamed in before ap_start was written; it would hang")
        n_samples = self.registers.get(self.IP_BASE + regs["n_samples"], 0)
        words, self._pending_input = np.ascontiguousarray(self._pending_input), None
        out_spec = self.manifest["output_spec"]
        capacity = self._reg(self.DMA_BASE, S2MM + LENGTH) // (out_spec.lane_bits // 8)
        out = np.zeros(capacity, dtype=np.uint64)
        n = self.lib.msq_axi_run(
            words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), len(words),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), capacity, n_samples,
        )
        if n < 0:
            raise RuntimeError(f"simulated accelerator: stream error {n} (-1 no TLAST, -2 output buffer too small, -3 words after TLAST)")
        dst = self._reg(self.DMA_BASE, S2MM + ADDR) | (self._reg(self.DMA_BASE, S2MM + ADDR_MSB) << 32)
        lane = np.dtype(f"u{out_spec.lane_bits // 8}")
        self._buffer_at(dst, n * lane.itemsize)[:] = out[:n].astype(lane).view(np.uint8)
        self.registers[self.DMA_BASE + S2MM + LENGTH] = n * lane.itemsize  # bytes actually received (up to TLAST)
        self.registers[ctrl] = 0x6  # ap_done | ap_idle
