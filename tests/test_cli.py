"""Command line: convert a saved model; refuse to overwrite without --force."""

from __future__ import annotations

import pytest

from flow import golden
from flow.cli import main


@pytest.mark.csim
def test_convert_command_writes_project_and_refuses_overwrite(tmp_path, capsys):
    model = str(golden.GOLDEN_DIR / "digits_msq4.h5")
    out = tmp_path / "prj"
    assert main(["convert", model, str(out), "--strategy", "Resource", "--reuse-factor", "3"]) == 0
    assert (out / "firmware" / "nnet_utils" / "nnet_msq_dense.h").exists()
    assert "static const unsigned reuse_factor = 3;" in (out / "firmware" / "parameters.h").read_text()
    assert main(["convert", model, str(out), "--no-compile"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["convert", model, str(out), "--no-compile", "--force"]) == 0


def test_unknown_model_file_is_a_clear_error(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "missing.h5"), str(tmp_path / "p")]) == 2
    assert "missing.h5" in capsys.readouterr().err


def test_estimate_command(capsys):
    model = str(golden.GOLDEN_DIR / "digits_msq4.h5")
    assert main(["estimate", model, "--board", "pynq-z2", "--optimize"]) == 0
    out = capsys.readouterr().out
    assert "| total |" in out and "best: SP2 share" in out
    assert main(["estimate", model, "--board", "nope"]) == 2
    assert "known boards" in capsys.readouterr().err


def test_learn_widths_command(tmp_path, capsys):
    cfg = tmp_path / "schedule.yaml"
    cfg.write_text(
        "float_epochs: 1\nweight_epochs: 1\nactivation_epochs: 1\nfinetune_epochs: 0\ncalibration_size: 64\nprogress: false\n"
    )
    out = tmp_path / "run"
    assert main(["learn-widths", "--out", str(out), "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert "finetune" in text and "fc1=" in text and (out / "finetune.h5").exists()
    assert main(["learn-widths", "--out", str(out), "--config", str(cfg)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["learn-widths", "--out", str(out), "--config", str(cfg), "--resume"]) == 0
    assert "resumed" in capsys.readouterr().out
    cfg.write_text("epochz: 3\n")
    assert main(["learn-widths", "--out", str(tmp_path / "other"), "--config", str(cfg)]) == 2
    assert "unknown key 'epochz'" in capsys.readouterr().err
