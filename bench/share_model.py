"""Benchmark: fixed-only vs MSQ peak throughput per board and the SP2 share the model picks.

Uses the yosys-measured PE costs (flow/resources/calibration.json) and the ImageNet ResNet-18
workload at 4-bit weights / 8-bit activations (the MSQ paper's setting). Prints a table next to
the paper's numbers and plots throughput vs SP2 share per board.

    .venv/bin/python bench/share_model.py [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flow.boards import get_board
from flow.resources.estimate import best_share, pe_array, resnet18_workload, throughput_at_share

PAPER = {"pynq-z2": {"share": "1:1.5", "gain": 2.5}, "zc706": {"share": "1:2", "gain": 3.0}}


def run() -> list[dict]:
    works = resnet18_workload(4, 8)
    rows = []
    for name in ("pynq-z2", "zc706"):
        board = get_board(name)
        array = pe_array(board)
        share, gops = best_share(works, array, board.clock_mhz)
        curve = [(s / 20, throughput_at_share(works, array, s / 20, board.clock_mhz)) for s in range(21)]
        rows.append({**array, "clock_mhz": board.clock_mhz, "best_share": share, "resnet18_gops_msq": gops,
                     "resnet18_gops_fixed": throughput_at_share(works, array, 0.0, board.clock_mhz),
                     "paper": PAPER[name], "curve": curve})
    return rows


def table(rows) -> str:
    lines = [
        "| board | clock | DSP lanes | SP2 lanes | fixed:SP2 (ours) | fixed:SP2 (paper) | peak GOPS fixed | "
        "peak GOPS MSQ | gain (ours) | gain (paper) | chosen share | ResNet-18 GOPS fixed -> MSQ |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['board']} | {r['clock_mhz']:.0f} MHz | {r['dsp_lanes']} | {r['lut_lanes']} | {r['fixed_to_sp2']} | "
            f"{r['paper']['share']} | {r['peak_gops_fixed']:.0f} | {r['peak_gops_msq']:.0f} | {r['gain']:.2f}x | "
            f"{r['paper']['gain']:.1f}x | {r['best_share']:.2f} | {r['resnet18_gops_fixed']:.0f} -> "
            f"{r['resnet18_gops_msq']:.0f} |"
        )
    return "\n".join(lines)


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for r in rows:
        shares, gops = zip(*r["curve"])
        ax.plot(shares, gops, "o-", ms=3, label=f"{r['board']} (best {r['best_share']:.2f})")
    ax.set_xlabel("SP2 share of rows")
    ax.set_ylabel("ResNet-18 throughput (GOPS)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/results")
    args = p.parse_args()
    rows = run()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(table(rows))
    (out / "share_model.json").write_text(json.dumps(rows, indent=1))
    plot(rows, out / "share_model.png")
    print(f"\nwritten: {out / 'share_model.json'}, {out / 'share_model.png'}")


if __name__ == "__main__":
    main()
