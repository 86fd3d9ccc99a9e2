"""Benchmark: what each of our choices buys, one ablation at a time, on digits and MNIST-1D.

Setups: the MLP and the CNN of each data set (digits: the VGG-style CNN at width 0.125 on 8x8x1;
MNIST-1D: the three-Conv1D CNN), ``--seeds`` seeds each. Per setup and seed one float model is trained
and every row starts from it:

* MSQ (4-bit weights, 8-bit activations, ADMM + STE fine-tune, SP2 share 0.6):
  row assignment by variance (ours) vs random (same share); a power-of-two scale per row (ours) vs one
  per layer; ADMM with the dual rescaled when rho grows (ours, the fix) vs without (before the fix);
  SP2 share 'auto' for the PYNQ-Z2 (ours: balances its DSP and LUT lanes) vs 0.6 (the MSQ paper's 1:1.5 on the XC7Z020);
* symmetric PTQ (W4A8 and W8A8, whole model): power-of-two (ours) vs real scale, per channel (ours) vs
  per layer; ``preset='paper'`` (per layer, real) vs ours (per channel, po2);
* learned widths (the four-step schedule from the same float model): ``preset='paper'`` vs ours, and
  ours with one of the paper's settings at a time (real scale; step 4 at 1e-7; alpha in [1, 8]; the float
  head not charged in the BOPs cost);
* weight error only (numpy, no training): squared error of po2 vs real scales on Gaussian rows.

Prints Markdown tables (accuracy mean ± std over the seeds per setup, and the difference each choice
makes) and writes ``ablations.{json,csv,md,png}`` to ``--out``.

    .venv/bin/python bench/ablations.py [--quick] [--seeds 3] [--datasets digits mnist1d] [--models mlp cnn]
        [--float-epochs 30] [--admm-epochs 10] [--width-epochs 6] [--only msq ptq widths] [--out bench/results]
    .venv/bin/python bench/ablations.py --render bench/results/ablations.json   # tables + plot again, no training
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: Groups of rows (``--only``): MSQ training, post-training quantization, learned widths.
GROUPS = ("msq", "ptq", "widths")
SETUPS = {("digits", "mlp"): "mlp", ("digits", "cnn"): "vgg", ("mnist1d", "mlp"): "mlp", ("mnist1d", "cnn"): "cnn1d"}
MSQ_BITS = 4
#: The MSQ rows' baseline share: the MSQ paper's 1:1.5 on the XC7Z020 (and the API default).
MSQ_SHARE = 0.6
#: One change from our learned-width schedule at a time: (row suffix, ScheduleConfig keys).
WIDTH_VARIANTS = {
    "ours": {},
    "paper": None,  # the whole preset
    "ours + real scale": {"scale": "real"},
    "ours + step 4 at 1e-7": {"finetune_learning_rate": 1e-7},
    "ours + alpha in [1, 8]": {"weights": {"low": 2.0}, "activations": {"low": 1.0}},
    "ours + head not charged": {"head_in_cost": False},
}


def our_share() -> float:
    """Our SP2 share for the PYNQ-Z2: 'auto', the one that balances its DSP and LUT lanes."""
    from flow.presets import sp2_share

    return sp2_share("ours", "pynq-z2", MSQ_BITS)


def _progress(iterable, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not sys.stderr.isatty(), **kwargs)


# -- weight error (numpy) ----------------------------------------------------------------------------------------


def weight_errors(bits_list=(2, 3, 4, 6, 8), draws: int = 20, seed: int = 0) -> list[dict]:
    """Squared error of each scale relative to the unrounded real scale max|w|/k, Gaussian rows 256 x 64."""
    import numpy as np

    from flow.quantizers import quantized_symmetric

    rng = np.random.default_rng(seed)
    rows = []
    for per_channel in (False, True):
        for bits in bits_list:
            k = 2 ** (bits - 1) - 1
            sums = {}
            for _ in range(draws):
                w = rng.normal(0, 1, (256, 64)) * (rng.uniform(0.2, 3, 64) if per_channel else 0.3)
                w = w.astype(np.float32)
                m = np.max(np.abs(w), axis=0) if per_channel else np.max(np.abs(w))
                s = m / k
                sums.setdefault("unrounded", []).append(np.sum((w - np.clip(np.round(w / s), -k, k) * s) ** 2))
                for name, q in (("po2", quantized_symmetric(bits, per_channel)),
                                ("real 8-bit c", quantized_symmetric(bits, per_channel, scale="real", scale_bits=8)),
                                ("real 4-bit c", quantized_symmetric(bits, per_channel, scale="real", scale_bits=4))):
                    sums.setdefault(name, []).append(float(np.sum((w - q(w).numpy()) ** 2)))
            base = float(np.mean(sums["unrounded"]))
            rows.append({"per_channel": per_channel, "bits": bits,
                         **{n: float(np.mean(v)) / base for n, v in sums.items() if n != "unrounded"}})
    return rows


def weight_error_table(rows) -> str:
    bits = sorted({r["bits"] for r in rows})
    lines = ["| scale (squared error / unrounded real scale) | " + " | ".join(f"{b} bits" for b in bits) + " |",
             "|---|" + "---|" * len(bits)]
    for per_channel in (False, True):
        for name in ("po2", "real 8-bit c", "real 4-bit c"):
            vals = {r["bits"]: r[name] for r in rows if r["per_channel"] == per_channel}
            where = "per channel" if per_channel else "per layer"
            lines.append(f"| {name}, {where} | " + " | ".join(f"{vals[b]:.2f}" for b in bits) + " |")
    return "\n".join(lines)


# -- models --------------------------------------------------------------------------------------------------------


def _data(dataset: str, arch: str):
    from flow.data import IMAGE_SHAPES, load

    data = load(dataset)
    return data if arch == "mlp" else data.with_shape(IMAGE_SHAPES[dataset])


def _build(arch: str, data, spec):
    from flow import models

    n = int(data.y_train.max()) + 1
    if arch == "mlp":
        return models.mlp(data.input_dim, n, spec=spec)
    if arch == "vgg":
        return models.vgg(data.x_train.shape[1:], n, 0.125, spec)
    return models.cnn1d(data.x_train.shape[1:], n, spec=spec)


def _with_msq(model, share: float, per_row: bool, assignment: str, rng):
    """``model`` with every MSQ kernel quantizer replaced: this share, scale granularity and row assignment
    (frozen: 'variance' ranks the current weights, 'random' permutes that assignment)."""
    import numpy as np

    from flow.quantizers import levels, quantized_msq
    from flow.rewrite import layer_config, rewrite

    def replace(layer):
        if not isinstance(getattr(layer, "kernel_quantizer_internal", None), quantized_msq):
            return None
        scheme = levels.assign_rows(layer.kernel.numpy(), share)
        if assignment == "random":
            scheme = rng.permutation(scheme)
        q = quantized_msq(MSQ_BITS, sp2_share=share, row_scheme=[int(s) for s in scheme], per_row=per_row)
        return type(layer)(**layer_config(layer, ("kernel_quantizer",)), kernel_quantizer=q)

    out = rewrite(model, replace)
    assert any(isinstance(getattr(l, "kernel_quantizer_internal", None), quantized_msq) for l in out.layers)
    return out


# -- one setup, one seed -------------------------------------------------------------------------------------------


def run(dataset: str, model: str, seed: int, args, workdir: Path) -> dict:
    import numpy as np
    import tensorflow as tf

    from flow.models import QuantSpec
    from flow.train import ADMMConfig, TrainConfig, evaluate, train, train_admm, transfer_weights

    arch = SETUPS[(dataset, model)]
    data = _data(dataset, arch)
    tf.keras.utils.set_random_seed(seed)
    float_model = _build(arch, data, QuantSpec("float"))
    train(float_model, data, TrainConfig(epochs=args.float_epochs, seed=seed, progress=False))
    acc = {"float": evaluate(float_model, data.x_test, data.y_test)}
    jobs = []
    if "msq" in args.only:
        in_bits, in_int = data.input_quantizer_args()
        rng = np.random.default_rng(1000 + seed)

        def msq(share=MSQ_SHARE, per_row=True, assignment="variance", rescale=True):
            tf.keras.utils.set_random_seed(seed)
            m = _build(arch, data, QuantSpec("msq", MSQ_BITS, share, in_bits=in_bits, in_integer=in_int))
            transfer_weights(float_model, m)
            m = _with_msq(m, share, per_row, assignment, rng)
            cfg = ADMMConfig(epochs=args.admm_epochs, finetune_epochs=max(1, args.admm_epochs // 2), seed=seed,
                             progress=False, rescale_dual=rescale)
            train_admm(m, data, cfg)
            return evaluate(m, data.x_test, data.y_test)

        jobs += [
            (MSQ_BASE, lambda: msq()),
            ("MSQ row assignment: random", lambda: msq(assignment="random")),
            ("MSQ scale: per layer (po2)", lambda: msq(per_row=False)),
            ("ADMM dual: not rescaled (before)", lambda: msq(rescale=False)),
            ("MSQ SP2 share: ours (auto, PYNQ-Z2)", lambda: msq(share=our_share())),
        ]
        from flow.presets import sp2_share

        assert sp2_share("paper", "pynq-z2") == MSQ_SHARE  # the baseline row is the paper's share
    if "ptq" in args.only:
        from flow.presets import ptq_settings
        from flow.ptq import quantize

        calib = data.x_train[:512]

        def ptq(bits, **kw):
            q = quantize(float_model, calib, bits=bits, act_bits=8, **kw)
            return evaluate(q, data.x_test, data.y_test)

        for bits in (4, 8):
            for gran in ("channel", "layer"):
                for scale in ("po2", "real"):
                    job = lambda b=bits, g=gran, s=scale: ptq(b, granularity=g, scale=s)  # noqa: E731
                    jobs.append((f"PTQ W{bits}A8 {gran} {scale}", job))
        assert ptq_settings("paper") == {"granularity": "layer", "scale": "real"}  # the rows the table calls 'paper'
    if "widths" in args.only:
        from flow.bitwidth.schedule import ScheduleConfig, run_schedule

        def widths(variant):
            slug = "".join(c if c.isalnum() else "_" for c in variant)
            out = workdir / f"{dataset}-{model}-{seed}-{slug}"
            out.mkdir(parents=True)  # a fresh directory per variant: the schedule resumes what it finds there
            float_model.save(out / "float.h5")  # the schedule resumes from our float model
            change = WIDTH_VARIANTS[variant]
            cfg = ScheduleConfig.from_preset(
                "paper" if change is None else "ours", **(change or {}), model=arch, dataset=dataset,
                weight_epochs=args.width_epochs, activation_epochs=args.width_epochs,
                finetune_epochs=max(1, args.width_epochs // 2), seed=seed, progress=False, cost_weight=args.cost_weight,
            )
            frozen, log = run_schedule(cfg, out, resume=True, data=data)
            kernels = {layer.name for layer in frozen.layers if hasattr(layer, "kernel")}
            kernel = [w for n, w in log[-1]["widths"].items() if n in kernels]
            return {"accuracy": evaluate(frozen, data.x_test, data.y_test), "widths": log[-1]["widths"],
                    "mean_kernel_width": float(np.mean(kernel)) if kernel else None}

        jobs += [(f"learned widths: {v}", lambda v=v: widths(v)) for v in WIDTH_VARIANTS]
    extra = {}
    for name, job in _progress(jobs, desc=f"{dataset}/{model} seed {seed}", leave=False):
        result = job()
        if isinstance(result, dict):
            acc[name] = result.pop("accuracy")
            extra[name] = result
        else:
            acc[name] = result
    return {"dataset": dataset, "model": model, "arch": arch, "seed": seed, "accuracy": acc, "extra": extra}


# -- tables --------------------------------------------------------------------------------------------------------

#: (ablation, (label, row) for ours, (label, row) for the alternative)
MSQ_BASE = "MSQ (variance, per row, dual fix, share 0.6)"
PAIRS = [
    ("MSQ row assignment", ("variance", MSQ_BASE), ("random", "MSQ row assignment: random")),
    ("MSQ scale", ("per row", MSQ_BASE), ("per layer", "MSQ scale: per layer (po2)")),
    ("ADMM dual", ("rescaled (fix)", MSQ_BASE), ("not rescaled (before)", "ADMM dual: not rescaled (before)")),
    ("MSQ SP2 share", ("auto for PYNQ-Z2", "MSQ SP2 share: ours (auto, PYNQ-Z2)"), ("0.6 (paper, XC7Z020)", MSQ_BASE)),
    ("PTQ W4A8 scale (per channel)", ("po2", "PTQ W4A8 channel po2"), ("real", "PTQ W4A8 channel real")),
    ("PTQ W4A8 scale (per layer)", ("po2", "PTQ W4A8 layer po2"), ("real", "PTQ W4A8 layer real")),
    ("PTQ W8A8 scale (per channel)", ("po2", "PTQ W8A8 channel po2"), ("real", "PTQ W8A8 channel real")),
    ("PTQ W4A8 ranges (po2)", ("per channel", "PTQ W4A8 channel po2"), ("per layer", "PTQ W4A8 layer po2")),
    ("PTQ W4A8 preset", ("ours", "PTQ W4A8 channel po2"), ("paper", "PTQ W4A8 layer real")),
    ("PTQ W8A8 preset", ("ours", "PTQ W8A8 channel po2"), ("paper", "PTQ W8A8 layer real")),
    ("learned widths preset", ("ours", "learned widths: ours"), ("paper", "learned widths: paper")),
    ("learned widths scale", ("po2", "learned widths: ours"), ("real", "learned widths: ours + real scale")),
    ("learned widths step 4", ("2e-4", "learned widths: ours"), ("1e-7", "learned widths: ours + step 4 at 1e-7")),
    ("learned widths alpha", ("[3, 8]", "learned widths: ours"),
     ("[1, 8] ([2, 8] kernels)", "learned widths: ours + alpha in [1, 8]")),
    ("learned widths BOPs", ("head charged", "learned widths: ours"),
     ("head not charged", "learned widths: ours + head not charged")),
]


def aggregate(runs: list[dict]) -> dict:
    """``{(dataset, model): {row: (mean, std, n)}}`` over seeds."""
    import numpy as np

    out: dict = {}
    for r in runs:
        out.setdefault((r["dataset"], r["model"]), {}).setdefault("_runs", []).append(r)
    for key, block in out.items():
        rows = {}
        for r in block.pop("_runs"):
            for name, a in r["accuracy"].items():
                rows.setdefault(name, []).append(a)
        out[key] = {n: (float(np.mean(v)), float(np.std(v)), len(v)) for n, v in rows.items()}
    return out


def _setup_label(key) -> str:
    dataset, model = key
    return f"{dataset} {SETUPS[key]}"


def pairs_table(agg: dict) -> str:
    keys = list(agg)
    lines = ["| ablation | variant | " + " | ".join(_setup_label(k) for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for ablation, ours, alt in PAIRS:
        if not any(ours[1] in agg[k] and alt[1] in agg[k] for k in keys):
            continue
        for tag, (label, row) in (("ours", ours), ("alt", alt)):
            cells = []
            for k in keys:
                m = agg[k].get(row)
                cells.append(f"{100 * m[0]:.2f} ± {100 * m[1]:.2f}" if m else "")
            first, mark = (ablation, " (ours)") if tag == "ours" else ("", "")
            lines.append(f"| {first} | {label}{mark} | " + " | ".join(cells) + " |")
        cells = []
        for k in keys:
            a, b = agg[k].get(ours[1]), agg[k].get(alt[1])
            cells.append(f"**{100 * (a[0] - b[0]):+.2f}**" if a and b else "")
        lines.append("| | ours − alternative (points) | " + " | ".join(cells) + " |")
    floats = [f"{100 * agg[k]['float'][0]:.2f} ± {100 * agg[k]['float'][1]:.2f}" for k in keys]
    lines.append("| float | | " + " | ".join(floats) + " |")
    return "\n".join(lines)


def widths_table(runs: list[dict]) -> str:
    import numpy as np

    rows = {}
    for r in runs:
        for name, extra in r.get("extra", {}).items():
            if extra.get("mean_kernel_width") is not None:
                learned = [w for n, w in extra["widths"].items() if n != "q_input"]
                key = (_setup_label((r["dataset"], r["model"])), name)
                rows.setdefault(key, []).append((extra["mean_kernel_width"], float(np.mean(learned))))
    if not rows:
        return ""
    lines = ["| setup | schedule | mean kernel width | mean width (kernels + activations, not the input) |",
             "|---|---|---|---|"]
    for (setup, name), vals in rows.items():
        k, a = np.mean([v[0] for v in vals]), np.mean([v[1] for v in vals])
        lines.append(f"| {setup} | {name.split(': ')[1]} | {k:.2f} | {a:.2f} |")
    return "\n".join(lines)


def write_csv(runs: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "model", "seed", "row", "accuracy"])
        for r in runs:
            for name, a in r["accuracy"].items():
                w.writerow([r["dataset"], r["arch"], r["seed"], name, f"{a:.6f}"])


def plot(agg: dict, path: Path) -> None:
    """Horizontal bars: per ablation, the accuracy difference ours − alternative for every setup."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pairs = [p for p in PAIRS if any(p[1][1] in agg[k] and p[2][1] in agg[k] for k in agg)]
    keys = list(agg)
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(pairs) * max(1, len(keys)) ** 0.5 + 1.5))
    height = 0.8 / max(1, len(keys))
    for i, k in enumerate(keys):
        deltas, errs = [], []
        for _, ours, alt in pairs:
            a, b = agg[k].get(ours[1]), agg[k].get(alt[1])
            deltas.append(100 * (a[0] - b[0]) if a and b else np.nan)
            errs.append(100 * np.hypot(a[1], b[1]) if a and b else 0.0)
        ax.barh(np.arange(len(pairs)) + i * height, deltas, height, xerr=errs, capsize=2, label=_setup_label(k))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(np.arange(len(pairs)) + height * (len(keys) - 1) / 2,
                  [f"{p[0]}: {p[1][0]} vs {p[2][0]}" for p in pairs], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy, ours − alternative (points); error bars: std over seeds of both")
    ax.set_title("What each choice buys")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def summary_table(agg: dict) -> str:
    """One line per ablation: ours / alternative (difference in points) per setup."""
    keys = list(agg)
    lines = ["| ablation: ours vs alternative | " + " | ".join(_setup_label(k) for k in keys) + " |",
             "|---|" + "---|" * len(keys)]
    for ablation, ours, alt in PAIRS:
        if not any(ours[1] in agg[k] and alt[1] in agg[k] for k in keys):
            continue
        cells = []
        for k in keys:
            a, b = agg[k].get(ours[1]), agg[k].get(alt[1])
            cells.append(f"{100 * a[0]:.2f} / {100 * b[0]:.2f} (**{100 * (a[0] - b[0]):+.2f}**)" if a and b else "")
        lines.append(f"| {ablation}: {ours[0]} vs {alt[0]} | " + " | ".join(cells) + " |")
    lines.append("| float | " + " | ".join(f"{100 * agg[k]['float'][0]:.2f}" for k in keys) + " |")
    return "\n".join(lines)


def render(settings: dict, runs: list[dict], errors: list[dict], out: Path) -> str:
    """Write ``ablations.{json,csv,md,png}`` to ``out``; returns the Markdown text."""
    agg = aggregate(runs)
    seconds = settings.get("seconds")
    share = settings.get("our_sp2_share")
    head = (f"Accuracy % on the test split, mean over {settings['seeds']} seed(s) (± std in the full table); float "
            f"{settings['float_epochs']} epochs, ADMM {settings['admm_epochs']} + "
            f"{max(1, settings['admm_epochs'] // 2)} "
            f"epochs, learned-width steps {settings['width_epochs']} epochs"
            + (f"; our SP2 share for the PYNQ-Z2: {share:.2f}" if share is not None else ""))
    text = "\n\n".join(t for t in (
        head, summary_table(agg), "Full table:", pairs_table(agg), widths_table(runs),
        "Weight error (Gaussian rows 256 x 64, 20 draws):", weight_error_table(errors),
        f"(run time {seconds:.0f} s)" if seconds is not None else "") if t)
    out.mkdir(parents=True, exist_ok=True)
    saved = {"settings": settings, "runs": runs, "weight_error": errors}
    (out / "ablations.json").write_text(json.dumps(saved, indent=2))
    write_csv(runs, out / "ablations.csv")
    (out / "ablations.md").write_text(text + "\n")
    plot(agg, out / "ablations.png")
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["digits", "mnist1d"], choices=("digits", "mnist1d"))
    p.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=("mlp", "cnn"),
                   help="cnn: the VGG-style CNN on digits, the Conv1D CNN on MNIST-1D")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--float-epochs", type=int, default=30)
    p.add_argument("--admm-epochs", type=int, default=10, help="ADMM epochs (fine-tune: half as many)")
    p.add_argument("--width-epochs", type=int, default=6, help="epochs of each learned-width step (fine-tune: half)")
    p.add_argument("--cost-weight", type=float, default=0.1)
    p.add_argument("--only", nargs="+", default=list(GROUPS), choices=GROUPS)
    p.add_argument("--quick", action="store_true", help="digits MLP, 1 seed, 1-2 epochs: a smoke run (seconds)")
    p.add_argument("--render", metavar="JSON",
                   help="no training: redo the tables and the plot from a saved ablations.json")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        print(render(saved["settings"], saved["runs"], saved["weight_error"], out))
        return 0
    from flow.small import announce, small

    if args.quick or small():
        args.datasets, args.models, args.seeds = ["digits"], ["mlp"], 1
        args.float_epochs, args.admm_epochs, args.width_epochs = 2, 2, 1
        if small():
            announce("ablations on the digits MLP, 1 seed, 1-2 epochs")
    start = time.perf_counter()
    errors = weight_errors()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets:
            for model in args.models:
                for seed in range(args.seeds):
                    runs.append(run(dataset, model, seed, args, Path(tmp)))
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "render")}
    settings["our_sp2_share"] = our_share() if "msq" in args.only else None
    settings["seconds"] = round(time.perf_counter() - start)
    print(render(settings, runs, errors, out))
    print(f"wrote {out / 'ablations.json'}, {out / 'ablations.csv'}, {out / 'ablations.md'}, {out / 'ablations.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
