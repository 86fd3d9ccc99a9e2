"""A sweep's results: the flattened CSV, the table per board, the Pareto fronts and the best design.

* ``results.csv``: one row per trial (failed ones too, with their error).
* ``results.md``: per board, the trials sorted by C-simulation accuracy (best first).
* ``pareto.png``: accuracy against DSP, LUT (estimated) and latency (estimated), the non-dominated
  trials joined; failed or mismatching trials are left out.
* ``best.json``: per board, the configuration (all axes but the seed) with the highest mean accuracy
  over its seeds among those whose every seed finished exactly and is estimated to fit the board.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

COLUMNS = ("id", "status", "board", "bits", "sp2_share_asked", "sp2_share", "strategy", "reuse_factor_asked",
           "reuse_factor", "seed", "accuracy", "accuracy_keras", "accuracy_float", "csim_samples_equal", "csim_samples",
           "dsp", "lut", "ff", "bram36", "latency_us", "gops", "fits", "measured_lut", "measured_dsp", "measured_ff", "wall_s", "host", "error")
COSTS = (("dsp", "DSP (estimate)"), ("lut", "LUT (estimate)"), ("latency_us", "latency us (estimate)"))
#: a configuration: the axes as asked, all but the seed
CONFIG = ("board", "bits", "sp2_share_asked", "strategy_asked", "reuse_factor_asked")


def flat(record: dict) -> dict:
    """One CSV row of a record."""
    row = {k: record.get(k) for k in COLUMNS}
    cs, est, meas = record.get("csim") or {}, record.get("estimate") or {}, record.get("measured") or {}
    row.update(csim_samples_equal=cs.get("samples_equal"), csim_samples=cs.get("samples"))
    row.update({k: est.get(k) for k in ("dsp", "lut", "ff", "bram36", "latency_us", "gops", "fits")})
    row.update(measured_lut=meas.get("lut"), measured_dsp=meas.get("dsp"), measured_ff=meas.get("ff"))
    if row["error"]:
        row["error"] = str(row["error"]).splitlines()[0][:300]
    return row


def write_csv(path: Path, records: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(flat(r) for r in records)
    tmp.replace(path)


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (lower cost, higher accuracy), by increasing cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def good(records: list[dict]) -> list[dict]:
    return [r for r in records if r["status"] == "ok" and r.get("estimate")]


def best_per_board(records: list[dict]) -> dict[str, dict]:
    """Per board: the configuration with the highest mean accuracy over its seeds that fits."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(tuple(r.get(k) for k in CONFIG), []).append(r)
    best: dict[str, dict] = {}
    for key, runs in groups.items():
        if any(r["status"] != "ok" or not r["estimate"]["fits"] for r in runs):
            continue
        cfg = dict(zip(CONFIG, key))
        mean = sum(r["accuracy"] for r in runs) / len(runs)
        est = {k: max(r["estimate"][k] for r in runs) for k in ("dsp", "lut", "latency_us")}  # worst seed
        entry = {**cfg, "sp2_share": runs[0]["sp2_share"], "strategy": runs[0]["strategy"],
                 "reuse_factor": max(r["reuse_factor"] for r in runs), "accuracy_mean": mean,
                 "seeds": sorted(r["seed"] for r in runs), "dsp": est["dsp"],
                 "lut": est["lut"], "latency_us": est["latency_us"], "source": "accuracy: C-simulation; "
                 "resources: estimate"}
        old = best.get(cfg["board"])
        if old is None or (mean, -est["lut"], -est["dsp"]) > (old["accuracy_mean"], -old["lut"], -old["dsp"]):
            best[cfg["board"]] = entry
    return best


def table(records: list[dict]) -> str:
    lines = []
    for board in sorted({r["board"] for r in records}):
        rows = sorted((r for r in records if r["board"] == board),
                      key=lambda r: (r["accuracy"] is None, -(r["accuracy"] or 0.0), r["id"]))
        lines += [f"### {board}", "",
                  "| trial | status | bits | SP2 share | strategy | RF | seed | accuracy (C-sim) | C-sim == Keras "
                  "| DSP | LUT | latency us | fits |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            f = flat(r)
            acc = "" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f} %"
            cs = "" if f["csim_samples"] is None else f"{f['csim_samples_equal']} / {f['csim_samples']}"
            share = "" if r["sp2_share"] is None else f"{r['sp2_share']:g}"
            lines.append(f"| {r['id']} | {r['status']} | {r['bits']} | {share} | {r['strategy']} | {r['reuse_factor']} "
                         f"| {r['seed']} | {acc} | {cs} | {_v(f['dsp'])} | {_v(f['lut'])} | {_v(f['latency_us'])} "
                         f"| {_v(f['fits'])} |")
        lines.append("")
    return "\n".join(lines)


def _v(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def plot(path: Path, records: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = good(records)
    fig, axes = plt.subplots(1, len(COSTS), figsize=(5 * len(COSTS), 4), squeeze=False)
    for ax, (key, label) in zip(axes[0], COSTS):
        for board in sorted({r["board"] for r in ok}):
            rs = [r for r in ok if r["board"] == board]
            pts = [(float(r["estimate"][key]), 100 * r["accuracy"]) for r in rs]
            dots = ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, alpha=0.6, label=board)
            front = [pts[i] for i in pareto(pts)]
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", linewidth=1.2,
                    color=dots.get_facecolor()[0][:3])
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy % (C-simulation)")
        if key == "dsp":
            ax.set_xscale("symlog")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("sweep: accuracy vs cost (estimated), Pareto fronts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(records: list[dict], best: dict) -> str:
    n_ok = sum(r["status"] == "ok" for r in records)
    lines = [f"trials: {len(records)}, ok {n_ok}, failed {sum(r['status'] == 'failed' for r in records)}, "
             f"C-sim mismatch {sum(r['status'] == 'mismatch' for r in records)}"]
    for r in records:
        if r["status"] != "ok":
            lines.append(f"  {r['id']}: {r['status']}: {str(r['error']).splitlines()[0]}")
    for board, b in sorted(best.items()):
        lines.append(f"best on {board} (fits, estimated): bits {b['bits']}, SP2 share {b['sp2_share']:g}, "
                     f"{b['strategy']} RF {b['reuse_factor']}: accuracy {100 * b['accuracy_mean']:.2f} % "
                     f"(mean of seeds {b['seeds']}), DSP {b['dsp']}, LUT {b['lut']}, {b['latency_us']:g} us")
    boards = {r["board"] for r in records}
    for board in sorted(boards - set(best)):
        lines.append(f"best on {board}: no configuration finished exactly on every seed and fits")
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_results(out: Path, records: list[dict], final: bool = True) -> str:
    """Write the CSV (always) and, when ``final``, the table, the plot and the best designs; returns the summary."""
    write_csv(out / "results.csv", records)
    if not final:
        return ""
    best = best_per_board(records)
    _write(out / "results.md", table(records))
    _write(out / "best.json", json.dumps(best, indent=2) + "\n")
    if good(records):
        plot(out / "pareto.png", records)
    text = summary(records, best)
    return "\n".join([table(records), text, f"results: {out / 'results.csv'}, {out / 'results.md'}, "
                      f"{out / 'pareto.png'}, {out / 'best.json'}"])
