"""The C-simulation library of the AXI top (``libmsq_axi_sim.so``) through ctypes (numpy only, no pynq).

``python -m flow build`` compiles it from the same ``msq_axi_top.cpp`` the HLS tools synthesize plus
``msq_axi_bridge.cpp``; the build's own check and :class:`msq_overlay.sim.SimDevice` call it::

    lib = load_library("build/overlay/libmsq_axi_sim.so")
    check_format(lib, load_manifest("build/overlay"))      # the stream format compiled in == the manifest's
    n, beats = run(lib, words, n_samples, max_out)          # n: output beats up to TLAST, or an error code
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

#: what the library reports about its stream format (``msq_axi_<name>()``), in the manifest's terms
LIBRARY_FORMAT = ("n_in", "n_out", "in_lane", "out_lane", "in_beat", "out_beat", "in_per_beat", "out_per_beat",
                  "in_beats", "out_beats")
#: ``msq_axi_run``'s error codes (msq_axi_bridge.cpp)
RUN_ERRORS = {-1: "no TLAST", -2: "output buffer too small", -3: "beats after TLAST", -4: "TKEEP/TSTRB not all ones",
              -5: "input beats left unread",
              -6: "an output beat changed or was withdrawn while TREADY was low (RTL harness only)",
              -7: "the control register did not read ap_idle before ap_start (RTL IP harness only)",
              -8: "ap_done was never read from the control register, or an AXI-Lite transaction went unanswered "
                  "(RTL IP harness only)"}
REBUILD = "rebuild with `python -m flow build ... --force`"


def load_library(path) -> ctypes.CDLL:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"C-simulation library {path} does not exist (python -m flow build compiles it)")
    lib = ctypes.CDLL(str(path))
    lib.msq_axi_run.restype = ctypes.c_int
    lib.msq_axi_run.argtypes = [
        ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint, ctypes.POINTER(ctypes.c_uint64), ctypes.c_uint, ctypes.c_uint,
    ]
    for name in LIBRARY_FORMAT:
        try:
            getattr(lib, f"msq_axi_{name}").restype = ctypes.c_uint
        except AttributeError:
            raise ValueError(f"C-simulation library {path} has no msq_axi_{name}: it was built by an older flow "
                             f"(one value per stream beat); {REBUILD}") from None
    return lib


def library_format(lib) -> dict:
    """The stream format compiled into the library (``msq_axi_config``)."""
    return {name: int(getattr(lib, f"msq_axi_{name}")()) for name in LIBRARY_FORMAT}


def manifest_format(manifest: dict) -> dict:
    """The same figures as :func:`library_format`, from a loaded manifest."""
    i, o = manifest["input_spec"], manifest["output_spec"]
    return {"n_in": i.count, "n_out": o.count, "in_lane": i.lane_bits, "out_lane": o.lane_bits, "in_beat": i.beat_bits,
            "out_beat": o.beat_bits, "in_per_beat": i.beat.values_per_beat, "out_per_beat": o.beat.values_per_beat,
            "in_beats": i.beats_per_sample, "out_beats": o.beats_per_sample}


def check_format(lib, manifest: dict) -> None:
    """An error naming each figure where the library and the manifest disagree."""
    have, want = library_format(lib), manifest_format(manifest)
    differ = [f"{k} {have[k]} (manifest: {want[k]})" for k in LIBRARY_FORMAT if have[k] != want[k]]
    if differ:
        raise ValueError(f"C-simulation library's stream format ({', '.join(differ)}) does not match overlay manifest "
                         f"{manifest.get('path', '')}")


def run(lib, words, n_samples: int, max_out: int) -> tuple[int, np.ndarray]:
    """Stream ``words`` (beats, TLAST on the last) through the AXI top for ``n_samples`` samples: (the
    number of output beats up to and including TLAST, or a negative code of :data:`RUN_ERRORS`; the
    ``max_out`` output beats as uint64)."""
    words = np.ascontiguousarray(np.asarray(words).astype(np.uint64).reshape(-1))
    out = np.zeros(max_out, dtype=np.uint64)
    n = lib.msq_axi_run(words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), len(words),
                        out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), max_out, int(n_samples))
    return int(n), out
