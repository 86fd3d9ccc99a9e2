"""Benchmark (estimate): the io_stream VGG (width 0.25) at 32x32x3 on PYNQ-Z2, per reuse factor.

Every figure is the estimator's (flow/resources/estimate.py, PE costs measured by yosys, the
micro-architecture of flow/hls/microarch.py): DSP, LUT, BRAM36, cycles per image (the DATAFLOW
interval: the slowest layer's scan), images/s and ms/image at the board clock. The anchor is MLPerf
Tiny v1.0's hls4ml RN08 on PYNQ-Z2 (CIFAR-10, 8-bit, measured on the board: 7.64 ms/image). Not
measured here: no Vitis HLS on this machine; `tests/test_csynth.py` checks the estimate against
csynth where Vitis HLS is installed.

    .venv/bin/python bench/vgg_stream.py [--board pynq-z2] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ANCHOR = {"design": "MLPerf Tiny v1.0 hls4ml RN08 (PYNQ-Z2, measured)", "ms_per_image": 7.64}
REUSE_FACTORS = (1, 9, 36, 144)
#: Target cycles per image of the balanced designs (per-layer reuse factors).
INTERVALS = (25_000, 50_000, 100_000, 200_000, 400_000)


def model():
    import tensorflow as tf

    from flow.convert import freeze_msq_rows
    from flow.models import QuantSpec, vgg

    tf.keras.utils.set_random_seed(0)
    net = vgg((32, 32, 3), 10, width=0.25, spec=QuantSpec("msq", 4, 0.6, in_bits=8, in_integer=1))
    freeze_msq_rows(net)
    return net


def run(board_name: str) -> list[dict]:
    from flow.boards import get_board
    from flow.resources.estimate import balanced_reuse_factors, estimate, model_axi_beats, works_from_model

    board = get_board(board_name)
    net = model()
    designs = [(f"model-wide RF {rf}", works_from_model(net, rf, 8, "resource" if rf > 1 else "latency"))
               for rf in REUSE_FACTORS]
    designs += [(f"per-layer RF, target {t} cycles", balanced_reuse_factors(works_from_model(net, 1, 8), t))
                for t in INTERVALS]
    rows = []
    for name, works in designs:
        result = estimate(works, board, io_beats=model_axi_beats(net, 8, "io_stream"), io_type="io_stream")
        total = result["total"]
        rows.append({
            "design": name, "reuse_factors": [layer["reuse_factor"] for layer in result["layers"]],
            "dsp": total["dsp"], "lut": total["lut"], "ff": total["ff"], "bram36": total["bram36"],
            "interval_cycles": total["interval"], "images_per_s": result["inputs_per_s"],
            "ms_per_image": 1e3 / result["inputs_per_s"], "fits": all(result["fits"].values()),
            "utilization": result["utilization"],
        })
    return rows


def table(rows: list[dict], board: str) -> str:
    lines = [
        f"io_stream VGG (width 0.25), 32x32x3, MSQ 4-bit (share 0.6), {board} at 100 MHz: ESTIMATES",
        "",
        "| design | DSP | LUT | FF | BRAM36 | cycles/image | images/s | ms/image | fits |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['design']} | {r['dsp']} | {r['lut']} | {r['ff']} | {r['bram36']} | {r['interval_cycles']} | "
                     f"{r['images_per_s']:.0f} | {r['ms_per_image']:.2f} | {'yes' if r['fits'] else 'no'} |")
    lines.append(f"| anchor: {ANCHOR['design']} | | | | | | {1e3 / ANCHOR['ms_per_image']:.0f} | {ANCHOR['ms_per_image']} | |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for fits in (True, False):
        pts = [r for r in rows if r["fits"] == fits]
        ax.scatter([r["dsp"] for r in pts], [r["ms_per_image"] for r in pts], marker="o" if fits else "x",
                   label="fits (estimate)" if fits else "does not fit (estimate)")
    for r in rows:
        ax.annotate(r["design"].replace("per-layer RF, target ", "T="), (r["dsp"], r["ms_per_image"]), fontsize=6)
    ax.axhline(ANCHOR["ms_per_image"], color="grey", linestyle="--", label="hls4ml RN08, PYNQ-Z2 (measured)")
    ax.set_xlabel("DSP48E1 (estimate)")
    ax.set_ylabel("ms / image at 100 MHz (estimate)")
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="pynq-z2")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    rows = run(args.board)
    print(table(rows, args.board))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vgg_stream.json").write_text(json.dumps({"board": args.board, "anchor": ANCHOR, "rows": rows}, indent=1))
    plot(rows, args.out / "vgg_stream.png")


if __name__ == "__main__":
    main()
