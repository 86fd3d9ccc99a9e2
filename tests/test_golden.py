"""Regression: the demo models' C-sim outputs must not change by a single bit.

Regenerate deliberately with `python -m flow golden` (see flow/golden.py and README.md).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import flow
from flow import golden


@pytest.fixture(scope="module")
def stored():
    meta = json.loads((golden.GOLDEN_DIR / "golden.json").read_text())
    assert meta["tolerance"] == "exact"
    return np.load(golden.GOLDEN_DIR / "golden.npz")


@pytest.mark.csim
@pytest.mark.parametrize("strategy, rf", golden.SCHEDULES)
@pytest.mark.parametrize("name", golden.MODEL_NAMES)
def test_csim_matches_golden_and_keras(name, strategy, rf, stored, tmp_path):
    model = flow.load_model(golden.GOLDEN_DIR / f"{name}.h5")
    x = stored["x"]
    y = golden.csim_outputs(model, x, strategy, rf, tmp_path / "prj")
    expected = stored[golden.key(name, strategy, rf)]
    assert np.array_equal(y, expected), f"{np.sum(y != expected)} outputs changed; see flow/golden.py"
    assert np.array_equal(y, model.predict(x, verbose=0))
