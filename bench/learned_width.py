"""Benchmark: the adaptive-precision paper's Table 1 on digits, for the MLP and the VGG-style CNN.

Rows: float, PTQ symmetric 8-bit, PTQ asymmetric 8-bit, PTQ symmetric 4-bit (W4A8), fixed
QAT 4-bit (W4A8), learned widths (the four-step schedule, float head). Columns: test
accuracy (mean and spread over ``--repeats`` seeds: one run's float baseline alone moves by
about a point on the 450 test samples), weight memory (KB: kernels at their width, biases at
theirs, float at 32 bit) and the learned width per layer. One float model per architecture is shared by every row.
Prints a Markdown table and writes JSON + a plot to ``--out``.

    .venv/bin/python bench/learned_width.py [--models mlp vgg] [--cost-weight 0.1] [--repeats 3] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _data(model: str):
    from flow.data import load

    data = load("digits")
    return data.with_shape((8, 8, 1)) if model == "vgg" else data


def _qat_fixed4(float_model, data, model: str, epochs: int):
    from flow import models
    from flow.models import QuantSpec
    from flow.train import TrainConfig, train, transfer_weights

    in_bits, in_int = data.input_quantizer_args()
    spec = QuantSpec("fixed", 4, in_bits=in_bits, in_integer=in_int)
    q = models.mlp(64, 10, spec=spec) if model == "mlp" else models.vgg((8, 8, 1), 10, spec=spec)
    transfer_weights(float_model, q)
    train(q, data, TrainConfig(epochs=epochs, learning_rate=1e-3), desc=f"{model} fixed QAT")
    return q


def run(model: str, cost_weight: float, scale: float, workdir: Path, seed: int = 0) -> dict:
    import flow
    from flow.bitwidth import default_cut
    from flow.bitwidth.schedule import ScheduleConfig, run_schedule
    from flow.ptq import quantize, weight_memory_bits
    from flow.train import evaluate

    data = _data(model)
    epochs = lambda n: max(1, int(round(n * scale)))  # noqa: E731
    cfg = ScheduleConfig(
        model=model,
        float_epochs=epochs(40),
        weight_epochs=epochs(20),
        activation_epochs=epochs(20),
        finetune_epochs=epochs(20),
        cost_weight=cost_weight,
        seed=seed,
    )
    learned, log = run_schedule(cfg, workdir / f"{model}{seed}", force=True, data=data)
    float_model = flow.load_model(workdir / f"{model}{seed}" / "float.h5")
    calib = data.x_train[:512]
    rows = {"float": float_model}
    rows["PTQ symmetric 8-bit"] = quantize(float_model, calib, bits=8, mode="symmetric")
    rows["PTQ asymmetric 8-bit"] = quantize(float_model, calib, bits=8, mode="asymmetric")
    rows["PTQ symmetric 4-bit (W4A8)"] = quantize(float_model, calib, bits=4, act_bits=8)
    rows["fixed QAT 4-bit (W4A8)"] = _qat_fixed4(float_model, data, model, epochs(20))
    rows["learned widths"] = learned
    result = {"model": model, "seed": seed, "cut": default_cut(float_model), "rows": {}, "schedule": log}
    for name, m in rows.items():
        result["rows"][name] = {
            "accuracy": evaluate(m, data.x_test, data.y_test),
            "weight_kb": weight_memory_bits(m) / 8 / 1024,
        }
    widths = log[-1]["widths"]
    kernel = [w for n, w in widths.items() if "act" not in n]
    result["widths"] = widths
    result["mean_kernel_width"] = sum(kernel) / len(kernel)
    result["mean_width"] = sum(widths.values()) / len(widths)
    return result


def aggregate(runs: list[dict]) -> dict:
    """Mean and spread over repeated runs (different seeds) of one architecture."""
    import numpy as np

    first = runs[0]
    out = {"model": first["model"], "cut": first["cut"], "repeats": len(runs), "rows": {}, "runs": runs}
    for name in first["rows"]:
        acc = [r["rows"][name]["accuracy"] for r in runs]
        kb = [r["rows"][name]["weight_kb"] for r in runs]
        out["rows"][name] = {"accuracy": float(np.mean(acc)), "accuracy_std": float(np.std(acc)), "weight_kb": float(np.mean(kb))}
    out["widths"] = {k: float(np.mean([r["widths"][k] for r in runs])) for k in first["widths"]}
    out["mean_width"] = float(np.mean([r["mean_width"] for r in runs]))
    out["mean_kernel_width"] = float(np.mean([r["mean_kernel_width"] for r in runs]))
    return out


def table(results) -> str:
    lines = []
    for r in results:
        base = r["rows"]["float"]["accuracy"]
        lines += [
            f"**{r['model']}** (digits; float head after '{r['cut']}' for learned widths; mean of {r['repeats']} runs)",
            "",
            "| scheme | accuracy % (mean ± std) | vs float (points) | weight memory KB |",
            "|---|---|---|---|",
        ]
        for name, row in r["rows"].items():
            lines.append(
                f"| {name} | {100 * row['accuracy']:.2f} ± {100 * row['accuracy_std']:.2f} | "
                f"{100 * (row['accuracy'] - base):+.2f} | {row['weight_kb']:.2f} |"
            )
        shown = ", ".join(f"{k} {v:.1f}" for k, v in r["widths"].items())
        lines += [
            "",
            f"learned widths: {shown}",
            f"mean width {r['mean_width']:.2f} bits (kernels {r['mean_kernel_width']:.2f}); "
            f"target: below 6 bits and within 1 point of float -> "
            f"{'met' if r['mean_width'] < 6 and r['rows']['learned widths']['accuracy'] >= base - 0.01 else 'NOT met'}",
            "",
        ]
    return "\n".join(lines)


def plot(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(12, 3.6 * len(results)), squeeze=False)
    for (ax_acc, ax_w), r in zip(axes, results):
        names = list(r["rows"])
        acc = [100 * r["rows"][n]["accuracy"] for n in names]
        mem = [r["rows"][n]["weight_kb"] for n in names]
        ax_acc.barh(range(len(names)), acc, color=[f"C{i}" for i in range(len(names))])
        for i, (a, m) in enumerate(zip(acc, mem)):
            ax_acc.text(a, i, f" {a:.2f} %, {m:.1f} KB", va="center", fontsize=8)
        ax_acc.set_yticks(range(len(names)), names, fontsize=8)
        ax_acc.set_xlim(min(acc) - 3, 100.5)
        ax_acc.invert_yaxis()
        ax_acc.set_xlabel("test accuracy (%), weight memory in the label")
        ax_acc.set_title(f"{r['model']}: accuracy and weight memory per scheme")
        layers = list(r["widths"])
        ax_w.bar(range(len(layers)), [r["widths"][n] for n in layers], color=["C0" if "act" not in n else "C1" for n in layers])
        ax_w.set_xticks(range(len(layers)), layers, rotation=60, fontsize=7)
        ax_w.set_ylabel("learned bits")
        ax_w.set_title(f"{r['model']}: learned width per layer (blue kernels, orange activations)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mlp", "vgg"], choices=("mlp", "vgg"))
    p.add_argument("--cost-weight", type=float, default=0.1)
    p.add_argument("--repeats", type=int, default=3, help="runs per architecture (seeds 0..n-1); the table shows the mean")
    p.add_argument("--epoch-scale", type=float, default=1.0, help="multiply every step's epochs (0.1 for a smoke run)")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args(argv)
    from flow.small import announce, small

    if small():
        args.models, args.repeats, args.epoch_scale = ["mlp"], 1, min(args.epoch_scale, 0.05)
        announce("learned_width bench on the MLP, 1 repeat, epochs x0.05")
    with tempfile.TemporaryDirectory() as tmp:
        results = [
            aggregate([run(m, args.cost_weight, args.epoch_scale, Path(tmp), seed) for seed in range(args.repeats)])
            for m in args.models
        ]
    print(table(results))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "learned_width.json").write_text(json.dumps(results, indent=2))
    plot(results, out / "learned_width.png")
    print(f"wrote {out / 'learned_width.json'} and {out / 'learned_width.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
