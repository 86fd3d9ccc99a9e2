"""Run the build steps in order: resumable, each with its log and time, stopping honestly.

``state.json`` in the build directory records every step (status ``done``, ``blocked`` by a
missing tool, or ``failed``), its seconds and its log. ``resume=True`` skips the done steps;
a new build into a non-empty directory needs ``force=True`` (which replaces it).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from flow.build.config import BuildConfig
from flow.build.steps import BuildContext, save_state, steps_for
from flow.build.tools import ToolMissing
from flow.outdir import prepare


def _stopped_at_fit_gate(state_file: Path) -> bool:
    """A build refused by the fit gate holds only its state and the estimate: nothing to lose
    (anything else in the directory, e.g. a file the user put there, needs --force)."""
    out = state_file.parent
    files = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    if not files <= {"state.json", "logs", "logs/fit.log"}:
        return False
    try:
        steps = json.loads(state_file.read_text()).get("steps", {})
    except (OSError, ValueError):
        return False
    return list(steps) == ["fit"] and steps["fit"].get("status") == "failed"


def _prepare(out: Path, resume: bool, force: bool) -> dict:
    state_file = out / "state.json"
    if resume:
        if not state_file.exists():
            raise FileNotFoundError(f"cannot resume: {state_file} does not exist (start the build without --resume)")
        return json.loads(state_file.read_text())
    prepare(out, "build directory", force, may_replace=lambda d: _stopped_at_fit_gate(d / "state.json"),
            hint="pass --resume to continue it or --force to replace it")
    return {}


#: Settings that do not change what the steps produce (resuming with another value is fine).
RESUME_FREE = ("jobs", "allow_overbudget")


def config_fingerprint(cfg: BuildConfig) -> dict:
    """What a build's artifacts depend on: every setting, the model's absolute path and its content hash."""
    data = {k: v for k, v in cfg.to_dict().items() if k not in RESUME_FREE}
    if not data.get("rtl"):  # the HLS route's fingerprint as before --rtl existed (older builds still resume)
        data.pop("rtl", None)
    data["model"] = str(Path(cfg.model).resolve())
    data["model_sha256"] = hashlib.sha256(Path(cfg.model).read_bytes()).hexdigest()
    return data


def check_resume(out: Path, state: dict, fingerprint: dict) -> None:
    """Resuming with other settings or another model file would mix artifacts: an error naming what changed."""
    old = state.get("fingerprint")
    if old is None:
        old = {**state.get("config", {}), "model_sha256": fingerprint["model_sha256"]}
        old = {k: v for k, v in old.items() if k not in RESUME_FREE}
        if "model" in old:
            old["model"] = str(Path(old["model"]).resolve())
    changed = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
    if changed:
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {fingerprint.get(k)!r}" for k in changed if k != "model_sha256")
        if "model_sha256" in changed:
            detail = ", ".join(filter(None, [detail, "the model file's content changed"]))
        raise ValueError(f"cannot resume {out}: the build was started with other settings ({detail}); "
                         "pass --force to start over")


def build(cfg: BuildConfig, resume: bool = False, force: bool = False, until: str | None = None, echo=print,
          optimize: bool = False) -> dict:
    """Run the steps; returns the state. Stops at the first step whose tool is missing.

    ``optimize``: replace the strategy / reuse factor by the fastest design estimated to fit
    (:func:`flow.build.fit_gate.optimize_config`) before anything is written.
    """
    if optimize:
        from flow.build.fit_gate import optimize_config

        cfg = optimize_config(cfg, echo)
    plan = steps_for(cfg)
    names = [name for name, _ in plan]
    if until is not None and until not in names:  # before anything in the build directory is touched
        raise ValueError(f"until: '{until}' is not a step{' of the RTL route' if cfg.rtl else ''}; steps are {names}")
    out = Path(cfg.out).resolve()  # tools run with cwd=out, so every path handed to them must be absolute
    state = _prepare(out, resume, force)
    fingerprint = config_fingerprint(cfg)
    if resume:
        check_resume(out, state, fingerprint)
    state.setdefault("steps", {})
    state["config"] = cfg.to_dict()
    state["fingerprint"] = fingerprint
    ctx = BuildContext(cfg, out, state, echo)
    (ctx.logs).mkdir(parents=True, exist_ok=True)
    for name, step in plan:
        record = state["steps"].get(name, {})
        if record.get("status") == "done":
            echo(f"[{name}] done earlier, skipped")
            continue
        start = time.perf_counter()
        try:
            step(ctx)
        except ToolMissing as exc:
            state["steps"][name] = {"status": "blocked", "tool": exc.tool, "command": exc.command, "seconds": 0.0}
            state["stopped"] = {"step": name, "reason": str(exc)}
            save_state(ctx)
            echo(f"[{name}] blocked: {exc}")
            return state
        except Exception as exc:
            state["steps"][name] = {"status": "failed", "error": str(exc), "seconds": round(time.perf_counter() - start, 2)}
            save_state(ctx)
            raise
        seconds = round(time.perf_counter() - start, 2)
        with open(ctx.log(name), "a") as fh:
            fh.write(f"step {name}: done in {seconds:.2f} s\n")
        state["steps"][name] = {"status": "done", "seconds": seconds, "log": str(ctx.log(name).relative_to(out))}
        state.pop("stopped", None)
        save_state(ctx)
        echo(f"[{name}] done in {seconds:.1f} s")
        if name == until:
            break
    return state
