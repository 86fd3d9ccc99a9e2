"""bench/ablations.py: a smoke run writes its table, CSV and plot; the tables pair ours with the alternative."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations", ROOT / "bench" / "ablations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_ptq_run_writes_everything(ablations, tmp_path):
    assert ablations.main(["--quick", "--only", "ptq", "--out", str(tmp_path)]) == 0
    for ext in ("json", "csv", "md", "png"):
        assert (tmp_path / f"ablations.{ext}").stat().st_size > 0
    rows = list(csv.DictReader((tmp_path / "ablations.csv").open()))
    names = {r["row"] for r in rows}
    assert {"float", "PTQ W4A8 channel po2", "PTQ W4A8 layer real", "PTQ W8A8 channel real"} <= names
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)
    text = (tmp_path / "ablations.md").read_text()
    assert "| PTQ W4A8 preset | ours (ours) |" in text and "ours − alternative (points)" in text
    assert "MSQ row assignment" not in text  # only the groups that ran
    assert "| PTQ W4A8 preset: ours vs paper |" in text  # the one-line-per-ablation summary
    saved = json.loads((tmp_path / "ablations.json").read_text())
    assert saved["settings"]["seeds"] == 1 and len(saved["runs"]) == 1
    again = tmp_path / "again"  # --render redoes the tables from the JSON, without training
    assert ablations.main(["--render", str(tmp_path / "ablations.json"), "--out", str(again)]) == 0
    assert (again / "ablations.md").read_text() == text and "(run time " in text
    assert (again / "ablations.png").stat().st_size > 0


def test_weight_error_rows_show_the_po2_penalty(ablations):
    rows = ablations.weight_errors(bits_list=(4, 8), draws=3)
    by = {(r["per_channel"], r["bits"]): r for r in rows}
    assert by[(True, 4)]["po2"] > 1.4 and by[(True, 8)]["po2"] > 1.8  # the 1.7x / 2.2x
    assert abs(by[(True, 8)]["real 8-bit c"] - 1.0) < 0.01
    assert "| po2, per channel |" in ablations.weight_error_table(rows)


def test_pairs_table_differences(ablations):
    agg = {("digits", "mlp"): {"float": (0.9, 0.0, 1), "PTQ W4A8 channel po2": (0.8, 0.01, 2),
                               "PTQ W4A8 layer real": (0.85, 0.02, 2)}}
    text = ablations.pairs_table(agg)
    assert "| PTQ W4A8 preset | ours (ours) | 80.00 ± 1.00 |" in text
    assert "**-5.00**" in text and "MSQ scale" not in text
