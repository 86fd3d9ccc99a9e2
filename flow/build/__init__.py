"""From a trained model to a PYNQ overlay: ``python -m flow build MODEL --board B --out DIR``.

Named, resumable steps (see :mod:`flow.build.steps`; ``--rtl``: the RTL route, Verilog from
:mod:`flow.rtl` packaged by Vivado, no Vitis HLS); the Vitis HLS and Vivado steps run where
those tools are on PATH and otherwise stop with the exact command to run (never a pretend
bitstream).
"""

from flow.build.config import BuildConfig
from flow.build.names import NAMES, AccelNames
from flow.build.runner import build
from flow.build.steps import RTL_STEPS, STEPS, steps_for
from flow.build.tools import ToolFailed, ToolMissing

__all__ = ["NAMES", "RTL_STEPS", "STEPS", "steps_for", "AccelNames", "BuildConfig", "ToolFailed", "ToolMissing", "build"]
