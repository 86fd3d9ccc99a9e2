"""Benchmark: fixed-only vs MSQ peak throughput per board, with and without two products per DSP48E1
(DSP packing), and the SP2 share the model picks for each.

Uses the yosys-measured PE costs (flow/resources/calibration.json) and the ImageNet ResNet-18
workload at 4-bit weights / 8-bit activations (the MSQ paper's setting). Prints a table next to
the paper's numbers (XC7Z020 52.8 -> 132 GOPS, XC7Z045 208 -> 624 GOPS, fixed-only -> MSQ) and the
peak-gain goals of issue 15 (MSQ packed >= 3.5x / 4.0x the unpacked fixed-only design), and plots
ResNet-18 throughput vs SP2 share per board.

    .venv/bin/python bench/share_model.py [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flow.boards import get_board
from flow.resources.estimate import best_share, pe_array, resnet18_workload, throughput_at_share

PAPER = {
    "pynq-z2": {"share": "1:1.5", "gain": 2.5, "gops_fixed": 52.8, "gops_msq": 132.0},
    "zc706": {"share": "1:2", "gain": 3.0, "gops_fixed": 208.0, "gops_msq": 624.0},
}
#: Issue 15: MSQ with packing at least this many times the unpacked fixed-only peak.
GOAL = {"pynq-z2": 3.5, "zc706": 4.0}


def run() -> list[dict]:
    works = resnet18_workload(4, 8)
    rows = []
    for name in ("pynq-z2", "zc706"):
        board = get_board(name)
        row = {"board": name, "part": board.part, "clock_mhz": board.clock_mhz, "paper": PAPER[name], "goal": GOAL[name]}
        for key, packed in (("plain", False), ("packed", True)):
            array = pe_array(board, packed=packed)
            share, gops = best_share(works, array, board.clock_mhz)
            row[key] = {
                **array, "best_share": share, "resnet18_gops_msq": gops,
                "resnet18_gops_fixed": throughput_at_share(works, array, 0.0, board.clock_mhz),
                "curve": [(s / 20, throughput_at_share(works, array, s / 20, board.clock_mhz)) for s in range(21)],
            }
        base = row["plain"]["peak_gops_fixed"]
        row["gain_msq"] = row["plain"]["peak_gops_msq"] / base
        row["gain_msq_packed"] = row["packed"]["peak_gops_msq"] / base
        row["goal_met"] = row["gain_msq_packed"] >= GOAL[name]
        rows.append(row)
    return rows


def table(rows) -> str:
    lines = [
        "| board | clock | DSP | peak GOPS fixed | fixed packed | MSQ | MSQ packed | MSQ packed / fixed (goal) | "
        "share MSQ (fixed:SP2) | share MSQ packed (fixed:SP2) | paper fixed -> MSQ (share) | "
        "ResNet-18 GOPS fixed / fixed packed / MSQ / MSQ packed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p, q, paper = r["plain"], r["packed"], r["paper"]
        lines.append(
            f"| {r['board']} ({r['part'].split('clg')[0].split('ffg')[0]}) | {r['clock_mhz']:.0f} MHz | {p['dsp']} | "
            f"{p['peak_gops_fixed']:.0f} | {q['peak_gops_fixed']:.0f} | {p['peak_gops_msq']:.0f} | {q['peak_gops_msq']:.0f} | "
            f"{r['gain_msq_packed']:.2f}x ({r['goal']:.1f}x: {'met' if r['goal_met'] else 'NOT met'}) | "
            f"{p['best_share']:.2f} ({p['fixed_to_sp2']}) | {q['best_share']:.2f} ({q['fixed_to_sp2']}) | "
            f"{paper['gops_fixed']:g} -> {paper['gops_msq']:g} ({paper['share']}) | "
            f"{p['resnet18_gops_fixed']:.0f} / {q['resnet18_gops_fixed']:.0f} / {p['resnet18_gops_msq']:.0f} / "
            f"{q['resnet18_gops_msq']:.0f} |"
        )
    return "\n".join(lines)


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for r in rows:
        for key, style in (("plain", "o-"), ("packed", "s--")):
            shares, gops = zip(*r[key]["curve"])
            ax.plot(shares, gops, style, ms=3, label=f"{r['board']} {key} (best {r[key]['best_share']:.2f})")
    ax.set_xlabel("SP2 share of rows")
    ax.set_ylabel("ResNet-18 throughput (GOPS)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
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
