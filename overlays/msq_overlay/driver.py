"""``MSQOverlay``: a ``pynq.Overlay`` for an MSQ flow accelerator (numpy + pynq only).

    from msq_overlay.driver import MSQOverlay
    ol = MSQOverlay("build/overlay/msq_accel.bit")      # .hwh and manifest.json next to it
    y = ol.predict(x_test)                              # packs, streams, unpacks, runs the float head
    ol.last_timing                                      # inferences/s, latency per batch

The IP and DMA instance names, the register offsets and the I/O types come from the overlay's
manifest (written by ``python -m flow build`` from the variables the Tcl scripts read) and are
checked against the ``.hwh``'s IP dictionary; nothing is hard-coded here.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pynq

from msq_overlay.head import FloatHead
from msq_overlay.files import check_files
from msq_overlay.packing import lane_dtype, pack, unpack

AP_START = 0x1


def _resolve(obj, dotted: str):
    for part in dotted.replace("/", ".").split("."):
        obj = getattr(obj, part)
    return obj


class MSQOverlay(pynq.Overlay):
    """Overlay with ``predict``; forwards every ``pynq.Overlay`` argument (``device`` included)."""

    def __init__(self, bitfile_name, manifest=None, dtbo=None, download=True, ignore_version=False, device=None,
                 max_batch: int | None = None):
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
        limit = int(self.manifest["dma"].get("max_transfer_bytes", (1 << 26) - 1))
        per_sample = max(self.input_spec.count * self.input_spec.lane_bits, self.output_spec.count * self.output_spec.lane_bits) // 8
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

    def _buffers(self, batch: int):
        if self._in_buf is None or len(self._in_buf) < batch * self.input_spec.count:
            for buf in (self._in_buf, self._out_buf):
                if buf is not None:
                    buf.freebuffer()
            size = min(self.max_batch, max(batch, 1))
            self._in_buf = pynq.allocate((size * self.input_spec.count,), lane_dtype(self.input_spec.lane_bits), target=self.device)
            self._out_buf = pynq.allocate((size * self.output_spec.count,), lane_dtype(self.output_spec.lane_bits), target=self.device)
        return self._in_buf, self._out_buf

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

    def predict(self, x, raw: bool = False) -> np.ndarray:
        """Run the accelerator (and the float head unless ``raw``) on ``x``."""
        x = self.check_input(x)
        n = len(x)
        words = pack(x.reshape(n, -1), self.input_spec.type, self.input_spec.lane_bits)
        out = np.empty((n, self.output_spec.count), dtype=lane_dtype(self.output_spec.lane_bits))
        start = time.perf_counter()
        batches = 0
        for lo in range(0, n, self.max_batch):
            hi = min(n, lo + self.max_batch)
            out[lo:hi] = self._run_batch(words[lo:hi])
            batches += 1
        seconds = time.perf_counter() - start
        self.last_timing = {
            "samples": n,
            "batches": batches,
            "seconds": seconds,
            "inferences_per_s": n / seconds if seconds > 0 else float("inf"),
            "latency_per_batch_s": seconds / batches,
        }
        y = unpack(out, self.output_spec.type).reshape((n, *self.output_spec.shape))
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

    def _run_batch(self, words: np.ndarray) -> np.ndarray:
        k = len(words)
        in_buf, out_buf = self._buffers(k)
        n_in, n_out = k * self.input_spec.count, k * self.output_spec.count
        in_buf[:n_in] = words.reshape(-1)
        in_buf.flush()
        regs = self.manifest["ip"]["registers"]
        self.accel.write(regs["n_samples"], k)
        self.accel.write(regs["ctrl"], AP_START)
        self.dma.recvchannel.transfer(out_buf, nbytes=n_out * out_buf.itemsize)
        self.dma.sendchannel.transfer(in_buf, nbytes=n_in * in_buf.itemsize)
        self.dma.sendchannel.wait()
        self.dma.recvchannel.wait()
        out_buf.invalidate()
        return np.array(out_buf[:n_out]).reshape(k, self.output_spec.count)
