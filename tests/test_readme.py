"""Every command the README shows runs, as written, from the repository root of a fresh copy.

Fenced ``bash`` blocks: each line is a command (a trailing ``# ...`` comment is dropped; ``(exit N)`` in it
is the documented exit code, 0 otherwise). Fenced ``python`` blocks: one script each, run from the root
with the project environment, or with the board environment when its first line names ``.venv-board``.
``bench/README.md``'s run lines (``.venv/bin/python bench/...`` with ``[optional]`` flags) run with their
defaults. Everything runs in order with ``MSQ_SMALL=1`` (tiny epochs, see ``flow.small``), in a copy
of the working tree (tracked and untracked, not ignored files) with the environments linked in.
``make test`` is the one command not run here: it is the command running this test (CI runs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = {"make test": "it runs this test suite (CI runs it as .ci/run)"}
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
BENCH_LINE = re.compile(r"`(\.venv/bin/python bench/[^`]+)`")


@dataclass(frozen=True)
class Command:
    kind: str  # 'bash', 'python' or 'board-python'
    text: str
    exit_code: int
    source: str  # file:line

    def __str__(self):
        return f"{self.source}: {self.text.splitlines()[0]}"


def _bash_commands(block: str, source: str) -> list[Command]:
    commands = []
    for line in block.splitlines():
        text, _, comment = line.partition("  #")
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        code = re.search(r"\(exit (\d+)", comment)
        commands.append(Command("bash", text, int(code.group(1)) if code else 0, source))
    return commands


def readme_commands(path: Path = ROOT / "README.md") -> list[Command]:
    text = path.read_text()
    commands = []
    for m in FENCE.finditer(text):
        lang, block = m.group(1), m.group(2)
        source = f"{path.name}:{text[: m.start()].count(chr(10)) + 1}"
        if lang == "bash":
            commands += _bash_commands(block, source)
        elif lang == "python":
            kind = "board-python" if ".venv-board" in block.splitlines()[0] else "python"
            commands.append(Command(kind, block, 0, source))
    return commands


def bench_commands(path: Path = ROOT / "bench" / "README.md") -> list[Command]:
    text = path.read_text()
    commands = []
    for m in BENCH_LINE.finditer(text):
        line = re.sub(r"\s*\[[^\]]*\]", "", m.group(1)).strip()  # optional flags: their defaults
        commands.append(Command("bash", line, 0, f"{path.name}:{text[: m.start()].count(chr(10)) + 1}"))
    return commands


def test_extraction_finds_the_commands():
    commands = readme_commands()
    texts = [c.text for c in commands]
    assert "make demo" in texts and "make test" in texts
    assert any(t.startswith(".venv/bin/python -m flow build out/demo/models/digits_msq4.h5") for t in texts)
    assert [c.exit_code for c in commands if " build " in c.text] == [3, 3]  # HLS route, then --rtl
    assert sum(c.kind == "python" for c in commands) >= 2 and sum(c.kind == "board-python" for c in commands) == 1
    assert {c.text.split()[1] for c in bench_commands()} == {
        "bench/ablations.py", "bench/learned_width.py", "bench/lq_cpu.py", "bench/measured_share.py", "bench/vgg_stream.py",
        "bench/sweep_mnist1d.py",
    }


def _copy_tree(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)  # keeps mtimes: make sees the environment stamps as up to date
    for env in (".venv", ".venv-board"):
        (dest / env).symlink_to(ROOT / env, target_is_directory=True)


def _run(command: Command, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    if command.kind == "bash":
        return subprocess.run(["bash", "-c", command.text], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    python = ".venv-board/bin/python" if command.kind == "board-python" else ".venv/bin/python"
    return subprocess.run([str(cwd / python), "-"], input=command.text, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1800)


@pytest.mark.slow
@pytest.mark.csim
def test_every_readme_command_runs_as_written(tmp_path):
    for tool in ("vitis_hls", "vivado"):
        if shutil.which(tool):
            pytest.skip(f"{tool} is on PATH: the README's build command would run the real tools (hours)")
    for env_dir in (".venv", ".venv-board"):
        if not (ROOT / env_dir / "bin" / "python").exists():
            pytest.skip(f"{env_dir} missing; `make test` creates it")
    # the linked environments belong to the checkout: `make demo` in the copy must find them up to date,
    # or it would reinstall them (editable) from the copy
    if subprocess.run(["make", "-q", "env", "board-env"], cwd=ROOT, capture_output=True).returncode != 0:
        pytest.skip("the environments are older than requirements/pyproject files: run `make env board-env` (make test does)")
    clone = tmp_path / "clone"
    clone.mkdir()
    _copy_tree(clone)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    env.update(MSQ_SMALL="1", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    ran = []
    for command in readme_commands() + bench_commands():
        if command.text in NOT_RUN:
            continue
        proc = _run(command, clone, env)
        report = f"{command}\nexit {proc.returncode}, expected {command.exit_code}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert proc.returncode == command.exit_code, report
        ran.append(str(command))
    assert len(ran) >= 10, ran
    # what the commands promise, checked on what they wrote
    assert (clone / "build" / "msq4" / "overlay" / "manifest.json").exists()
    assert (clone / "out" / "demo" / "models" / "digits_msq4.h5").exists()
