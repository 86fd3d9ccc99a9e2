"""C-sim golden data: the demo models and their exact C-simulation outputs, kept in tests/golden.

Any change that alters a single output of these models fails ``tests/test_golden.py`` until
the data is regenerated on purpose::

    python -m flow golden                                  # recompute outputs of the stored models
    python -m flow golden --models-from out/demo/models    # take new models from a demo run first

Layout: ``tests/golden/<name>.h5`` (the Keras model) and ``tests/golden/golden.npz`` holding
``x`` (the digits test split) and ``<name>__<strategy>`` C-sim outputs per model and strategy.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "tests" / "golden"
MODEL_NAMES = ("digits_fixed4", "digits_sp24", "digits_msq4")
#: (strategy, reuse factor) each model is converted with.
SCHEDULES = (("Latency", 1), ("Resource", 4))


def key(name: str, strategy: str, reuse_factor: int) -> str:
    return f"{name}__{strategy.lower()}{reuse_factor}"


def csim_outputs(model, x, strategy: str, reuse_factor: int, workdir: Path) -> np.ndarray:
    from flow.convert import ConvertConfig, convert

    hm = convert(model, workdir, ConvertConfig(strategy=strategy, reuse_factor=reuse_factor), force=True)
    return hm.predict(np.ascontiguousarray(x)).reshape(len(x), -1)


def regenerate(models_from: str | None = None, golden_dir: Path = GOLDEN_DIR) -> list[Path]:
    """Recompute (and optionally replace the models of) the golden data. Returns written files."""
    import flow
    from flow.data import load_digits

    golden_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if models_from is not None:
        for name in MODEL_NAMES:
            src = Path(models_from) / f"{name}.h5"
            if not src.exists():
                raise FileNotFoundError(f"{src} not found; run `python -m flow demo` first or point --models-from at it")
            shutil.copy(src, golden_dir / src.name)
            written.append(golden_dir / src.name)
    x = load_digits().x_test
    arrays = {"x": x}
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODEL_NAMES:
            model = flow.load_model(golden_dir / f"{name}.h5")
            for strategy, rf in SCHEDULES:
                arrays[key(name, strategy, rf)] = csim_outputs(model, x, strategy, rf, Path(tmp) / name)
    np.savez_compressed(golden_dir / "golden.npz", **arrays)
    meta = {"models": list(MODEL_NAMES), "schedules": [list(s) for s in SCHEDULES], "tolerance": "exact"}
    (golden_dir / "golden.json").write_text(json.dumps(meta, indent=2))
    return written + [golden_dir / "golden.npz", golden_dir / "golden.json"]
