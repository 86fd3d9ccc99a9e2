"""The four-step learned-width schedule: steps, checkpoints, resume, refusal, config errors."""

from __future__ import annotations

import json

import pytest

from flow.bitwidth.schedule import STEPS, ScheduleConfig, run_schedule

TINY = dict(float_epochs=2, weight_epochs=1, activation_epochs=1, finetune_epochs=1, calibration_size=128, progress=False)


def test_schedule_runs_resumes_and_refuses(tmp_path, digits):
    import numpy as np

    out = tmp_path / "run"
    cfg = ScheduleConfig(**TINY)
    model, log = run_schedule(cfg, out, data=digits)
    assert [e["step"] for e in log] == [name for name, _ in STEPS] == ["float", "weights", "activations", "finetune"]
    assert all(e["status"] == "ran" and (out / e["checkpoint"]).exists() for e in log)
    saved = json.loads((out / "schedule.json").read_text())
    assert saved["cut"] == "act2" and len(saved["steps"]) == 4
    assert set(log[-1]["widths"]) == {"q_input", "fc1", "act1", "fc2", "act2"}  # the head 'logits' stays float
    assert all(2 <= w <= 8 for w in log[-1]["widths"].values())
    assert type(model.get_layer("fc1")).__name__ == "QDense"

    with pytest.raises(FileExistsError, match="--resume"):
        run_schedule(cfg, out, data=digits)
    again, log2 = run_schedule(cfg, out, resume=True, data=digits)
    assert [e["status"] for e in log2] == ["resumed"] * 4
    x = digits.x_test[:50]
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))

    (out / "finetune.h5").unlink()  # resume redoes only the missing step
    _, log3 = run_schedule(cfg, out, resume=True, data=digits)
    assert [e["status"] for e in log3] == ["resumed", "resumed", "resumed", "ran"]


def test_schedule_config_errors():
    with pytest.raises(ValueError, match="unknown key 'epochs'"):
        ScheduleConfig.from_dict({"epochs": 3})
    with pytest.raises(ValueError, match="model: 'lenet' is not one of"):
        ScheduleConfig.from_dict({"model": "lenet"})
    with pytest.raises(ValueError, match="alpha bounds"):
        ScheduleConfig.from_dict({"weights": {"low": 0, "high": 8}})
    with pytest.raises(ValueError, match="weights: .*unexpected keyword"):
        ScheduleConfig.from_dict({"weights": {"lo": 2}})
