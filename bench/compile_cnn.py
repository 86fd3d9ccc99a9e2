"""Benchmark: conversion + compile time and C-sim throughput, backend 'MSQ' vs stock 'Vitis'.

The model is the VGG-style CNN with fixed-point kernels (``quantized_msq(4, sp2_share=0)``):
stock Vitis gets exactly the same fixed-point weights, so both C-simulations compute the same
numbers (checked). Ratios are measured in one run on the same machine; absolute times on a
shared machine are noisy. Also reports how compile time grows with the input size.

    .venv/bin/python bench/compile_cnn.py [--sizes 8 16 32] [--io io_parallel] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402


def build(size: int, width: float, seed: int = 0):
    import tensorflow as tf

    from flow.convert import freeze_msq_rows
    from flow.models import QuantSpec, vgg

    tf.keras.utils.set_random_seed(seed)
    model = vgg((size, size, 1), 10, width=width, spec=QuantSpec("fixed", 4, 0.0, in_bits=6, in_integer=1), max_blocks=3)
    freeze_msq_rows(model)
    return model


def measure(model, backend: str, io_type: str, x: np.ndarray, workdir: Path) -> dict:
    from flow.convert import ConvertConfig, convert

    t0 = time.perf_counter()
    hm = convert(model, workdir, ConvertConfig(backend=backend, io_type=io_type), force=True, compile=False)
    t1 = time.perf_counter()
    hm.compile()
    t2 = time.perf_counter()
    y = hm.predict(x)
    t3 = time.perf_counter()
    return {"convert_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0, "csim_per_s": len(x) / (t3 - t2), "y": y}


def run(sizes, io_type: str, width: float, n: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for size in tqdm(sizes, desc="input sizes"):
            model = build(size, width)
            x = (rng.integers(0, 17, (n, size, size, 1)) / 16).astype(np.float32)
            ours = measure(model, "MSQ", io_type, x, Path(tmp) / f"msq{size}")
            stock = measure(model, "Vitis", io_type, x, Path(tmp) / f"vitis{size}")
            same = bool(np.array_equal(ours.pop("y"), stock.pop("y")))
            rows.append({"size": size, "io_type": io_type, "msq": ours, "vitis": stock, "outputs_equal": same})
    return rows


def table(rows) -> str:
    lines = [
        "| input | io | MSQ convert+compile (s) | Vitis convert+compile (s) | ratio MSQ/Vitis | "
        "MSQ C-sim (inf/s) | Vitis C-sim (inf/s) | C-sim speed MSQ/Vitis | outputs equal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m, v = r["msq"], r["vitis"]
        lines.append(
            f"| {r['size']}x{r['size']} | {r['io_type']} | {m['total_s']:.1f} | {v['total_s']:.1f} | "
            f"{m['total_s'] / v['total_s']:.2f} | {m['csim_per_s']:.0f} | {v['csim_per_s']:.0f} | "
            f"{m['csim_per_s'] / v['csim_per_s']:.2f} | {r['outputs_equal']} |"
        )
    return "\n".join(lines)


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["size"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(sizes, [r["msq"]["total_s"] for r in rows], "o-", label="MSQ")
    ax.plot(sizes, [r["vitis"]["total_s"] for r in rows], "s--", label="stock Vitis")
    ax.set_xlabel("input size (pixels per side)")
    ax.set_ylabel("convert + compile (s)")
    ax.set_title(f"VGG-style CNN, {rows[0]['io_type']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--io", default="io_parallel", choices=("io_parallel", "io_stream"))
    p.add_argument("--width", type=float, default=0.125)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    rows = run(args.sizes, args.io, args.width, args.samples)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(table(rows))
    (out / f"compile_cnn_{args.io}.json").write_text(json.dumps(rows, indent=2))
    plot(rows, out / f"compile_cnn_{args.io}.png")
    print(f"\nwritten: {out / f'compile_cnn_{args.io}.json'}, {out / f'compile_cnn_{args.io}.png'}")


if __name__ == "__main__":
    main()
