"""The adaptive-precision paper's four-step schedule, as named, resumable steps.

    float       train the float model                          -> float.h5
    weights     learn kernel widths (activations float)        -> weights.h5
    activations learn activation widths too                    -> activations.h5
    finetune    freeze to QKeras, fine-tune at a small LR      -> finetune.h5

Each step is ``step(model, ctx) -> model``; its checkpoint, time and test accuracy go to
``out_dir`` (``schedule.json`` holds the log). With ``resume=True`` a step whose checkpoint
exists is loaded instead of run. A non-empty ``out_dir`` is refused unless ``resume`` or
``force`` (which replaces it).

``ScheduleConfig.from_preset('paper')`` (or ``preset: paper`` in a config file) is the paper's
setting: step 4 at 1e-7, alpha in [1, 8] for activations ([2, 8] for kernels: 1-bit symmetric
weights are all zero), a real max-abs weight scale, and the float head not charged in the BOPs cost
(:mod:`flow.presets`). The defaults (``'ours'``) are listed there with the reasons.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import tensorflow as tf

from flow.bitwidth.build import default_cut, to_learned_width
from flow.bitwidth.freeze import freeze, quantized_widths, widths
from flow.bitwidth.layers import CUSTOM_LAYERS, LWActivation
from flow.bitwidth.quantize import WidthConfig
from flow.bitwidth.train import WidthTrainConfig, train_widths
from flow.presets import check_preset, schedule_settings
from flow.quantizers.symmetric import DEFAULT_SCALE_BITS, check_scale

MODELS = ("mlp", "vgg", "resnet8", "cnn1d")


@dataclass(frozen=True)
class ScheduleConfig:
    """Everything the schedule needs; ``from_dict`` names an unknown or bad key."""

    model: str = "mlp"
    dataset: str = "digits"
    data_path: str | None = None
    float_epochs: int = 40
    weight_epochs: int = 20
    activation_epochs: int = 20
    finetune_epochs: int = 10
    learning_rate: float = 2e-3
    finetune_learning_rate: float = 2e-4
    alpha_learning_rate: float = 0.02
    cost_weight: float = 0.1
    weights: WidthConfig = field(default_factory=lambda: WidthConfig(low=3.0))
    activations: WidthConfig = field(default_factory=lambda: WidthConfig(low=3.0))
    float_head: bool = True
    calibration_size: int = 512
    seed: int = 0
    progress: bool = True
    #: kernel scale of the learned widths and the frozen model: 'po2' or 'real' (quantized_symmetric)
    scale: str = "po2"
    scale_bits: int = DEFAULT_SCALE_BITS
    #: charge the float head in the BOPs cost (False: the paper's accounting, the head runs on the host)
    head_in_cost: bool = True

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model: '{self.model}' is not one of {MODELS}")
        for name in ("float_epochs", "weight_epochs", "activation_epochs", "finetune_epochs", "calibration_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        for name in ("learning_rate", "finetune_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        check_scale(self.scale, self.scale_bits, "schedule config")
        if self.weights.low < 2:
            raise ValueError(
                f"weights: low={self.weights.low}, but kernel widths need at least 2 bits "
                "(1-bit symmetric levels are all 0)"
            )

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> "ScheduleConfig":
        """The schedule of ``preset`` ('ours': the defaults; 'paper': :mod:`flow.presets`), then ``overrides``."""
        return cls.from_dict({"preset": preset, **overrides})

    @classmethod
    def from_dict(cls, data: dict) -> "ScheduleConfig":
        """From a mapping (a YAML config file); the key ``preset`` starts from that preset's settings."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known and key != "preset":
                listed = ", ".join(sorted(known | {"preset"}))
                raise ValueError(f"schedule config: unknown key '{key}'; known keys: {listed}")
        data = dict(data)
        if "preset" in data:
            base = schedule_settings(check_preset(data.pop("preset")))
            for key in ("weights", "activations"):  # a partial width mapping updates the preset's
                if isinstance(base.get(key), dict) and isinstance(data.get(key), dict):
                    data[key] = {**base[key], **data[key]}
            data = {**base, **data}
        for key in ("weights", "activations"):
            if isinstance(data.get(key), dict):
                try:
                    data[key] = WidthConfig(**data[key])
                except TypeError as exc:
                    raise ValueError(f"schedule config: {key}: {exc}") from None
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Context:
    cfg: ScheduleConfig
    data: object
    out_dir: Path
    log: list = field(default_factory=list)
    cut: str | None = None

    def width_train(self, epochs: int) -> WidthTrainConfig:
        c = self.cfg
        return WidthTrainConfig(
            epochs=epochs,
            learning_rate=c.learning_rate,
            alpha_learning_rate=c.alpha_learning_rate,
            cost_weight=c.cost_weight,
            seed=c.seed,
            input_bits=float(self.data.input_quantizer_args()[0]),
            progress=c.progress,
            head_in_cost=c.head_in_cost,
        )


def _build_float(ctx: Context):
    from flow import models
    from flow.models import QuantSpec

    data, spec = ctx.data, QuantSpec("float")
    n = int(data.y_train.max()) + 1
    if ctx.cfg.model == "mlp":
        return models.mlp(data.input_dim, n, spec=spec)
    shape = data.x_train.shape[1:]
    builder = {"vgg": models.vgg, "resnet8": models.resnet8, "cnn1d": models.cnn1d}[ctx.cfg.model]
    return builder(shape, n, spec=spec)


def step_float(model, ctx: Context):
    from flow.train import TrainConfig, train

    model = _build_float(ctx)
    c = ctx.cfg
    train(model, ctx.data, TrainConfig(epochs=c.float_epochs, learning_rate=c.learning_rate, seed=c.seed, progress=c.progress), "float")
    return model


def step_weights(model, ctx: Context):
    c = ctx.cfg
    calib = ctx.data.x_train[: c.calibration_size]
    lw = to_learned_width(model, calib, c.weights, c.activations, cut=ctx.cut, active=False, scale=c.scale,
                          scale_bits=c.scale_bits)
    train_widths(lw, ctx.data, ctx.width_train(c.weight_epochs), "weights")
    return lw


def with_active_activations(model):
    """A copy of a learned-width model whose activation layers quantize (``active=True``)."""
    from flow.rewrite import rewrite

    def replace(layer):
        if not isinstance(layer, LWActivation):
            return None
        return LWActivation.from_config({**layer.get_config(), "active": True})

    return rewrite(model, replace)


def step_activations(model, ctx: Context):
    lw = with_active_activations(model)
    train_widths(lw, ctx.data, ctx.width_train(ctx.cfg.activation_epochs), "activations")
    return lw


def step_finetune(model, ctx: Context):
    from flow.train import TrainConfig, train

    frozen = freeze(model)
    c = ctx.cfg
    cfg = TrainConfig(epochs=c.finetune_epochs, learning_rate=c.finetune_learning_rate, seed=c.seed, progress=c.progress)
    if c.finetune_epochs:
        train(frozen, ctx.data, cfg, "finetune")
    return frozen


STEPS = (("float", step_float), ("weights", step_weights), ("activations", step_activations), ("finetune", step_finetune))


def _prepare(out_dir: Path, resume: bool, force: bool) -> None:
    import shutil

    if out_dir.exists() and any(out_dir.iterdir()) and not resume:
        if not force:
            raise FileExistsError(f"{out_dir} exists and is not empty; pass resume=True (--resume) or force=True (--force)")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def _entry(name, model, ctx, seconds, status):
    from flow.train import evaluate

    entry = {"step": name, "status": status, "seconds": round(seconds, 2), "checkpoint": f"{name}.h5"}
    entry["test_accuracy"] = evaluate(model, ctx.data.x_test, ctx.data.y_test)
    if any(isinstance(l, LWActivation) or hasattr(l, "alpha_ema") for l in model.layers):
        entry["widths"] = widths(model)
    elif name == "finetune":
        entry["widths"] = quantized_widths(model)
    return entry


def run_schedule(cfg: ScheduleConfig, out_dir, resume: bool = False, force: bool = False, data=None):
    """Run (or resume) the four steps; returns ``(frozen QKeras model, log list)``."""
    import flow
    from flow import data as datasets

    from flow.small import announce, small

    if small():
        cfg = dataclasses.replace(cfg, float_epochs=1, weight_epochs=1, activation_epochs=1,
                                  finetune_epochs=min(cfg.finetune_epochs, 1))
        announce("learned-width schedule with 1 epoch per step")
    out_dir = Path(out_dir)
    _prepare(out_dir, resume, force)
    if data is None:
        data = datasets.load(cfg.dataset, cfg.data_path)
        if cfg.model != "mlp" and data.x_train.ndim == 2:
            data = data.with_shape(datasets.IMAGE_SHAPES[cfg.dataset])
    ctx = Context(cfg, data, out_dir)
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    model = None
    for name, step in STEPS:
        path = out_dir / f"{name}.h5"
        start = time.perf_counter()
        if resume and path.exists():
            model, status = flow.load_model(path), "resumed"
        else:
            model, status = step(model, ctx), "ran"
            model.save(path)
        if name == "float":
            ctx.cut = default_cut(model) if cfg.float_head else None
        ctx.log.append(_entry(name, model, ctx, time.perf_counter() - start, status))
        (out_dir / "schedule.json").write_text(json.dumps({"cut": ctx.cut, "steps": ctx.log}, indent=2))
    return model, ctx.log
