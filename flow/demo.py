"""The demo: float / fixed-4 / SP2-4 / MSQ-4 MLPs on a built-in data set, MSQ one to HLS, C-sim.

Steps (each a function ``step(state, cfg) -> state``, timed and logged):
    train_float  -> train_quantized (ADMM + STE, per scheme) -> save_models -> fit -> convert -> csim -> report

``fit`` picks the strategy / reuse factor for ``board``: the requested one (``fit_board=False``),
or the fastest design estimated to fit (default), and the report prints that estimate.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flow.convert import ConvertConfig, convert, prepare_output_dir
from flow.data import IMAGE_SHAPES, Dataset, load
from flow.models import QuantSpec, cnn1d, mlp, vgg
from flow.train import ADMMConfig, TrainConfig, evaluate, train, train_admm, transfer_weights

QUANTIZED_SCHEMES = ("fixed", "sp2", "msq")


@dataclass(frozen=True)
class DemoConfig:
    dataset: str = "digits"
    data_path: str | None = None  # a user .npz for mnist / cifar10
    model: str = "mlp"  # 'mlp' or 'cnn' (VGG-style on images, the MNIST-1D CNN on signals)
    hidden: tuple = (64, 32)
    bits: int = 4
    sp2_share: float | str = "auto"  # 'auto': balanced for `board` by the resource model
    board: str = "pynq-z2"
    float_epochs: int = 60
    admm: ADMMConfig = field(default_factory=ADMMConfig)
    convert: ConvertConfig = field(default_factory=ConvertConfig)
    #: True: convert with the fastest strategy / reuse factor estimated to fit ``board`` (the
    #: ``convert`` settings are the starting point); False: exactly ``convert``'s settings.
    fit_board: bool = True
    output_dir: str = "out/demo"
    force: bool = False
    progress: bool = True


@dataclass
class DemoState:
    data: Dataset
    models: dict = field(default_factory=dict)
    accuracy: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    hls_model: object = None
    csim: dict = field(default_factory=dict)
    convert: ConvertConfig | None = None
    fit: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)


def resolved_share(cfg: DemoConfig) -> float:
    if cfg.sp2_share == "auto":
        from flow.quantizers.msq import auto_share

        return auto_share(cfg.board, cfg.bits)
    return float(cfg.sp2_share)


def spec_for(scheme: str, cfg: DemoConfig, data: Dataset) -> QuantSpec:
    in_bits, in_integer = data.input_quantizer_args()
    return QuantSpec(scheme, cfg.bits, resolved_share(cfg), in_bits=in_bits, in_integer=in_integer)


MODELS = ("mlp", "cnn")


def build(cfg: DemoConfig, data: Dataset, spec: QuantSpec, name: str):
    """The demo's network for ``cfg.model`` on ``data``."""
    if cfg.model == "mlp":
        return mlp(data.input_dim, data.n_classes, cfg.hidden, spec, name=name)
    if cfg.model != "cnn":
        raise ValueError(f"demo model '{cfg.model}' is unknown; use one of {MODELS}")
    shape = data.x_train.shape[1:]
    model = cnn1d(shape, data.n_classes, spec=spec) if len(shape) == 2 else vgg(shape, data.n_classes, 0.125, spec)
    return model


def step_train_float(state: DemoState, cfg: DemoConfig) -> DemoState:
    model = build(cfg, state.data, QuantSpec("float"), name="float")
    train(model, state.data, TrainConfig(epochs=cfg.float_epochs, progress=cfg.progress), desc="float")
    state.models["float"] = model
    state.accuracy["float"] = evaluate(model, state.data.x_test, state.data.y_test)
    return state


def step_train_quantized(state: DemoState, cfg: DemoConfig) -> DemoState:
    for scheme in QUANTIZED_SCHEMES:
        spec = spec_for(scheme, cfg, state.data)
        model = build(cfg, state.data, spec, name=f"{scheme}{cfg.bits}")
        transfer_weights(state.models["float"], model)
        admm = ADMMConfig(**{**asdict(cfg.admm), "progress": cfg.progress})
        train_admm(model, state.data, admm, desc=spec.label())
        state.models[scheme] = model
        state.accuracy[scheme] = evaluate(model, state.data.x_test, state.data.y_test)
    return state


def step_save_models(state: DemoState, cfg: DemoConfig) -> DemoState:
    models_dir = Path(cfg.output_dir) / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    for scheme, model in state.models.items():
        prefix = state.data.name if cfg.model == "mlp" else f"{state.data.name}_{cfg.model}"
        path = models_dir / f"{prefix}_{scheme}{'' if scheme == 'float' else cfg.bits}.h5"
        model.save(path)
        state.paths[scheme] = path
    return state


def step_fit(state: DemoState, cfg: DemoConfig) -> DemoState:
    """The MSQ model's estimate on ``cfg.board`` and the conversion settings to use."""
    import dataclasses

    from flow.boards import get_board
    from flow.resources.fit import fit_at, gate

    board, model = get_board(cfg.board), state.models["msq"]
    asked = (cfg.convert.strategy, cfg.convert.reuse_factor)
    io_type = cfg.convert.io_type
    if cfg.fit_board:
        point, chosen = gate(model, board, *asked, io_type=io_type)
        chosen = chosen or point
    else:
        point = chosen = fit_at(model, board, *asked, io_type=io_type)
    state.convert = dataclasses.replace(cfg.convert, strategy=chosen.strategy, reuse_factor=chosen.reuse_factor,
                                        part=board.part)
    state.fit = {"summary": chosen.summary(), "fits": chosen.fits, "strategy": chosen.strategy,
                 "reuse_factor": chosen.reuse_factor, "asked": None if point is chosen else point.summary(),
                 "over": chosen.over()}
    return state


def step_convert(state: DemoState, cfg: DemoConfig) -> DemoState:
    out = Path(cfg.output_dir) / "hls_msq"
    state.hls_model = convert(state.models["msq"], out, state.convert or cfg.convert, force=True)
    return state


def step_csim(state: DemoState, cfg: DemoConfig) -> DemoState:
    x, y = state.data.x_test, state.data.y_test
    y_keras = state.models["msq"].predict(x, verbose=0)
    y_csim = state.hls_model.predict(np.ascontiguousarray(x)).reshape(y_keras.shape)
    equal_rows = np.all(y_keras == y_csim, axis=1)
    state.csim = {
        "samples": int(len(x)),
        "outputs_equal": int(np.sum(y_keras == y_csim)),
        "outputs_total": int(y_keras.size),
        "samples_equal": int(np.sum(equal_rows)),
        "accuracy": float(np.mean(np.argmax(y_csim, axis=1) == y)),
        **raw_float_check(state.models["msq"], state.hls_model),
    }
    return state


def raw_float_check(model, hls_model, n: int = 500) -> dict:
    """C-sim vs Keras on raw floats (beyond the range, Gaussian, rounding midpoints) instead of the data grid."""
    from flow.hls.input_rule import compare_raw_floats

    raw = compare_raw_floats(model, hls_model, n)
    if raw is None:
        return {}
    return {"raw_samples": n, "raw_samples_equal": raw.samples_equal, "input_type": raw.rule.hls()}


STEPS = (step_train_float, step_train_quantized, step_save_models, step_fit, step_convert, step_csim)


def layer_table(hls_model) -> list[dict]:
    """Per MSQ layer: rows (filters) on DSP/LUT and multiplications per inference on each."""
    rows = []
    for node in hls_model.get_layers():
        if not node.class_name.startswith("MSQ"):
            continue
        enc = node.get_attr("encoding")
        n_fix, n_sp2 = len(enc.fix_rows), len(enc.sp2_rows)
        pixels = node.get_attr("out_height", 1) * node.get_attr("out_width", 1) if "Conv" in node.class_name else 1
        rows.append(
            {
                "layer": node.name,
                "shape": f"{enc.n_in}x{enc.n_out}" + (f" x {pixels} px" if pixels > 1 else ""),
                "rows_fixed_dsp": n_fix,
                "rows_sp2_lut": n_sp2,
                "mults_dsp": n_fix * enc.n_in * pixels,
                "mults_lut": n_sp2 * enc.n_in * pixels,
            }
        )
    return rows


def small_config(cfg: DemoConfig) -> DemoConfig:
    """Two float epochs, two ADMM epochs and one fine-tune epoch (``MSQ_SMALL=1``)."""
    import dataclasses

    admm = dataclasses.replace(cfg.admm, epochs=2, epochs_per_update=1, finetune_epochs=1)
    return dataclasses.replace(cfg, float_epochs=2, admm=admm)


def run(cfg: DemoConfig = DemoConfig()) -> dict:
    from flow.small import announce, small

    if small():
        cfg = small_config(cfg)
        announce("demo with 2 float epochs, 2 ADMM epochs, 1 fine-tune epoch")
    prepare_output_dir(cfg.output_dir, cfg.force)
    if cfg.model not in MODELS:
        raise ValueError(f"demo model '{cfg.model}' is unknown; use one of {MODELS}")
    data = load(cfg.dataset, cfg.data_path)
    state = DemoState(data=data.with_shape(IMAGE_SHAPES[cfg.dataset]) if cfg.model == "cnn" else data)
    for step in STEPS:
        t0 = time.perf_counter()
        state = step(state, cfg)
        state.timings[step.__name__.removeprefix("step_")] = round(time.perf_counter() - t0, 2)
    result = {
        "dataset": cfg.dataset,
        "model": cfg.model,
        "accuracy": state.accuracy,
        "csim": state.csim,
        "layers": layer_table(state.hls_model),
        "project": str(Path(cfg.output_dir, "hls_msq").resolve()),
        "models": str(Path(cfg.output_dir, "models").resolve()),
        "timings_s": state.timings,
        "bits": cfg.bits,
        "sp2_share": resolved_share(cfg),
        "board": cfg.board,
        "fit": state.fit,
        "msq_model": str(state.paths["msq"]),
    }
    Path(cfg.output_dir, "results.json").write_text(json.dumps(result, indent=2))
    return result


def fit_lines(result: dict) -> list[str]:
    """The design the demo converted, and whether it is estimated to fit the board."""
    fit = result.get("fit")
    if not fit:
        return []
    lines = []
    if fit["asked"]:
        lines.append(f"Requested design: {fit['asked']}")
    lines.append(f"Converted design: {fit['summary']}")
    if not fit["fits"]:
        lines.append(f"  over budget: {', '.join(fit['over'])}; flow build refuses it without --allow-overbudget")
    lines.append(f"Build it: python -m flow build {result['msq_model']} --board {result['board']} --out build/msq{result['bits']} "
                 f"--strategy {fit['strategy']} --reuse-factor {fit['reuse_factor']}")
    return lines


def format_report(result: dict) -> str:
    bits = result["bits"]
    labels = {"float": "float", "fixed": f"fixed-{bits}", "sp2": f"SP2-{bits}", "msq": f"MSQ-{bits}"}
    lines = [
        f"Data set: {result['dataset']} (test split, {result['csim']['samples']} samples), model: {result['model']}",
        "",
    ]
    lines += ["| scheme | accuracy |", "|---|---|"]
    lines += [f"| {labels[k]} | {100 * v:.2f} % |" for k, v in result["accuracy"].items()]
    cs = result["csim"]
    lines += [
        "",
        f"C-sim vs Keras (MSQ-{bits}, SP2 share {result['sp2_share']:g} chosen for {result['board']}): outputs equal {cs['outputs_equal']} / "
        f"{cs['outputs_total']}, samples equal {cs['samples_equal']} / {cs['samples']}, "
        f"C-sim accuracy {100 * cs['accuracy']:.2f} %",
    ]
    if "raw_samples" in cs:
        lines.append(
            f"C-sim vs Keras on raw floats (input type {cs['input_type']}, the first quantizer's): samples equal "
            f"{cs['raw_samples_equal']} / {cs['raw_samples']}"
        )
    lines += [
        "",
        "| layer | rows in x out | rows fixed (DSP) | rows SP2 (LUT) | mults on DSP | mults on LUT |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["layers"]:
        lines.append(
            f"| {r['layer']} | {r['shape']} | {r['rows_fixed_dsp']} | {r['rows_sp2_lut']} | "
            f"{r['mults_dsp']} | {r['mults_lut']} |"
        )
    lines += ["", *fit_lines(result)]
    lines += ["", f"HLS project: {result['project']}", f"Keras models: {result['models']}"]
    lines.append("Step times (s): " + ", ".join(f"{k} {v}" for k, v in result["timings_s"].items()))
    return "\n".join(lines)
