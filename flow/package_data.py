"""Where the files that ship inside the ``flow`` package live (wheel or editable install alike).

    flow/hls_templates/nnet_utils/   C++ kernels copied into every hls4ml project
    flow/hls_templates/accel/        the AXI-stream top, its header and the C-simulation bridge
    flow/hls_templates/tcl/          static Vitis HLS / Vivado scripts (read build_vars.tcl)
    flow/hls_templates/calibration/  Verilog processing elements measured by ``flow calibrate``
    flow/resources/calibration.json  the measured PE costs the estimator reads

:func:`check_templates` is called where the backend is created, so an install that lost its
package data fails there, naming the missing files, instead of later inside a C++ compile.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "hls_templates"
CALIBRATION = PACKAGE / "resources" / "calibration.json"

#: Files every install must have (every kernel header the backend copies into a project).
REQUIRED = (
    "nnet_utils/nnet_msq_dense.h",
    "nnet_utils/nnet_msq_conv.h",
    "nnet_utils/nnet_msq_stream.h",
    "nnet_utils/nnet_lq_dense.h",
    "nnet_utils/nnet_lq_conv.h",
    "nnet_utils/nnet_lq_activation.h",
    "accel/msq_axi_top.cpp",
    "accel/msq_axi_top.h",
    "accel/msq_axi_bridge.cpp",
    "tcl/vitis_hls_build.tcl",
    "tcl/vivado_block_design.tcl",
    "calibration/pe_blocks.v",
)


class PackageDataMissing(RuntimeError):
    """The installed ``flow`` package lacks files it ships with (a broken or partial install)."""


def check_templates() -> Path:
    """The template directory, or an error listing what an install lost."""
    missing = [name for name in REQUIRED if not (TEMPLATES / name).is_file()]
    if not CALIBRATION.is_file():
        missing.append(str(CALIBRATION.relative_to(PACKAGE.parent)))
    if missing:
        raise PackageDataMissing(
            f"the msq-flow install at {PACKAGE} is missing its package data ({', '.join(missing)} under {TEMPLATES}); "
            "reinstall it (pip install --force-reinstall msq-flow, or pip install -e . from a checkout)"
        )
    return TEMPLATES
