"""``SimDevice``: a ``pynq.Device`` whose DMA transfers run the accelerator's C-simulation.

Off-board testing as PYNQ's own tests do it (a ``pynq.Device`` subclass), with the real
``pynq.Overlay``, driver binding and ``pynq.lib.dma.DMA`` driver. The overlay metadata (IP
dictionary) comes from the manifest, because no hardware handoff exists before Vivado has run
(or, with ``metadata="hwh"``, from a ``.hwh`` written from the manifest and parsed by pynq's
own parser, see :mod:`msq_overlay.hwh`); the DMA register writes are served by ``libmsq_axi_sim.so``, the
g++ build of the same AXI top and model the HLS tools synthesize (``python -m flow build``
compiles it), called through ctypes (:mod:`msq_overlay.simlib`) with the raw stream beats::

    dev = SimDevice("build/overlay")            # manifest.json + libmsq_axi_sim.so
    ol = MSQOverlay(dev.placeholder_bitfile(), device=dev)
    y = ol.predict(x)

Nothing here is or pretends to be a bitstream: ``placeholder_bitfile`` writes a text file
saying so, in a temporary directory, with a manifest copy that records its md5 and the
``.hwh`` written from the manifest.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pynq
from pynq.buffer import PynqBuffer

from msq_overlay.hwh import ADDR_RANGE, DMA_BASE, DMA_VLNV, IP_BASE, dma_parameters, write_hwh
from msq_overlay.manifest import MANIFEST_NAME, load_manifest, write_manifest
from msq_overlay.simlib import RUN_ERRORS, check_format, load_library, run

SIM_LIBRARY = "libmsq_axi_sim.so"
MM2S, S2MM = 0x00, 0x30
CR, SR, ADDR, ADDR_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
CR_RS, CR_RESET = 0x1, 0x4
SR_HALTED, SR_IDLE, SR_INT_ERR = 0x1, 0x2, 0x10
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4
#: what ``SimDevice.fault`` can make the hardware do
FAULTS = (None, "stall", "no_output", "short", "overlong")
PLACEHOLDER_TEXT = b"SIMULATION PLACEHOLDER: not a bitstream. Written by msq_overlay.sim for SimDevice only.\n"


def parse_hwh(path):
    """pynq's own parser for a ``.hwh`` (the one ``pynq.Overlay`` uses for a full bitstream)."""
    from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
    from pynqmetadata.frontends import Metadata

    return RuntimeMetadataParser(Metadata(input=str(path)))


class SimDevice(pynq.Device):
    """A simulated Zynq: registers, contiguous buffers, an AXI DMA (simple mode) and the accelerator.

    The DMA and the accelerator keep the status the real ones report: a DMA channel's status
    register says halted until its run bit is set, not idle from a length write until the
    transfer completes, and S2MM's length register then holds the bytes received up to TLAST;
    the accelerator's control register has ``ap_idle`` set except between ``ap_start`` and the
    end of its output (``ap_done`` clears on read). Tests break the hardware on purpose with
    ``fault`` (kept until changed; ``download``, i.e. reloading the overlay, resets the state):

    - ``"stall"``: the accelerator takes no input: MM2S and S2MM never finish, ``ap_idle`` stays 0;
    - ``"no_output"``: it takes the whole input and never sends TLAST: S2MM never finishes;
    - ``"short"``: its output stream ends (TLAST) one beat early.

    ``misalign`` offsets every buffer's physical address by that many bytes (``pynq.allocate``
    gives page-aligned buffers; without the DMA's DRE they must be aligned to its memory width).

    ``metadata="hwh"`` makes the overlay metadata come from a ``.hwh`` written next to the
    placeholder bitfile (``msq_overlay.hwh``) and parsed by pynq's own parser, instead of an
    IP dictionary built from the manifest.
    """

    simulated = True
    DMA_BASE = DMA_BASE
    IP_BASE = IP_BASE

    def __init__(self, package_dir, library=None, tag: str = "msq_sim0", metadata: str = "manifest"):
        super().__init__(tag)
        if metadata not in ("manifest", "hwh"):
            raise ValueError(f"SimDevice metadata must be 'manifest' or 'hwh', not {metadata!r}")
        self.package_dir = Path(package_dir)
        self.manifest = load_manifest(self.package_dir / MANIFEST_NAME)
        self.lib = load_library(Path(library) if library else self.package_dir / SIM_LIBRARY)
        check_format(self.lib, self.manifest)
        self.metadata = metadata
        self.name = self.manifest["board"]
        self.capabilities = {"REGISTER_RW": True}
        self.arch = "armv7l"
        self.timestamp = ""
        self.bitfile_name = None
        self.fault = None
        self.misalign = 0
        self.buffers: dict[int, PynqBuffer] = {}
        self._next_address = 0x10000000
        self._tmp = None
        self._reset_hardware()

    def _reset_hardware(self):
        """The state after programming the PL: DMA channels halted, the accelerator idle."""
        self.registers: dict[int, int] = {}
        self.channels = self._halted_channels()
        self.ctrl = AP_IDLE
        self._pending_input = None

    @staticmethod
    def _halted_channels():
        # idle is 0 from reset until a channel's first transfer completes, as on the real AXI DMA
        return {ch: {"running": False, "idle": False, "busy": False} for ch in (MM2S, S2MM)}

    # -- overlay metadata ------------------------------------------------------------------
    def _ip_dict(self) -> dict:
        m = self.manifest
        common = {"fullpath": None, "mem_id": None, "state": None, "interrupts": {}, "gpio": {}, "registers": {}}
        dma = dict(common, fullpath=m["dma"]["name"], type=DMA_VLNV, phys_addr=self.DMA_BASE, addr_range=ADDR_RANGE,
                   parameters=dma_parameters(m))
        ip = dict(common, fullpath=m["ip"]["name"], type=m["ip"].get("vlnv", "msq:hls:accel:1.0"),
                  phys_addr=self.IP_BASE, addr_range=ADDR_RANGE, parameters={})
        return {m["dma"]["name"]: dma, m["ip"]["name"]: ip}

    def get_bitfile_metadata(self, bitfile_name, partial=False):
        if self.metadata == "hwh":
            hwh = Path(bitfile_name).with_suffix(".hwh")
            if not hwh.exists():
                raise FileNotFoundError(f"hardware handoff {hwh} does not exist (SimDevice.placeholder_bitfile writes it)")
            parser = parse_hwh(hwh)
            parser.clock_dict = {}  # a simulated PS has no PL clocks to set
            return parser
        return SimpleNamespace(ip_dict=self._ip_dict(), gpio_dict={}, interrupt_controllers={}, interrupt_pins={},
                               hierarchy_dict={}, mem_dict={}, clock_dict={}, systemgraph=None)

    def download(self, bitstream, parser=None):
        self._reset_hardware()
        self.post_download(bitstream, parser, self.name)

    def placeholder_bitfile(self, directory=None) -> str:
        """A text file standing in for the .bit, with a manifest copy that records its md5 (and a .hwh)."""
        from msq_overlay.files import md5sum

        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="msq_sim_")
            directory = self._tmp.name
        directory = Path(directory)
        bit = directory / "msq_accel.sim.bit"
        bit.write_bytes(PLACEHOLDER_TEXT)
        data = json.loads(Path(self.manifest["path"]).read_text())
        data["bitstream"] = {"file": bit.name, "md5": md5sum(bit), "simulated": True}
        data["hwh"] = bit.with_suffix(".hwh").name
        write_manifest(data, directory / MANIFEST_NAME)
        write_hwh(self.manifest, bit.with_suffix(".hwh"), self.DMA_BASE, self.IP_BASE)
        for key in ("head", "reference"):
            if data.get(key):
                shutil.copy(self.package_dir / data[key], directory / data[key])
        return str(bit)

    # -- memory ------------------------------------------------------------------------------
    def allocate(self, shape, dtype, **kwargs):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        address = self._next_address + int(self.misalign)
        self._next_address += (nbytes + int(self.misalign) + 0xFFF) & ~0xFFF
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
    def _ctrl_address(self):
        return self.IP_BASE + self.manifest["ip"]["registers"]["ctrl"]

    def read_registers(self, address, length):
        if address in (self.DMA_BASE + MM2S + SR, self.DMA_BASE + S2MM + SR):
            state = self.channels[address - self.DMA_BASE - SR]
            value = (0 if state["running"] else SR_HALTED) | (SR_IDLE if state["idle"] else 0) | state.get("error", 0)
        elif address == self._ctrl_address():
            value, self.ctrl = self.ctrl, self.ctrl & ~AP_DONE  # ap_done clears on read
        else:
            value = self.registers.get(address, 0)
        return int(value).to_bytes(length, "little")

    def write_registers(self, address, data):
        value = int.from_bytes(bytes(data), "little")
        if address in (self.DMA_BASE + MM2S + CR, self.DMA_BASE + S2MM + CR):
            if value & CR_RESET:  # a soft reset of either channel resets the whole DMA
                self.channels = self._halted_channels()
                return
            self.channels[address - self.DMA_BASE - CR]["running"] = bool(value & CR_RS)
        elif address == self._ctrl_address():
            if value & AP_START:
                self.ctrl = AP_START
            return
        self.registers[address] = value
        if address == self.DMA_BASE + MM2S + LENGTH and self.channels[MM2S]["running"]:
            self.channels[MM2S].update(idle=False, busy=True)
            self._stream_in(value)
        elif address == self.DMA_BASE + S2MM + LENGTH and self.channels[S2MM]["running"]:
            self.channels[S2MM].update(idle=False, busy=True)
            if self._pending_input is not None:
                self._deliver()

    def _reg(self, base, offset):
        return self.registers.get(base + offset, 0)

    def _stream_in(self, nbytes):
        if self.fault not in FAULTS:
            raise ValueError(f"SimDevice.fault must be one of {FAULTS}, not {self.fault!r}")
        if not self.ctrl & AP_START:
            raise RuntimeError("simulated accelerator: data streamed in before ap_start was written; it would hang")
        if self.fault == "stall":
            return  # the accelerator takes nothing: MM2S never finishes
        spec = self.manifest["input_spec"]
        src = self._reg(self.DMA_BASE, MM2S + ADDR) | (self._reg(self.DMA_BASE, MM2S + ADDR_MSB) << 32)
        words = self._buffer_at(src, nbytes).view(spec.beat.dtype).astype(np.uint64)  # one uint64 per beat
        self._pending_input = words
        self.channels[MM2S].update(idle=True, busy=False)  # the whole buffer went into the accelerator's stream
        if self.channels[S2MM]["busy"]:
            self._deliver()

    def _deliver(self):
        if self.fault == "no_output":
            self._pending_input = None
            return  # input consumed, no TLAST ever: S2MM never finishes, the accelerator stays busy
        n_samples = self.registers.get(self.IP_BASE + self.manifest["ip"]["registers"]["n_samples"], 0)
        words, self._pending_input = np.ascontiguousarray(self._pending_input), None
        out_spec = self.manifest["output_spec"]
        beat = out_spec.beat.dtype
        capacity = self._reg(self.DMA_BASE, S2MM + LENGTH) // beat.itemsize
        n, out = run(self.lib, words, n_samples, capacity)
        if n < 0:
            raise RuntimeError(f"simulated accelerator: stream error {n}: {RUN_ERRORS.get(n, 'unknown')}")
        if self.fault == "short":
            n = max(n - 1, 0)  # TLAST one beat early
        if self.fault == "overlong":  # more words than S2MM's length before TLAST: PG021's DMAIntErr, channel halts
            self.channels[S2MM].update(running=False, busy=False, idle=False, error=SR_INT_ERR)
            self._pending_input = None
            return
        dst = self._reg(self.DMA_BASE, S2MM + ADDR) | (self._reg(self.DMA_BASE, S2MM + ADDR_MSB) << 32)
        self._buffer_at(dst, n * beat.itemsize)[:] = out[:n].astype(beat).view(np.uint8)
        self.registers[self.DMA_BASE + S2MM + LENGTH] = n * beat.itemsize  # bytes actually received (up to TLAST)
        self.channels[S2MM].update(idle=True, busy=False)
        self.ctrl = AP_DONE | AP_IDLE
