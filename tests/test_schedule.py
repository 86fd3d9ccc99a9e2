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


def test_paper_preset_schedule():
    from flow.bitwidth import WidthConfig

    ours, paper = ScheduleConfig.from_preset("ours"), ScheduleConfig.from_preset("paper")
    assert ours == ScheduleConfig()  # 'ours' is the defaults
    assert (paper.finetune_learning_rate, ours.finetune_learning_rate) == (1e-7, 2e-4)
    assert (paper.activations.low, paper.activations.high) == (1.0, 8.0)  # the paper's alpha in [1, 8]
    assert paper.weights.low == 2.0 and ours.weights.low == ours.activations.low == 3.0
    assert (paper.scale, ours.scale) == ("real", "po2")
    assert (paper.head_in_cost, ours.head_in_cost) == (False, True)
    # keys given next to the preset win; a partial width mapping updates the preset's
    cfg = ScheduleConfig.from_dict({"preset": "paper", "finetune_epochs": 0, "activations": {"low": 2}})
    assert cfg.finetune_epochs == 0 and cfg.finetune_learning_rate == 1e-7
    assert cfg.activations == WidthConfig(low=2.0, high=8.0, init=8.0)
    assert "preset" not in cfg.to_dict()


def test_preset_errors():
    with pytest.raises(ValueError, match=r"preset: 'papr' is not one of \('ours', 'paper'\)"):
        ScheduleConfig.from_dict({"preset": "papr"})
    with pytest.raises(ValueError, match=r"scale: 'exact' is not one of"):
        ScheduleConfig.from_dict({"scale": "exact"})
    with pytest.raises(ValueError, match="kernel widths need at least 2 bits"):
        ScheduleConfig.from_dict({"weights": {"low": 1}})
    with pytest.raises(ValueError, match="finetune_learning_rate: must be > 0"):
        ScheduleConfig.from_dict({"finetune_learning_rate": 0.0})
    with pytest.raises(ValueError, match="unknown key 'presets'"):
        ScheduleConfig.from_dict({"presets": "paper"})


def test_presets_module():
    from flow.presets import PAPER_SP2_SHARES, ptq_settings, schedule_settings, sp2_share
    from flow.quantizers.msq import auto_share

    assert sp2_share("paper", "pynq-z2") == sp2_share("paper", "pynq-z1") == 0.6  # 1:1.5 on the XC7Z020
    assert sp2_share("paper", "zc706") == pytest.approx(2 / 3)  # 1:2 on the XC7Z045
    assert sp2_share("ours", "zc706") == auto_share("zc706", 4)
    assert set(PAPER_SP2_SHARES) == {"xc7z020", "xc7z045"}
    assert ptq_settings("paper") == {"granularity": "layer", "scale": "real"}
    assert ptq_settings("ours") == {"granularity": "channel", "scale": "po2"}
    assert schedule_settings("ours") == {}
    with pytest.raises(ValueError, match="preset: 'PAPER' is not one of"):
        ptq_settings("PAPER")
    with pytest.raises(ValueError, match="unknown board 'zcu104'"):
        sp2_share("paper", "zcu104")


def test_paper_preset_schedule_runs(tmp_path, digits):
    """The paper's setting end to end (1 epoch per step): real scales in the frozen model, widths in bounds."""
    cfg = ScheduleConfig.from_preset("paper", **TINY)
    model, log = run_schedule(cfg, tmp_path / "paper", data=digits)
    widths = log[-1]["widths"]
    assert all(1 <= w <= 8 for w in widths.values()) and all(widths[k] >= 2 for k in ("fc1", "fc2"))
    assert model.get_layer("fc1").kernel_quantizer_internal.scale == "real"
    saved = json.loads((tmp_path / "paper" / "config.json").read_text())
    assert saved["finetune_learning_rate"] == 1e-7 and saved["head_in_cost"] is False
