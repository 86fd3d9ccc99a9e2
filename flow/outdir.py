"""Output directories: refuse a file, an unwritable place or (without ``force``) a non-empty one."""

from __future__ import annotations

import shutil
from pathlib import Path


def check_writable(out: Path, what: str) -> None:
    """Create ``out`` (and parents) and prove a file can be written there; one-line errors otherwise."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{what} {out} is a file, not a directory; choose another path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".msq_write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"cannot write the {what} {out}: {exc.strerror or exc}; choose another path") from None


def prepare(out: str | Path, what: str, force: bool, may_replace=lambda out: False,
            hint: str = "pass --force (force=True) to replace it") -> Path:
    """``out`` ready to be written: empty, or replaced when ``force`` (or ``may_replace(out)``)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{what} {out} is a file, not a directory; choose another path")
    if out.exists() and any(out.iterdir()):
        if not force and not may_replace(out):
            raise FileExistsError(f"{what} {out} exists and is not empty; {hint}")
        shutil.rmtree(out)
    check_writable(out, what)
    return out
