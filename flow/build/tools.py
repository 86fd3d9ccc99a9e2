"""Running the vendor tools: found on PATH or a clear stop with the exact command to run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class ToolMissing(RuntimeError):
    """A step needs a tool that is not on this machine; ``command`` is what to run where it is."""

    def __init__(self, step: str, tool: str, command: str, cwd: Path):
        self.step, self.tool, self.command, self.cwd = step, tool, command, Path(cwd)
        super().__init__(
            f"step '{step}' needs {tool}, which is not on PATH here. On a machine with {tool} (sourced "
            f"settings64.sh), run:\n    cd {self.cwd} && {command}\nthen continue with --resume."
        )


class ToolFailed(RuntimeError):
    pass


def run_tool(step: str, tool: str, args: list[str], cwd: Path, log: Path) -> None:
    """Run ``tool args`` in ``cwd``, output to ``log``; raises on a missing tool or a non-zero exit."""
    command = " ".join([tool, *args])
    exe = shutil.which(tool)
    if exe is None:
        raise ToolMissing(step, tool, command, cwd)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        proc = subprocess.run([exe, *args], cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise ToolFailed(f"step '{step}': `{command}` exited with {proc.returncode}; see {log}")


def run_checked(args: list[str], cwd: Path, log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        proc = subprocess.run(args, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise ToolFailed(f"{what}: `{' '.join(args)}` exited with {proc.returncode}; see {log}")
