"""Checks that a bitstream, its hardware handoff and its manifest belong together (no pynq needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from msq_overlay.manifest import MANIFEST_NAME, load_manifest


def md5sum(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_files(bitfile, manifest_path=None, need_hwh: bool = True) -> dict:
    """Check the .bit, .hwh and manifest belong together; returns the manifest. Errors name the file."""
    bit = Path(bitfile)
    if not bit.exists():
        raise FileNotFoundError(f"bitstream {bit} does not exist (build it with python -m flow build on a machine with Vivado)")
    hwh = bit.with_suffix(".hwh")
    if need_hwh and not hwh.exists():
        raise FileNotFoundError(f"hardware handoff {hwh} does not exist; PYNQ needs it next to {bit.name}")
    manifest = load_manifest(manifest_path or bit.parent / MANIFEST_NAME)
    recorded = manifest.get("bitstream") or {}
    if not recorded.get("md5"):
        raise ValueError(f"overlay manifest {manifest['path']} records no bitstream; the build did not reach the bitstream step")
    actual = md5sum(bit)
    if actual != recorded["md5"]:
        raise ValueError(
            f"bitstream {bit} (md5 {actual}) does not match overlay manifest {manifest['path']} "
            f"(md5 {recorded['md5']}): the manifest belongs to another build"
        )
    return manifest
