"""``MSQOverlay``: a ``pynq.Overlay`` for an MSQ flow accelerator (numpy + pynq only).

    from msq_overlay.driver import MSQOverlay
    ol = MSQOverlay("build/overlay/msq_accel.bit")      # .hwh and manifest.json next to it
    y = ol.predict(x_test)                              # packs, streams, unpacks, runs the float head
    ol.last_timing                                      # inferences/s, latency per batch

The IP and DMA instance names, the register offsets and the I/O types come from the overlay's
manifest (written by ``python -m flow build`` from the variables the Tcl scripts read) and are
checked against the ``.hwh``'s IP dictionary (names, and the DMA's widths, transfer length and
DRE); nothing is hard-coded here. Samples travel in the manifest's beat format (several values per
stream beat, each sample padded to whole beats, :mod:`msq_overlay.packing`); the DMA buffers hold
beats, so their sizes are samples x beats per sample x beat bytes.

Each batch is guarded: ``predict`` refuses to start an accelerator whose ``ap_idle`` is not set
(:class:`AcceleratorBusyError`), waits for each DMA channel with a deadline (``TimeoutError``
naming the channel and the bytes) instead of pynq's unbounded ``wait()``, and checks that the
output stream delivered exactly the bytes expected (:class:`ShortTransferError`).
"""

from __future__ import annotations

import numbers
import time
from pathlib import Path

import numpy as np
import pynq

from msq_overlay.files import check_files
from msq_overlay.head import FloatHead
from msq_overlay.hwh import dma_parameters
from msq_overlay.packing import pack_beats, unpack_beats

AP_START, AP_IDLE = 0x1, 0x4  # the HLS control register's ap_start and ap_idle bits
#: the default deadline of one batch: this many seconds, plus the time to stream its bytes at
#: TIMEOUT_BYTES_PER_S and to run TIMEOUT_CYCLES_PER_SAMPLE accelerator cycles per sample, both
#: far slower than the hardware (the HP port moves hundreds of MB/s): only a stall reaches it
TIMEOUT_BASE_S = 5.0
TIMEOUT_BYTES_PER_S = 1e6
TIMEOUT_CYCLES_PER_SAMPLE = 1e6
#: the DMA parameters the .hwh and the manifest must agree on (pynq's DMA driver reads them)
CHECKED_DMA_PARAMETERS = ("c_include_sg", "c_sg_length_width", "c_m_axi_mm2s_data_width", "c_m_axi_s2mm_data_width",
                          "c_m_axis_mm2s_tdata_width", "c_s_axis_s2mm_tdata_width", "c_include_mm2s_dre",
                          "c_include_s2mm_dre")
RELOAD_HINT = "create the overlay again (MSQOverlay(bitfile)) to reprogram and reset the DMA and the accelerator"


class AcceleratorBusyError(RuntimeError):
    """The accelerator's ``ap_idle`` is not set before a run: a previous run never finished."""


class DMAError(RuntimeError):
    """The AXI DMA halted on an error (its status register names which)."""


#: AXI DMA status register (MM2S_DMASR 0x04, S2MM_DMASR 0x34) error bits, PG021.
DMASR_ERRORS = {0x10: "DMAIntErr (internal: e.g. more stream data than the transfer length before TLAST)",
                0x20: "DMASlvErr (the memory slave answered SLVERR)", 0x40: "DMADecErr (no memory at the address)"}
DMASR_OFFSET = {"MM2S": 0x04, "S2MM": 0x34}


class ShortTransferError(RuntimeError):
    """The output stream ended (TLAST) at another byte count than the batch needs."""


def _resolve(obj, dotted: str):
    for part in dotted.replace("/", ".").split("."):
        obj = getattr(obj, part)
    return obj


class MSQOverlay(pynq.Overlay):
    """Overlay with ``predict``; forwards every ``pynq.Overlay`` argument (``device`` included)."""

    def __init__(self, bitfile_name, manifest=None, dtbo=None, download=True, ignore_version=False, device=None,
                 max_batch: int | None = None, timeout_s: float | None = None):
        """``timeout_s``: seconds one batch (one DMA round trip) may take; ``None`` derives it from the
        batch (:meth:`batch_timeout`). ``max_batch`` caps the samples per batch."""
        self.timeout_s = _check_timeout(timeout_s)
        simulated = bool(getattr(device, "simulated", False))
        self.manifest = check_files(bitfile_name, manifest, need_hwh=not simulated)
        super().__init__(str(Path(bitfile_name).resolve()), dtbo=dtbo, download=download,
                         ignore_version=ignore_version, device=device)
        self._check_ip_dict()
        self.dma = _resolve(self, self.manifest["dma"]["name"])
        self.accel = _resolve(self, self.manifest["ip"]["name"])
        self.input_spec = self.manifest["input_spec"]
        self.output_spec = self.manifest["output_spec"]
        head = self.manifest.get("head")
        self.head = FloatHead.load(Path(self.manifest["path"]).parent / head) if head else None
        limit = int(self.manifest["dma"]["max_transfer_bytes"])
        per_sample = max(self.input_spec.bytes_per_sample, self.output_spec.bytes_per_sample)
        self.max_batch = max(1, min(int(max_batch or 1 << 30), limit // per_sample))
        self._in_buf = self._out_buf = None
        self.last_timing: dict = {}

    def _check_ip_dict(self):
        names = list(self.ip_dict)
        for section in ("ip", "dma"):
            name = self.manifest[section]["name"]
            if name not in self.ip_dict:
                raise ValueError(
                    f"overlay manifest {self.manifest['path']} names {section} '{name}', which the hardware handoff "
                    f"({Path(self.bitfile_name).with_suffix('.hwh').name}) does not have; its IPs are {names}"
                )
        name = self.manifest["dma"]["name"]
        have = self.ip_dict[name].get("parameters") or {}
        want = dma_parameters(self.manifest)
        differ = [f"{k}={have[k]} (manifest: {want[k]})" for k in CHECKED_DMA_PARAMETERS
                  if k in have and str(have[k]).strip() != want[k]]
        if differ:
            raise ValueError(
                f"the hardware handoff ({Path(self.bitfile_name).with_suffix('.hwh').name}) configures DMA '{name}' "
                f"with {', '.join(differ)}: it and overlay manifest {self.manifest['path']} come from different builds "
                f"(rebuild with python -m flow build ... --force)"
            )

    def _buffers(self, batch: int):
        """DMA buffers of beats for at least ``batch`` samples (reallocated only to grow)."""
        spec_in, spec_out = self.input_spec, self.output_spec
        if self._in_buf is None or len(self._in_buf) < batch * spec_in.beats_per_sample:
            for buf in (self._in_buf, self._out_buf):
                if buf is not None:
                    buf.freebuffer()
            size = min(self.max_batch, max(batch, 1))
            self._in_buf = pynq.allocate((size * spec_in.beats_per_sample,), spec_in.beat.dtype, target=self.device)
            self._out_buf = pynq.allocate((size * spec_out.beats_per_sample,), spec_out.beat.dtype, target=self.device)
        return self._in_buf, self._out_buf

    def _check_alignment(self, buf, direction: str):
        """Without the DMA's data realignment engine a buffer must start on its memory-mapped width."""
        dma = self.manifest["dma"]
        align = dma[f"{direction}_mm_bits"] // 8
        if not dma["dre"] and buf.physical_address % align:
            raise ValueError(
                f"{direction.upper()} buffer at physical address 0x{buf.physical_address:x} is not aligned to "
                f"{align} bytes: DMA '{dma['name']}' has no data realignment engine (DRE), so its buffers must start "
                f"on its {dma[f'{direction}_mm_bits']}-bit memory width (pynq.allocate gives page-aligned buffers)"
            )

    def batch_timeout(self, samples: int) -> float:
        """The deadline in seconds for one batch of ``samples``: ``timeout_s`` if given, else
        ``TIMEOUT_BASE_S`` + its bytes at ``TIMEOUT_BYTES_PER_S`` + ``TIMEOUT_CYCLES_PER_SAMPLE`` cycles a sample."""
        if self.timeout_s is not None:
            return self.timeout_s
        nbytes = samples * (self.input_spec.bytes_per_sample + self.output_spec.bytes_per_sample)
        clock_hz = float(self.manifest.get("clock_mhz") or 100.0) * 1e6
        return TIMEOUT_BASE_S + nbytes / TIMEOUT_BYTES_PER_S + samples * TIMEOUT_CYCLES_PER_SAMPLE / clock_hz

    def check_input(self, x) -> np.ndarray:
        """``x`` as float64 of shape ``(batch, *input shape)``; a clear error otherwise."""
        x = np.asarray(x)
        shape = self.input_spec.shape
        expected = f"(batch, {', '.join(map(str, shape))})"
        if x.dtype.kind not in "fiu":
            raise TypeError(f"predict: inputs must be real numbers (float or int), got dtype {x.dtype}; expected shape {expected}")
        if tuple(x.shape) == tuple(shape):
            x = x[None]
        if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape) or len(x) == 0:
            raise ValueError(f"predict: expected inputs of shape {expected}, got {x.shape}")
        return x.astype(np.float64)

    def predict(self, x, raw: bool = False, timeout_s: float | None = None) -> np.ndarray:
        """Run the accelerator (and the float head unless ``raw``) on ``x``; ``timeout_s`` overrides the
        overlay's deadline per batch for this call."""
        timeout_s = _check_timeout(timeout_s)
        x = self.check_input(x)
        n = len(x)
        words = pack_beats(x.reshape(n, -1), self.input_spec.type, self.input_spec.beat)
        out = np.empty((n, self.output_spec.beats_per_sample), dtype=self.output_spec.beat.dtype)
        start = time.perf_counter()
        batches = 0
        for lo in range(0, n, self.max_batch):
            hi = min(n, lo + self.max_batch)
            out[lo:hi] = self._run_batch(words[lo:hi], timeout_s)
            batches += 1
        seconds = time.perf_counter() - start
        self.last_timing = {
            "samples": n,
            "batches": batches,
            "seconds": seconds,
            "inferences_per_s": n / seconds if seconds > 0 else float("inf"),
            "latency_per_batch_s": seconds / batches,
        }
        y = unpack_beats(out, self.output_spec.type, self.output_spec.beat).reshape((n, *self.output_spec.shape))
        return y if raw or self.head is None else self.head.predict(y)

    def self_test(self) -> dict:
        """Run the overlay's C-simulation reference inputs; the outputs must be equal, bit for bit."""
        name = self.manifest.get("reference")
        if not name:
            raise ValueError(f"overlay manifest {self.manifest['path']} names no C-simulation reference")
        path = Path(self.manifest["path"]).parent / name
        if not path.exists():
            raise FileNotFoundError(f"C-simulation reference {path} does not exist")
        with np.load(path) as ref:
            x, expected = ref["x"], ref["y_backbone"]
        got = self.predict(x, raw=True)
        equal = int(np.sum(got == expected))
        return {"outputs": int(expected.size), "equal": equal, "passed": equal == expected.size}

    def _run_batch(self, words: np.ndarray, timeout_s: float | None = None) -> np.ndarray:
        k = len(words)
        in_buf, out_buf = self._buffers(k)
        self._check_alignment(in_buf, "mm2s")
        self._check_alignment(out_buf, "s2mm")
        n_in, n_out = k * self.input_spec.beats_per_sample, k * self.output_spec.beats_per_sample
        in_bytes, out_bytes = n_in * in_buf.itemsize, n_out * out_buf.itemsize
        in_buf[:n_in] = words.reshape(-1)
        in_buf.flush()
        regs = self.manifest["ip"]["registers"]
        ctrl = self.accel.read(regs["ctrl"])
        if not ctrl & AP_IDLE:
            raise AcceleratorBusyError(
                f"accelerator '{self.manifest['ip']['name']}' is busy or stalled: its control register reads 0x{ctrl:x} "
                f"(ap_idle not set) before ap_start, so a previous run never finished; {RELOAD_HINT}"
            )
        self.accel.write(regs["n_samples"], k)
        self.accel.write(regs["ctrl"], AP_START)
        send, recv = self.dma.sendchannel, self.dma.recvchannel
        recv.transfer(out_buf, nbytes=out_bytes)
        send.transfer(in_buf, nbytes=in_bytes)
        timeout = timeout_s if timeout_s is not None else self.batch_timeout(k)
        deadline = time.monotonic() + timeout
        self._wait(send, in_bytes, deadline, timeout, k)
        self._wait(recv, out_bytes, deadline, timeout, k)
        received = recv.transferred
        if received != out_bytes:
            raise ShortTransferError(
                f"S2MM (accelerator output) received {received} bytes up to TLAST, expected {out_bytes} "
                f"({k} samples x {self.output_spec.beats_per_sample} beats x {out_buf.itemsize} bytes): the accelerator's "
                f"output stream and the manifest's output shape or beat format disagree"
            )
        out_buf.invalidate()
        return np.array(out_buf[:n_out]).reshape(k, self.output_spec.beats_per_sample)

    def _wait(self, channel, nbytes: int, deadline: float, timeout: float, samples: int):
        """pynq's ``channel.wait()`` once the channel is idle, a ``DMAError`` naming the status bits
        when it halted on an error, or a ``TimeoutError`` at ``deadline``."""
        while not channel.idle and not channel.error:
            if time.monotonic() > deadline:
                raise TimeoutError(self._timeout_message(channel, nbytes, timeout, samples))
        if channel.error:  # pynq's wait() would only say "DMA channel not started" on a halted channel
            raise DMAError(self._error_message(channel, nbytes, samples))
        channel.wait()

    def _error_message(self, channel, nbytes, samples) -> str:
        name = "MM2S" if channel is self.dma.sendchannel else "S2MM"
        status = self.dma.read(DMASR_OFFSET[name])
        errors = [text for bit, text in DMASR_ERRORS.items() if status & bit] or ["an error bit"]
        return (f"{name} DMA channel halted with {', '.join(errors)}: status register 0x{status:x}, {samples} samples, "
                f"{nbytes} bytes expected; {RELOAD_HINT}")

    def _timeout_message(self, channel, nbytes, timeout, samples) -> str:
        send = channel is self.dma.sendchannel
        name = "MM2S (memory to stream, accelerator input)" if send else "S2MM (stream to memory, accelerator output)"
        ctrl = self.accel.read(self.manifest["ip"]["registers"]["ctrl"])
        other = ""
        if not send:
            sent = self.dma.sendchannel.transferred
            other = f"; MM2S has finished ({sent} bytes sent)"
        cause = ("the accelerator took no (or not all of its) input" if send
                 else "the accelerator took its input but its output stream never reached TLAST")
        return (
            f"{name} did not finish within {timeout:.3g} s ({samples} samples): expected {nbytes} bytes, moved so far "
            f"{channel.transferred} bytes (the DMA in simple mode reports the count only when a transfer completes)"
            f"{other}; accelerator control register 0x{ctrl:x} (ap_idle {int(bool(ctrl & AP_IDLE))}): {cause}. "
            f"The hardware is left stalled: {RELOAD_HINT}"
        )


def _check_timeout(timeout_s):
    if timeout_s is None:
        return None
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, numbers.Real) or not timeout_s > 0:
        raise ValueError(f"timeout_s must be a positive number of seconds (or None), got {timeout_s!r}")
    return float(timeout_s)
