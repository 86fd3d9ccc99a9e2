"""Notebooks 1, 2, 5 (host environment) and 4 (board environment, simulated device) run green with
small settings and show their plots; notebook 3 (vendor tools) is checked for syntax only."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BOARD_PYTHON = Path(os.environ.get("MSQ_BOARD_PYTHON", ROOT / ".venv-board" / "bin" / "python"))

pytestmark = pytest.mark.csim

EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
"""


def _execute(python, name, workdir, env_extra, tmp_path) -> nbformat.NotebookNode:
    out = tmp_path / f"executed_{name}"
    env = dict(os.environ, **env_extra)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(python), "-c", EXECUTE, str(NOTEBOOKS / name), str(workdir), str(out)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return nbformat.read(out, as_version=4)


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _text(nb) -> str:
    return "".join(o.get("text", "") for o in _outputs(nb) if o.get("output_type") == "stream")


def _images(nb) -> int:
    return sum(1 for o in _outputs(nb) if "image/png" in o.get("data", {}))


def test_notebooks_1_and_2(tmp_path):
    import sys

    env = {"MSQ_NOTEBOOK_SMALL": "1", "MSQ_NOTEBOOK_OUT": str(tmp_path / "out"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    nb1 = _execute(sys.executable, "1_train_and_quantize.ipynb", ROOT, env, tmp_path)
    assert "saved" in _text(nb1) and _images(nb1) >= 1
    assert (tmp_path / "out" / "msq4.h5").exists()
    nb2 = _execute(sys.executable, "2_convert_csim_estimate.ipynb", ROOT, env, tmp_path)
    text = _text(nb2)
    assert "C-sim vs Keras: 4500 / 4500 outputs equal" in text and "best: SP2 share" in text
    assert _images(nb2) >= 1


def test_notebook_5_lq(tmp_path):
    import sys

    env = {"MSQ_NOTEBOOK_SMALL": "1", "MSQ_NOTEBOOK_OUT": str(tmp_path / "out"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    nb5 = _execute(sys.executable, "5_lq_binary.ipynb", ROOT, env, tmp_path)
    text = _text(nb5)
    assert "C-sim vs Keras: 4500 / 4500 outputs equal" in text and "LQDense" in text and "LQActivation" in text
    assert "| 3 |" in text and "LQ int1: about" in text
    assert _images(nb5) >= 2


def test_notebook_4_on_the_simulated_device(overlay_builds, digits, tmp_path):
    if not BOARD_PYTHON.exists():
        pytest.skip(f"board environment {BOARD_PYTHON} missing; `make test` creates it")
    cfg, _ = overlay_builds["mlp"]
    overlay = Path(cfg.out) / "overlay"
    np.savez(overlay / "samples.npz", x=digits.x_test, y=digits.y_test)
    nb4 = _execute(BOARD_PYTHON, "4_run_on_pynq.ipynb", ROOT, {"MSQ_OVERLAY_DIR": str(overlay)}, tmp_path)
    text = _text(nb4)
    assert "simulated device (C-simulation): pynq-z2" in text
    assert "'passed': True" in text and "accuracy on 450 digits" in text
    assert _images(nb4) >= 1


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_valid_and_compile(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert not _outputs(nb), f"{path.name} is committed with outputs; clear them"
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        compile(cell.source, f"{path.name}[{i}]", "exec")
    assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3"
