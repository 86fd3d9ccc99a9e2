"""Verilator simulation of the RTL top: a shared library with the HLS bridge's C ABI, and
:class:`RTLModel`, whose ``predict`` streams samples through the AXI wrapper like a DMA would.

    design = emit(hls_model, "out/rtl")          # Verilog + rtl.json
    model = RTLModel(design)                     # builds libmsq_rtl_sim.so with Verilator once
    y = model.predict(x)                         # == hls_model.predict(x) == Keras, bit for bit
    model.predict(x, stalls=(30, 30))            # random TVALID/TREADY stalls: the same outputs

``libmsq_rtl_sim.so`` exports ``msq_axi_run`` and the ``msq_axi_<format>`` functions of
``msq_axi_bridge.cpp``, so :mod:`msq_overlay.simlib` (and ``SimDevice``) can load it in place of the
C-simulation library.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from flow.package_data import TEMPLATES
from flow.rtl.design import RTLDesign

HARNESS = TEMPLATES / "rtl" / "msq_rtl_harness.cpp"
LIBRARY = "libmsq_rtl_sim.so"


def require_verilator() -> str:
    path = shutil.which("verilator")
    if path is None:
        raise RuntimeError("verilator is not on PATH; install it (Debian/Ubuntu: `apt-get install verilator`, 5.006 "
                           "works) to simulate the RTL")
    return path


def verilator_version() -> str:
    return subprocess.run([require_verilator(), "--version"], check=True, capture_output=True, text=True).stdout.strip()


def lint(verilog: Path) -> list[str]:
    """``verilator --lint-only -Wall`` on the design: its warnings (empty when clean)."""
    proc = subprocess.run([require_verilator(), "--lint-only", "-Wall", "--top-module", "msq_rtl_top", str(verilog)],
                          capture_output=True, text=True)
    return lint_lines(proc)


def lint_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """Verilator's ``%`` lines; a failed run without any is reported too (a crash is not a clean lint)."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("%")]
    if proc.returncode != 0 and not lines:
        lines = [f"%Error: verilator exited {proc.returncode} without a message: {proc.stderr.strip()[-300:]}"]
    return lines


def _defines(design: RTLDesign) -> list[str]:
    i, o = design.in_stream, design.out_stream
    values = {"N_IN": i.count, "N_OUT": o.count, "IN_LANE": i.lane, "OUT_LANE": o.lane, "IN_BEAT": i.beat,
              "OUT_BEAT": o.beat, "SAMPLE_CYCLES": design.sample_cycles}
    return [f"-DMSQ_RTL_{k}={v}" for k, v in values.items()]


def build_library(design: RTLDesign, jobs: int = 2) -> Path:
    """Verilate the top and link it with the harness into ``design.directory/libmsq_rtl_sim.so``."""
    verilator = require_verilator()
    lib = design.directory / LIBRARY
    obj = design.directory / "verilator"
    if obj.exists():
        shutil.rmtree(obj)
    cmd = [verilator, "--cc", "--exe", "--build", "-j", str(jobs), "--top-module", "msq_rtl_top", "-Mdir", str(obj),
           "-CFLAGS", " ".join(["-fPIC", "-O1", *_defines(design)]), "-LDFLAGS", "-shared", "-o", str(lib.resolve()),
           str(design.verilog.resolve()), str(HARNESS)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not lib.exists():
        raise RuntimeError(f"Verilator build of {design.verilog} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return lib


class RTLModel:
    """The RTL top simulated cycle by cycle in Verilator, fed and read through its AXI streams."""

    def __init__(self, design: RTLDesign, rebuild: bool = False):
        from msq_overlay.simlib import library_format, load_library

        self.design = design
        lib_path = design.directory / LIBRARY
        if rebuild or not lib_path.exists():
            build_library(design)
        self.lib = load_library(lib_path)
        self.lib.msq_rtl_set_stalls.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint]
        self.lib.msq_rtl_cycles.restype = ctypes.c_ulonglong
        want = {"n_in": design.in_stream.count, "n_out": design.out_stream.count}
        have = library_format(self.lib)
        if any(have[k] != v for k, v in want.items()):
            raise ValueError(f"{lib_path} was built for another design ({have}); rebuild (RTLModel(..., rebuild=True))")
        self.cycles = 0

    def predict(self, x, stalls: tuple[int, int] = (0, 0), seed: int = 1) -> np.ndarray:
        """Outputs (float64, ``(samples, n_out)``) for inputs ``(samples, n_in)``: raw floats are quantized to
        the input type like Keras (:func:`msq_overlay.packing.quantize_codes`). ``stalls``: percent of cycles
        with input TVALID / output TREADY low. ``self.cycles``: clock cycles of the run."""
        from msq_overlay.packing import pack_beats, unpack_beats
        from msq_overlay.simlib import RUN_ERRORS, run

        d = self.design
        x = np.asarray(x).reshape(len(x), -1)
        if x.shape[1] != d.in_stream.count:
            raise ValueError(f"RTLModel.predict: expected {d.in_stream.count} input values per sample, got {x.shape[1]}")
        if not all(0 <= int(s) < 100 for s in stalls):
            raise ValueError(f"stalls: percentages in [0, 100), got {stalls}")
        words = pack_beats(x, d.in_type, d.in_format)
        self.lib.msq_rtl_set_stalls(int(seed), int(stalls[0]), int(stalls[1]))
        want = len(x) * d.out_format.beats_per_sample
        n, out = run(self.lib, words.reshape(-1), len(x), want + 1)
        if n < 0:
            raise RuntimeError(f"RTL simulation failed: {RUN_ERRORS.get(n, n)}")
        if n != want:
            raise RuntimeError(f"RTL simulation returned {n} output beats, expected {want}")
        self.cycles = int(self.lib.msq_rtl_cycles())
        return unpack_beats(out[:n].reshape(len(x), -1), d.out_type, d.out_format)
