"""Overlay manifest and file checks (numpy only): errors name the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from msq_overlay.files import check_files, md5sum
from msq_overlay.manifest import load_manifest


@pytest.fixture
def overlay_dir(overlay_builds, tmp_path):
    cfg, _ = overlay_builds["mlp"]
    out = tmp_path / "ov"
    shutil.copytree(Path(cfg.out) / "overlay", out)
    (out / "msq_accel.bit").write_bytes(b"stand-in bytes for the md5 check only")
    (out / "msq_accel.hwh").write_text("<stand-in/>")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["bitstream"] = {"file": "msq_accel.bit", "md5": md5sum(out / "msq_accel.bit")}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


pytestmark = pytest.mark.csim  # the fixture builds (and C-simulates) an overlay directory


def test_good_files_pass(overlay_dir):
    manifest = check_files(overlay_dir / "msq_accel.bit")
    assert manifest["input_spec"].count == 64 and manifest["ip"]["name"] == "msq_accel_0"


def test_missing_and_mismatched_files(overlay_dir):
    bit = overlay_dir / "msq_accel.bit"
    with pytest.raises(FileNotFoundError, match="other.bit"):
        check_files(overlay_dir / "other.bit")
    (overlay_dir / "msq_accel.hwh").unlink()
    with pytest.raises(FileNotFoundError, match="msq_accel.hwh"):
        check_files(bit)
    (overlay_dir / "msq_accel.hwh").write_text("<stand-in/>")
    bit.write_bytes(b"a different bitstream")
    with pytest.raises(ValueError, match=r"msq_accel.bit \(md5 .*\) does not match overlay manifest .*manifest.json"):
        check_files(bit)
    (overlay_dir / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="manifest.json does not exist"):
        check_files(bit)


def test_manifest_errors(overlay_dir):
    path = overlay_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["bitstream"] = None
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="records no bitstream"):
        check_files(overlay_dir / "msq_accel.bit")
    data["bitstream"] = {"file": "msq_accel.bit", "md5": "0"}
    del data["ip"]["registers"]["n_samples"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"'ip.registers.n_samples' \(an AXI-lite offset\) is missing"):
        load_manifest(path)
    data["ip"]["registers"]["n_samples"] = 16
    del data["dma"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"missing keys \['dma'\]"):
        load_manifest(path)
    data["dma"] = {"name": "axi_dma_0"}
    data["input"]["lane_bits"] = 4
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="input: lane_bits 4"):
        load_manifest(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_manifest(path)
