"""Benchmark: a design-space sweep on Ray (``flow.sweep``) of the MNIST-1D MLP on pynq-z2.

SP2 shares {0, 0.25, 0.5, 0.75, 1} x weight bits {3, 4, 6} x seeds {0, 1} (30 trials), each trained (float
pre-training per seed, then ADMM + STE, or STE for share 0), converted with backend MSQ at the smallest reuse
factor estimated to fit pynq-z2, C-simulated on the 1,000 test signals (must equal Keras exactly) and costed
(estimate). Prints and writes the table sorted by accuracy, the Pareto plot (accuracy vs DSP, LUT, latency) and
the best design that fits. Then, in the same run, the wall time of one slice of the grid (``--timing-bits``,
10 trials) with 1 and with 2 Ray workers, as a ratio (separate output directories: no cache is shared).
Writes ``bench/results/sweep_mnist1d.{json,png,md}``.

    .venv/bin/python bench/sweep_mnist1d.py [--workers 2] [--timing-bits 4] [--out bench/results]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPEC = {"model": "mlp", "model_args": {"hidden": [64, 32]}, "dataset": "mnist1d", "bits": [3, 4, 6],
        "sp2_share": [0, 0.25, 0.5, 0.75, 1], "strategy": ["Latency"], "reuse_factor": ["auto"],
        "board": ["pynq-z2"], "seeds": [0, 1], "epochs": {"float": 30, "admm": 10, "finetune": 5,
                                                          "epochs_per_update": 2}}
#: MSQ_SMALL=1 (the README test): 2 shares x 1 width x 1 seed, one epoch each
SMALL = {"bits": [4], "sp2_share": [0, 1], "seeds": [0], "epochs": {"float": 1, "admm": 1, "finetune": 1,
                                                                     "epochs_per_update": 1}}


def main(argv=None) -> int:
    from flow.small import announce, small
    from flow.sweep import from_dict, run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="Ray workers for the whole grid")
    ap.add_argument("--timing-bits", type=int, default=4, help="the grid slice timed with 1 and 2 workers")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args(argv)
    spec_dict = dict(SPEC)
    if small():
        spec_dict.update(SMALL)
        args.timing_bits = 4
        announce("sweep bench with 2 trials and one epoch per step")
    spec = from_dict(spec_dict)
    work = Path(tempfile.mkdtemp(prefix="sweep_mnist1d_"))
    try:
        grid = run(spec, work / "grid", workers=args.workers, force=True)
        timing = {}
        sliced = dataclasses.replace(spec, bits=(args.timing_bits,))
        for n in (1, 2):
            timing[n] = run(sliced, work / f"timing{n}", workers=n, force=True, echo=lambda *_: None).wall_s
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(work / "grid" / "pareto.png", out / "sweep_mnist1d.png")
        shutil.copy(work / "grid" / "results.md", out / "sweep_mnist1d.md")
        best = json.loads((work / "grid" / "best.json").read_text())
        result = {"spec": spec.to_dict(), "records": grid.records, "best": best, "wall_s_grid": grid.wall_s,
                  "grid_workers": grid.workers, "timing_trials": len(sliced.trials()),
                  "timing_wall_s": {str(k): v for k, v in timing.items()},
                  "speedup_2_vs_1": round(timing[1] / timing[2], 3), "cpus": os.cpu_count()}
        (out / "sweep_mnist1d.json").write_text(json.dumps(result, indent=2) + "\n")
        n_exact = sum(r["status"] == "ok" for r in grid.records)
        print(f"\nC-simulation equal to Keras in {n_exact} / {len(grid.records)} trials; grid wall time "
              f"{grid.wall_s:.0f} s on {grid.workers} workers")
        print(f"wall time of {len(sliced.trials())} trials (bits {args.timing_bits}): 1 worker {timing[1]:.0f} s, "
              f"2 workers {timing[2]:.0f} s: ratio {timing[1] / timing[2]:.2f}x ({os.cpu_count()} CPUs)")
        print(f"wrote {out / 'sweep_mnist1d.json'}, {out / 'sweep_mnist1d.png'}, {out / 'sweep_mnist1d.md'}")
        return 0 if n_exact == len(grid.records) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
