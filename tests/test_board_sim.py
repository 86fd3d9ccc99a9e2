"""Runs the board-side tests (overlays/tests) in the separate board environment (.venv-board:
pynq 4.0.0, numpy, no TensorFlow) against overlays built here, through the simulated PYNQ device."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOARD_PYTHON = Path(os.environ.get("MSQ_BOARD_PYTHON", ROOT / ".venv-board" / "bin" / "python"))

pytestmark = pytest.mark.csim


def run_board_pytest(args, env_extra, timeout=900):
    if not BOARD_PYTHON.exists():
        pytest.skip(f"board environment {BOARD_PYTHON} missing; `make test` (or `make board-env`) creates it")
    env = dict(os.environ, **env_extra)
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(BOARD_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_driver_in_board_environment_equals_csim(overlay_builds):
    dirs = os.pathsep.join(str(Path(cfg.out) / "overlay") for cfg, _ in overlay_builds.values())
    proc = run_board_pytest(["overlays/tests"], {"MSQ_OVERLAY_DIRS": dirs})
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert " failed" not in report and "passed" in report, report
    # everything ran but the real-board test
    assert "1 skipped" in report, report


DEPLOYED_CHECK = """
import json, sys
from pathlib import Path
import numpy as np
import msq_overlay
from msq_overlay.driver import MSQOverlay
from msq_overlay.sim import SimDevice
here = Path.cwd()
dev = SimDevice(here, metadata="hwh")  # the overlay metadata from the .hwh written by the copied package
ol = MSQOverlay(dev.placeholder_bitfile(), device=dev)
with np.load(here / "csim_reference.npz") as ref:
    equal = bool(np.array_equal(ol.predict(ref["x"], raw=True), ref["y_backbone"]))
print(json.dumps({"package": msq_overlay.__file__, "dma": type(ol.dma).__name__, "equal": equal}))
"""


def test_overlay_directory_runs_with_its_own_driver_copy(overlay_builds):
    """What a board gets is the overlay directory: its own msq_overlay copy (hwh.py included) must
    import and drive the simulated device, metadata parsed by pynq from the .hwh it writes."""
    if not BOARD_PYTHON.exists():
        pytest.skip(f"board environment {BOARD_PYTHON} missing; `make test` (or `make board-env`) creates it")
    for name, (cfg, _) in overlay_builds.items():
        overlay = Path(cfg.out) / "overlay"
        assert (overlay / "msq_overlay" / "hwh.py").exists(), f"{name}: the build did not copy msq_overlay/hwh.py"
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        proc = subprocess.run([str(BOARD_PYTHON), "-c", DEPLOYED_CHECK], cwd=overlay, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{name}: {proc.stdout}{proc.stderr}"
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert Path(result["package"]).parent == overlay / "msq_overlay", result  # the copy, not the installed package
        assert result["dma"] == "DMA" and result["equal"] is True, result
