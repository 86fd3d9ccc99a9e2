"""Benchmark: accuracy of float / fixed-4 / SP2-4 / MSQ-4 CNNs (ADMM + STE) on the built-in data.

VGG-style CNN (width 0.125) on digits (8x8x1) and the MNIST-1D CNN (three Conv1D) on MNIST-1D.
Prints a table (accuracy, gap to float) and writes JSON + a bar plot next to it.

    .venv/bin/python bench/accuracy_cnn.py [--float-epochs 60] [--admm-epochs 20] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SETUPS = {"digits": "vgg", "mnist1d": "cnn1d"}
SCHEMES = ("fixed", "sp2", "msq")


def run(dataset: str, float_epochs: int, admm_epochs: int, bits: int, share: float) -> dict:
    from flow.data import IMAGE_SHAPES, load
    from flow.models import QuantSpec, cnn1d, vgg
    from flow.train import ADMMConfig, TrainConfig, evaluate, train, train_admm, transfer_weights

    data = load(dataset).with_shape(IMAGE_SHAPES[dataset])
    shape = data.x_train.shape[1:]

    def build(spec):
        return vgg(shape, 10, 0.125, spec) if SETUPS[dataset] == "vgg" else cnn1d(shape, 10, spec=spec)

    float_model = build(QuantSpec("float"))
    train(float_model, data, TrainConfig(epochs=float_epochs), desc=f"{dataset} float")
    result = {"dataset": dataset, "model": SETUPS[dataset], "float": evaluate(float_model, data.x_test, data.y_test)}
    in_bits, in_int = data.input_quantizer_args()
    for scheme in SCHEMES:
        model = build(QuantSpec(scheme, bits, share, in_bits=in_bits, in_integer=in_int))
        transfer_weights(float_model, model)
        train_admm(model, data, ADMMConfig(epochs=admm_epochs, finetune_epochs=admm_epochs // 2), desc=f"{dataset} {scheme}")
        result[scheme] = evaluate(model, data.x_test, data.y_test)
    return result


def table(results, bits: int) -> str:
    lines = [
        f"| data set | model | float | fixed-{bits} | SP2-{bits} | MSQ-{bits} | MSQ - float (points) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['dataset']} | {r['model']} | {100 * r['float']:.2f} | {100 * r['fixed']:.2f} | {100 * r['sp2']:.2f} | "
            f"{100 * r['msq']:.2f} | {100 * (r['msq'] - r['float']):+.2f} |"
        )
    return "\n".join(lines)


def plot(results, path: Path, bits: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = ["float", f"fixed-{bits}", f"SP2-{bits}", f"MSQ-{bits}"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        values = [100 * r[k] for k in ("float", "fixed", "sp2", "msq")]
        ax.bar(np.arange(4) + i * width, values, width, label=f"{r['dataset']} ({r['model']})")
    ax.set_xticks(np.arange(4) + width * (len(results) - 1) / 2, labels)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(50, 100)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(SETUPS))
    p.add_argument("--float-epochs", type=int, default=60)
    p.add_argument("--admm-epochs", type=int, default=20)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--sp2-share", type=float, default=0.6)
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    results = [run(d, args.float_epochs, args.admm_epochs, args.bits, args.sp2_share) for d in args.datasets]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(table(results, args.bits))
    (out / "accuracy_cnn.json").write_text(json.dumps(results, indent=2))
    plot(results, out / "accuracy_cnn.png", args.bits)
    print(f"\nwritten: {out / 'accuracy_cnn.json'}, {out / 'accuracy_cnn.png'}")


if __name__ == "__main__":
    main()
