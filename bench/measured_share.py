"""Benchmark: the SP2 share measured on whole designs (RTL route: Verilator + yosys), not estimated.

For the demo MLP (64-64-32-10) (and with ``--models demo,thesis`` the thesis MLP 784-660-10), each as
fixed-only, SP2-only and MSQ at SP2 shares 0.25 / 0.5 / 0.75, at one Resource ReuseFactor per model: the
Verilog of ``flow.rtl`` synthesized whole by yosys (``synth_xilinx -family xc7``: LUT, FF, DSP48E1, BRAM,
measured) and simulated by Verilator (cycles per sample in a long batch, measured), GOPS at 100 MHz, and the
"board-scaled" GOPS: GOPS divided by the utilization of the binding resource (LUT or DSP) of pynq-z2, i.e. the
throughput if the design were widened until that resource runs out (the quantity the MSQ share balances). The
measured best share is compared with the estimator's choice (``flow.resources.estimate.best_share``). Untrained
(randomly initialized, quantized) weights: the costs depend on the shapes, the widths and the ROM contents, not
on accuracy. Writes ``bench/results/measured_share.{json,png}``.

    .venv/bin/python bench/measured_share.py [--models demo] [--samples 64] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

#: name -> (n_in, hidden, n_out, Resource ReuseFactor that fits pynq-z2 for every variant by the estimator)
MODELS = {"demo": (64, (64, 32), 10, 16), "thesis": (784, (660,), 10, 2352)}
VARIANTS = [("fixed-only", "fixed", 0.0), ("MSQ 0.25", "msq", 0.25), ("MSQ 0.5", "msq", 0.5),
            ("MSQ 0.75", "msq", 0.75), ("SP2-only", "sp2", 1.0)]
CLOCK_MHZ = 100.0
#: MSQ_SMALL=1 (the README test): a 16-8-4 MLP at ReuseFactor 4, three variants
SMALL_MODELS = {"demo": (16, (8,), 4, 4)}
SMALL_VARIANTS = [VARIANTS[0], VARIANTS[2], VARIANTS[4]]


def build_model(shape, scheme: str, share: float, seed: int = 0):
    import tensorflow as tf

    from flow.convert import freeze_msq_rows
    from flow.models import QuantSpec, mlp

    tf.keras.utils.set_random_seed(seed)
    n_in, hidden, n_out, _ = shape
    model = mlp(n_in, n_out, hidden, QuantSpec(scheme, 4, share if scheme == "msq" else 0.6))
    freeze_msq_rows(model)
    return model


def cycles_per_sample(rtl, n_in: int, samples: int) -> float:
    """Steady-state interval: (cycles of 2n samples - cycles of n) / n."""
    x = np.random.default_rng(0).uniform(-2, 2, (2 * samples, n_in)).astype(np.float32)
    rtl.predict(x[:samples])
    short = rtl.cycles
    rtl.predict(x)
    return (rtl.cycles - short) / samples


def measure(name: str, label: str, scheme: str, share: float, samples: int, work: Path) -> dict:
    from flow.boards import get_board
    from flow.convert import ConvertConfig, convert
    from flow.resources.estimate import estimate_model
    from flow.rtl import RTLModel, emit
    from flow.rtl.synth import synthesize

    shape = MODELS[name]
    rf = shape[3]
    board = get_board("pynq-z2")
    model = build_model(shape, scheme, share)
    tag = f"{name}_{scheme}_{share}"
    hm = convert(model, work / f"hls_{tag}", ConvertConfig(strategy="Resource", reuse_factor=rf), compile=False)
    design = emit(hm, work / f"rtl_{tag}")
    rtl = RTLModel(design)
    interval = cycles_per_sample(rtl, shape[0], samples)
    total = synthesize(design)["total"]
    est = estimate_model(model, board, reuse_factor=rf, data_bits=8, strategy="resource")
    macs = sum(a * b for a, b in zip((shape[0], *shape[1]), (*shape[1], shape[2])))
    gops = 2 * macs / interval * CLOCK_MHZ * 1e6 / 1e9
    util = {"lut": total["lut"] / board.lut, "dsp": total["dsp"] / board.dsp}
    binding = max(util.values())
    return {"model": name, "variant": label, "scheme": scheme, "sp2_share": share, "reuse_factor": rf,
            "measured (yosys synthesis)": total, "cycles_per_sample (verilator)": interval, "gops_100mhz": gops,
            "utilization": util, "board_scaled_gops": gops / binding if binding else float("inf"),
            "estimate": {k: est["total"][k] for k in ("lut", "ff", "dsp", "bram36")}}


def estimator_choice(name: str) -> float:
    from flow.boards import get_board
    from flow.resources.estimate import best_share, pe_array, works_from_model

    board = get_board("pynq-z2")
    model = build_model(MODELS[name], "msq", 0.5)
    works = works_from_model(model, MODELS[name][3], 8, "resource")
    share, _ = best_share(works, pe_array(board), board.clock_mhz)
    return share


def table(rows: list[dict], choices: dict) -> str:
    lines = ["| model | variant | LUT | FF | CARRY4 | DSP48E1 | RAMB18/36 | cycles/sample | GOPS @100 MHz | LUT % | DSP % "
             "| board-scaled GOPS | LUT (est.) | DSP (est.) |", "|---" * 14 + "|"]
    for r in rows:
        m, e, u = r["measured (yosys synthesis)"], r["estimate"], r["utilization"]
        lines.append(f"| {r['model']} | {r['variant']} | {m['lut']} | {m['ff']} | {m['carry4']} | {m['dsp']} | "
                     f"{m['bram18']}/{m['bram36']} | {r['cycles_per_sample (verilator)']:.1f} | {r['gops_100mhz']:.2f} | "
                     f"{100 * u['lut']:.1f} | {100 * u['dsp']:.1f} | {r['board_scaled_gops']:.1f} | {e['lut']} | {e['dsp']} |")
    lines.append("")
    for name, share in choices.items():
        ours = [r for r in rows if r["model"] == name]
        best = max(ours, key=lambda r: r["board_scaled_gops"])
        lines.append(f"{name}: measured best share {best['sp2_share']:g} ({best['variant']}, "
                     f"{best['board_scaled_gops']:.1f} board-scaled GOPS); the estimator's choice {share:g}")
    lines.append("measured: yosys synthesis + Verilator cycles; (est.): flow/resources/estimate.py; pynq-z2 capacity "
                 "53200 LUT / 220 DSP48E1")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r["model"] for r in rows})
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        ours = [r for r in rows if r["model"] == name]
        xs = [r["sp2_share"] for r in ours]
        ax.plot(xs, [100 * r["utilization"]["lut"] for r in ours], "o-", label="LUT % (yosys)")
        ax.plot(xs, [100 * r["utilization"]["dsp"] for r in ours], "s-", label="DSP % (yosys)")
        ax.set_xlabel("SP2 share (0 = fixed-only, 1 = SP2-only)")
        ax.set_ylabel("pynq-z2 utilization, %")
        ax2 = ax.twinx()
        ax2.plot(xs, [r["board_scaled_gops"] for r in ours], "k^--", label="board-scaled GOPS")
        ax2.set_ylabel("GOPS if widened to the binding resource")
        ax.set_title(f"{name} MLP, Resource RF {ours[0]['reuse_factor']} (measured)")
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="demo", help="comma-separated: demo, thesis")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--out", default="bench/results")
    args = p.parse_args(argv)
    from flow.small import announce, small

    global MODELS, VARIANTS
    if small():
        announce("measured_share: a 16-8-4 MLP, three variants")
        MODELS, VARIANTS = SMALL_MODELS, SMALL_VARIANTS
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"--models: unknown {unknown}; choose from {sorted(MODELS)}")
    from tqdm import tqdm

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        todo = [(n, *v) for n in names for v in VARIANTS]
        for name, label, scheme, share in tqdm(todo, desc="designs", disable=not sys.stderr.isatty()):
            rows.append(measure(name, label, scheme, share, args.samples, Path(tmp)))
    choices = {n: estimator_choice(n) for n in names}
    text = table(rows, choices)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "measured_share.json").write_text(json.dumps({"rows": rows, "estimator_choice": choices}, indent=2) + "\n")
    plot(rows, out / "measured_share.png")
    print(f"wrote {out / 'measured_share.json'} and {out / 'measured_share.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
