"""Run a sweep's trials as Ray tasks: local by default, on a running cluster with ``address``.

Layout of ``out``::

    spec.yaml                   the validated spec (``resume`` refuses a different one)
    cache/float_seed<N>.npz     float pre-training per seed (one Ray task each, before the trials; the driver
                                keeps the weights and ships them to that seed's trials via the object store)
    trials/<id>/record.json     one record per trial, written by the driver as the trial finishes
    trials/<id>/hls, model.h5   the trial's artifacts (on the node that ran it)
    results.csv, results.md     every record, flattened; the table sorted by accuracy per board
    pareto.png, best.json       the Pareto fronts; the best configuration per board that fits

On a cluster every node needs the same checkout installed (``make env``); only the driver writes records,
so ``out`` need not be shared (the trials' HLS projects stay on the node that ran them). Each trial is one
Ray task (``num_cpus=1``, a fresh worker process per trial, TensorFlow and BLAS
limited to one thread, no retries: a trial that raises is a ``failed`` record and the sweep goes on).
At most ``workers`` trials are in flight (default: the cluster's CPUs).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from flow.sweep.spec import SweepSpec, TrialParams, from_dict, load_spec, save_spec
from flow.sweep.trial import THREAD_ENV, new_record, run_trial, train_float

DONE = ("ok",)


@dataclass
class SweepResult:
    out: Path
    records: list[dict]
    ran: list[str]
    wall_s: float
    workers: int

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.records if r["status"] not in DONE]


def record_path(out: Path, trial_id: str) -> Path:
    return out / "trials" / trial_id / "record.json"


def read_records(out: Path, trials: list[TrialParams]) -> dict[str, dict]:
    """The records already written for ``trials`` (by id)."""
    found = {}
    for t in trials:
        path = record_path(out, t.trial_id)
        if path.exists():
            found[t.trial_id] = json.loads(path.read_text())
    return found


def write_record(out: Path, record: dict) -> None:
    path = record_path(out, record["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)


def prepare_out(spec: SweepSpec, out: Path, resume: bool, force: bool) -> None:
    """A fresh ``out`` (``force`` replaces one), or the same sweep's ``out`` to ``resume``."""
    from flow.outdir import check_writable, prepare

    if resume and force:
        raise ValueError("pass either --resume (keep the finished trials) or --force (start again), not both")
    if resume:
        saved = out / "spec.yaml"
        if not saved.exists():
            raise FileNotFoundError(f"{out} holds no sweep to resume (no spec.yaml); run without --resume")
        if load_spec(saved).to_dict() != spec.to_dict():
            raise ValueError(f"{saved} differs from the spec given: --resume continues the same sweep; "
                             "use another --out, or --force to start again")
        check_writable(out, "sweep output directory")
        return
    prepare(out, "sweep output directory", force, hint="pass --resume to continue it, or --force to start again")
    save_spec(spec, out / "spec.yaml")


def token_available() -> bool:
    """Whether a Ray authentication token is configured (environment or ``~/.ray/auth_token``)."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return True
    return (Path.home() / ".ray" / "auth_token").is_file()


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A clear error when nothing listens at ``host:port`` (``ray.init`` would retry for minutes)."""
    import socket

    host, sep, port = address.rpartition(":")
    if address in ("auto", "local") or address.startswith("ray://") or not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise RuntimeError(f"cannot connect to the Ray cluster at {address} ({exc.strerror or exc}); start it with "
                           "`ray start --head --port PORT` on the head machine, or leave --address out to run "
                           "locally") from None


def start_ray(address: str | None, workers: int | None):
    """``ray.init`` (local with ``workers`` CPUs, or the cluster at ``address``); returns (ray, started)."""
    if address:
        check_reachable(address)
        # Ray >= 2.59 starts `ray start --head` clusters with token authentication; a driver sends the token only in
        # token mode (read when ray is imported), and token mode without a token fails: so only when there is one
        if token_available():
            os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray

    if ray.is_initialized():
        return ray, False
    env = {"env_vars": dict(THREAD_ENV)}
    if address:
        try:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 (ConnectionError, ray.exceptions.AuthenticationError, ...)
            raise RuntimeError(f"cannot connect to the Ray cluster at {address} ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0]}); start it with `ray start --head` on the head machine "
                               "and, when it uses a token, copy the head's ~/.ray/auth_token here or set "
                               "RAY_AUTH_TOKEN; or leave --address out to run locally") from None
    else:
        ray.init(address="local", num_cpus=workers or os.cpu_count(), include_dashboard=False, runtime_env=env,
                 log_to_driver=False)
    return ray, True


def _remote_trial(spec_dict: dict, params: TrialParams, out: str, float_weights: list) -> dict:
    return run_trial(from_dict(spec_dict), params, out, float_weights)


def _remote_float(spec_dict: dict, seed: int) -> list:
    return train_float(from_dict(spec_dict), seed)


def float_cache(out: Path, seed: int) -> Path:
    return out / "cache" / f"float_seed{seed}.npz"


def float_weights(seeds: list[int], spec_dict: dict, out: Path, ray) -> dict[int, object]:
    """Per seed: the float weights (cached in ``out/cache`` by the driver, else one Ray task per seed), or the
    exception that stopped its training."""
    import numpy as np

    found, pending = {}, {}
    task = ray.remote(num_cpus=1, max_calls=1, max_retries=0)(_remote_float)
    for seed in seeds:
        path = float_cache(out, seed)
        if path.exists():
            with np.load(path) as arrays:
                found[seed] = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        else:
            pending[seed] = task.remote(spec_dict, seed)
    for seed, ref in pending.items():
        try:
            weights = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 (recorded as the failure of every trial of this seed)
            found[seed] = exc
            continue
        path = float_cache(out, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, *weights)
        tmp.replace(path)
        found[seed] = weights
    return found


def _crash_record(params: TrialParams, exc: Exception) -> dict:
    record = new_record(params)
    record["error"] = f"the Ray task died: {type(exc).__name__}: {exc}"
    return record


def _progress(total: int, enabled: bool | None):
    import sys

    from tqdm import tqdm

    disable = not sys.stderr.isatty() if enabled is None else not enabled
    return tqdm(total=total, desc="sweep", unit="trial", disable=disable)


def run_trials(todo: list[TrialParams], spec: SweepSpec, out: Path, workers: int, ray, on_record, progress=None):
    """Float pre-training per seed, then ``todo`` with at most ``workers`` in flight; ``on_record(record)`` as each
    one lands."""
    spec_dict = remote_spec(spec)
    weights = float_weights(sorted({t.seed for t in todo}), spec_dict, out, ray)
    refs = {seed: w if isinstance(w, Exception) else ray.put(w) for seed, w in weights.items()}
    task = ray.remote(num_cpus=1, max_calls=1, max_retries=0)(_remote_trial)
    pending, queue = {}, list(todo)
    bar = _progress(len(todo), progress)

    def land(record):
        on_record(record)
        bar.update(1)
        bar.set_postfix_str(f"{record['id']}: {record['status']}")

    while queue or pending:
        while queue and len(pending) < workers:
            params = queue.pop(0)
            if isinstance(refs[params.seed], Exception):
                record = _crash_record(params, refs[params.seed])
                record["error"] = f"float pre-training of seed {params.seed} failed: {refs[params.seed]}"
                land(record)
                continue
            pending[task.remote(spec_dict, params, str(out.resolve()), refs[params.seed])] = params
        if not pending:
            continue
        done, _ = ray.wait(list(pending), num_returns=1)
        params = pending.pop(done[0])
        try:
            record = ray.get(done[0])
        except Exception as exc:  # noqa: BLE001 (worker crash, out of memory: recorded as the trial's failure)
            record = _crash_record(params, exc)
        land(record)
    bar.close()


def remote_spec(spec: SweepSpec) -> dict:
    """The spec as the trials get it: ``data_path`` resolved on the driver (workers run elsewhere)."""
    data = spec.to_dict()
    if data.get("data_path"):
        data["data_path"] = str(Path(data["data_path"]).resolve())
    return data


def run(spec: SweepSpec | str | Path, out: str | Path, address: str | None = None, workers: int | None = None,
        resume: bool = False, force: bool = False, progress: bool | None = None, echo=print) -> SweepResult:
    """Run the sweep ``spec`` (a :class:`SweepSpec` or a YAML path) into ``out``; see the module doc."""
    from flow.sweep.results import write_results

    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    out = Path(out)
    if workers is not None and workers < 1:
        raise ValueError(f"workers: {workers} is not a positive number of parallel trials")
    if spec.measure == "yosys":
        from flow.resources.calibrate import require_yosys

        require_yosys()  # on the driver: a missing tool is one error, not a failed record per trial
    prepare_out(spec, out, resume, force)
    trials = spec.trials()
    records = read_records(out, trials) if resume else {}
    todo = [t for t in trials if records.get(t.trial_id, {}).get("status") not in DONE]
    echo(f"sweep: {len(trials)} trials, {len(trials) - len(todo)} finished before, {len(todo)} to run -> {out}")
    t0 = time.perf_counter()
    n_workers = workers or 1
    if todo:
        ray, started = start_ray(address, workers)
        n_workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        try:
            def land(record):
                records[record["id"]] = record
                write_record(out, record)
                write_results(out, [records[t.trial_id] for t in trials if t.trial_id in records], final=False)

            run_trials(todo, spec, out, n_workers, ray, land, progress)
        finally:
            if started:
                ray.shutdown()
    result = SweepResult(out, [records[t.trial_id] for t in trials], [t.trial_id for t in todo],
                         round(time.perf_counter() - t0, 2), n_workers)
    echo(write_results(out, result.records, final=True))
    return result
