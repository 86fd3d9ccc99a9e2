"""Runs the board-side tests (overlays/tests) in the separate board environment (.venv-board:
pynq 4.0.0, numpy, no TensorFlow) against overlays built here, through the simulated PYNQ device."""

from __future__ import annotations

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
