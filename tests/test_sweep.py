"""``flow sweep``: spec validation, a 4-trial Ray sweep with a failing trial and --resume, a Ray head by address."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flow.sweep.spec import from_dict, load_spec

ROOT = Path(__file__).resolve().parents[1]
TINY = {"model": "mlp", "model_args": {"hidden": [16]}, "dataset": "digits", "bits": [4], "sp2_share": [0, 0.5],
        "reuse_factor": [1], "strategy": ["Latency"], "board": ["pynq-z2"], "seeds": [0, 1],
        "epochs": {"float": 2, "admm": 1, "finetune": 1, "epochs_per_update": 1}}


def test_ray_keeps_tensorflow_pins():
    """Ray core next to TensorFlow 2.14: protobuf stays below 5 and numpy at 1.26.4 (the requirements' pins)."""
    import google.protobuf
    import numpy
    import ray
    import tensorflow as tf

    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert ray.__version__ == pins["ray"] and tf.__version__ == pins["tensorflow-cpu"]
    assert int(google.protobuf.__version__.split(".")[0]) < 5
    assert numpy.__version__ == "1.26.4" == pins["numpy"]


@pytest.mark.parametrize(
    "change, key",
    [
        ({"bitz": [4]}, "bitz: unknown key"),
        ({"bits": []}, "bits: the axis is empty"),
        ({"seeds": []}, "seeds: the axis is empty"),
        ({"board": ["pynq-z3"]}, "board: unknown board 'pynq-z3'"),
        ({"sp2_share": [0.5, 1.5]}, "sp2_share: 1.5 is outside [0, 1]"),
        ({"sp2_share": [-0.25]}, "sp2_share: -0.25 is outside [0, 1]"),
        ({"sp2_share": ["half"]}, "sp2_share: 'half' is outside [0, 1]"),
        ({"reuse_factor": [0]}, "reuse_factor: 0 is not a positive integer"),
        ({"strategy": ["Fast"]}, "strategy: unknown strategy 'Fast'"),
        ({"model": "resnet50"}, "model: unknown zoo model 'resnet50'"),
        ({"dataset": "imagenet"}, "dataset: unknown data set 'imagenet'"),
        ({"model_args": {"hiden": [8]}}, "model_args.hiden: mlp() takes no such argument"),
        ({"epochs": {"float": 2, "admn": 1}}, "epochs.admn: unknown key"),
        ({"epochs": {"float": -1}}, "epochs.float: a non-negative integer"),
        ({"measure": "vivado"}, "measure: 'vivado' is not one of"),
        ({"bits": [4, 4]}, "bits: repeated values"),
    ],
)
def test_bad_specs_are_refused_naming_the_key(change, key, tmp_path):
    path = tmp_path / "spec.yaml"
    import yaml

    path.write_text(yaml.safe_dump({**TINY, **change}))
    with pytest.raises(ValueError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}: {key}"), err.value


def test_spec_scalars_are_one_point_axes_and_trials_are_the_product():
    spec = from_dict({**TINY, "bits": 3, "sp2_share": [0, "auto", 1], "board": ["pynq-z2", "zc706"]})
    assert spec.bits == (3,) and len(spec.trials()) == 1 * 3 * 1 * 1 * 2 * 2
    ids = [t.trial_id for t in spec.trials()]
    assert len(set(ids)) == len(ids) and "b3_sauto_Latency_rf1_zc706_seed1" in ids


def test_out_is_never_overwritten_without_force_or_resume(tmp_path):
    from flow.sweep import run

    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="--resume to continue it, or --force"):
        run(from_dict(TINY), out)
    with pytest.raises(FileNotFoundError, match="no sweep to resume"):
        run(from_dict(TINY), out, resume=True)
    assert (out / "mine.txt").read_text() == "user data"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """4 trials where one is made to fail (its HLS project path is a file), then ``--resume``."""
    from flow.sweep import run
    from flow.sweep.engine import prepare_out

    out = tmp_path_factory.mktemp("sweep") / "out"
    spec = from_dict(TINY)
    victim = spec.trials()[3].trial_id
    prepare_out(spec, out, resume=False, force=False)  # an empty sweep directory, as an interrupted run leaves it
    (out / "trials" / victim).mkdir(parents=True)
    (out / "trials" / victim / "hls").write_text("not a directory")
    first = run(spec, out, resume=True, workers=2, progress=False)
    snapshot = {p: p.stat().st_mtime_ns for p in out.glob("trials/*/record.json")}
    (out / "trials" / victim / "hls").unlink()
    from flow.cli import main

    code = main(["sweep", str(out / "spec.yaml"), "--out", str(out), "--resume", "--workers", "2"])
    return {"out": out, "first": first, "victim": victim, "snapshot": snapshot, "code": code}


@pytest.mark.ray
@pytest.mark.csim
@pytest.mark.slow
def test_four_trial_sweep_records_the_failure(sweep):
    first = sweep["first"]
    assert len(first.ran) == 4 and len(first.records) == 4
    failed = [r for r in first.records if r["status"] != "ok"]
    assert [r["id"] for r in failed] == [sweep["victim"]]
    assert failed[0]["status"] == "failed" and "is a file, not a directory" in failed[0]["error"]
    assert "Traceback" in failed[0]["traceback"]
    for r in first.records:
        if r["status"] == "ok":
            cs = r["csim"]
            assert cs["outputs_equal"] == cs["outputs_total"] > 0 and cs["samples"] == 450
            assert r["accuracy"] == r["accuracy_keras"] and 0.0 <= r["accuracy"] <= 1.0 and r["accuracy_float"] > 0.2
            assert r["estimate"]["source"] == "estimate" and r["estimate"]["dsp"] >= 0
            assert (sweep["out"] / "trials" / r["id"] / "model.h5").exists()
    fixed = [r for r in first.records if r["sp2_share"] == 0 and r["status"] == "ok"]
    msq = [r for r in first.records if r["sp2_share"] == 0.5 and r["status"] == "ok"]
    assert fixed and msq and all(f["estimate"]["dsp"] > m["estimate"]["dsp"] for f in fixed for m in msq)


@pytest.mark.ray
@pytest.mark.csim
@pytest.mark.slow
def test_resume_reruns_only_the_failed_trial(sweep):
    out = sweep["out"]
    assert sweep["code"] == 0
    records = {p.parent.name: json.loads(p.read_text()) for p in out.glob("trials/*/record.json")}
    assert len(records) == 4 and all(r["status"] == "ok" for r in records.values())
    for path, mtime in sweep["snapshot"].items():
        if path.parent.name != sweep["victim"]:
            assert path.stat().st_mtime_ns == mtime, f"{path} was rewritten by --resume"
    assert (out / "trials" / sweep["victim"] / "record.json").stat().st_mtime_ns != sweep["snapshot"][
        out / "trials" / sweep["victim"] / "record.json"]
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("id,status,board")
    assert (out / "pareto.png").stat().st_size > 10_000
    table = (out / "results.md").read_text()
    accs = [float(line.split("|")[8].strip().rstrip(" %")) for line in table.splitlines() if line.startswith("| b4_")]
    assert len(accs) == 4 and accs == sorted(accs, reverse=True)
    best = json.loads((out / "best.json").read_text())
    assert set(best) <= {"pynq-z2"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, head: subprocess.Popen, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert head.poll() is None, "ray start --head exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(3)  # the GCS listens before the raylet has registered
                return
        time.sleep(0.5)
    raise AssertionError(f"the Ray head did not listen on port {port} within {timeout} s")


def test_unreachable_cluster_is_a_clear_error(tmp_path):
    from flow.cli import main

    import yaml

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--address", f"127.0.0.1:{_free_port()}"]) == 2


@pytest.mark.ray
@pytest.mark.csim
@pytest.mark.slow
def test_sweep_on_a_ray_head_by_address(tmp_path):
    """``ray start --head`` (the README's cluster recipe, one machine) and ``flow sweep --address``."""
    ray_cli = Path(sys.executable).parent / "ray"
    port = _free_port()
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard", "false",
                             "--disable-usage-stats"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        spec = tmp_path / "spec.yaml"
        import yaml

        spec.write_text(yaml.safe_dump({**TINY, "sp2_share": [0.5], "seeds": [0]}))
        _wait_for_port(port, head)
        proc = subprocess.run([sys.executable, "-m", "flow", "sweep", str(spec), "--out", str(tmp_path / "out"),
                               "--address", f"127.0.0.1:{port}", "--force"], capture_output=True, text=True,
                              cwd=ROOT, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        record = json.loads(next((tmp_path / "out" / "trials").glob("*/record.json")).read_text())
        assert record["status"] == "ok" and record["csim"]["outputs_equal"] == record["csim"]["outputs_total"]
    finally:
        import os
        import signal

        os.killpg(head.pid, signal.SIGTERM)  # the head and its workers: this process group only (not `ray stop`)
        head.wait(timeout=60)


@pytest.mark.ray
@pytest.mark.csim
@pytest.mark.yosys
def test_measure_yosys_adds_the_synthesized_figures(tmp_path):
    """``measure: yosys``: the trial's RTL route synthesized by yosys, next to the estimate (DSP equal)."""
    if not shutil.which("yosys"):
        pytest.skip("yosys is not on PATH (apt-get install yosys)")
    from flow.sweep import run

    spec = from_dict({**TINY, "sp2_share": [0.5], "seeds": [0], "strategy": ["Resource"], "reuse_factor": [4],
                      "measure": "yosys"})
    record = run(spec, tmp_path / "out", workers=1, progress=False).records[0]
    assert record["status"] == "ok", record["error"]
    assert record["measured"]["source"] == "yosys synthesis" and record["measured"]["lut"] > 0
    assert record["measured"]["dsp"] == record["estimate"]["dsp"] > 0
    row = (tmp_path / "out" / "results.csv").read_text().splitlines()[1].split(",")
    header = (tmp_path / "out" / "results.csv").read_text().splitlines()[0].split(",")
    assert int(row[header.index("measured_lut")]) == record["measured"]["lut"]


def test_shares_that_print_alike_and_tuples_in_python_specs(tmp_path):
    from flow.sweep.spec import SweepSpec, save_spec

    with pytest.raises(ValueError, match="sp2_share: values that print alike"):
        from_dict({**TINY, "sp2_share": [0.3333333, 0.33333334]})
    spec = SweepSpec(model_args={"hidden": (16, 8)}, bits=(3, 4))  # Python tuples: saved as YAML lists
    save_spec(spec, tmp_path / "spec.yaml")
    assert load_spec(tmp_path / "spec.yaml").to_dict() == spec.to_dict()
