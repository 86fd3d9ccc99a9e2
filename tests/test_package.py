"""Installable package: templates and calibration ship inside ``flow``, a plain (non-editable) wheel
install converts and compiles a model, a broken install fails loudly, CPU kernels build into a user cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from flow import golden

ROOT = Path(__file__).resolve().parents[1]


def _wheel(source: Path, dist: Path, name: str) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(source)], check=True, cwd=dist)
    return next(dist.glob(f"{name}-*.whl"))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("src")  # build from a copy: a wheel build must not write into the checkout
    src = work / "msq-flow"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv*", ".git", "out", "build", "*.egg-info",
                                                              "__pycache__", "tests", "notebooks", "bench"))
    return _wheel(src, dist, "msq_flow"), _wheel(src / "overlays", dist, "msq_overlay")


def test_wheel_ships_templates_and_calibration(wheels):
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    from flow.package_data import REQUIRED

    for name in REQUIRED:
        assert f"flow/hls_templates/{name}" in names, name
    assert "flow/resources/calibration.json" in names and "flow/lq/lq_kernel.cpp" in names
    assert not any(n.startswith("flow/lq/_build") or n.endswith(".so") for n in names)


def test_non_editable_install_converts_and_compiles(wheels, tmp_path):
    """A fresh venv with only the two wheels installed (dependencies are borrowed from this
    environment's site-packages through a .pth line, which does not run its editable-install hooks)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "host_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", *map(str, wheels)], check=True)
    model = tmp_path / "msq4.h5"
    shutil.copy(golden.GOLDEN_DIR / "digits_msq4.h5", model)
    script = f"""
import numpy as np, flow, msq_overlay
from pathlib import Path
site = Path({str(site)!r})
assert Path(flow.__file__).is_relative_to(site), flow.__file__
assert Path(msq_overlay.__file__).is_relative_to(site), msq_overlay.__file__
from flow.convert import ConvertConfig, convert
model = flow.load_model({str(model)!r})
hm = convert(model, {str(tmp_path / 'prj')!r}, ConvertConfig(), force=True)
x = np.random.default_rng(0).integers(0, 64, (20, 64)) / 16.0
assert np.array_equal(hm.predict(np.ascontiguousarray(x)).reshape(20, -1), model.predict(x, verbose=0))
print("wheel install: C-sim equals Keras")
"""
    env = {**os.environ, "MSQ_FLOW_CACHE": str(tmp_path / "cache"), "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([py, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "C-sim equals Keras" in proc.stdout
    assert (tmp_path / "prj" / "firmware" / "nnet_utils" / "nnet_msq_dense.h").exists()


def test_missing_headers_fail_where_the_backend_is_created(tmp_path, monkeypatch):
    import flow.package_data as pd

    monkeypatch.setattr(pd, "TEMPLATES", tmp_path / "hls_templates")
    with pytest.raises(pd.PackageDataMissing, match=r"nnet_msq_dense.h.*reinstall"):
        pd.check_templates()
    from flow.hls.backend import MSQBackend

    monkeypatch.setattr("flow.hls.backend.check_templates", pd.check_templates)
    with pytest.raises(pd.PackageDataMissing, match="missing its package data"):
        MSQBackend()


def test_cpu_kernel_builds_into_the_user_cache(tmp_path, monkeypatch):
    from flow.lq import cpu

    monkeypatch.setenv("MSQ_FLOW_CACHE", str(tmp_path / "cache"))
    lib = cpu.build_library()
    assert lib.is_relative_to(tmp_path / "cache") and lib.exists()
    assert not list(Path(cpu.__file__).parent.glob("**/*.so"))  # nothing compiled into the package
    assert cpu.build_library() == lib  # cached
    monkeypatch.setattr(cpu, "FLAGS", [*cpu.FLAGS, "-DMSQ_OTHER_FLAGS"])
    assert cpu.build_library() != lib  # keyed by the flags


def test_cpu_kernel_without_a_compiler_says_so(tmp_path, monkeypatch):
    from flow.lq import cpu

    monkeypatch.setenv("MSQ_FLOW_CACHE", str(tmp_path / "cache"))
    built = cpu.build_library()
    monkeypatch.setattr(cpu.shutil, "which", lambda name: None)
    assert cpu.build_library() == built  # a cached build needs no compiler
    monkeypatch.setenv("MSQ_FLOW_CACHE", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match=r"needs a C\+\+ compiler \(g\+\+\).*apt-get install g\+\+"):
        cpu.build_library()
