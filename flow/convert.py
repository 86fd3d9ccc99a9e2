"""One call from a QKeras model to a compiled HLS project (hls4ml's ordinary entry points).

Equivalent to::

    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='MSQ')
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='MSQ', ...)

plus: MSQ row assignments must be frozen, strategy/reuse factor applied to every layer, and
an existing project directory is never overwritten unless ``force=True``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.quantizers import quantized_msq

STRATEGIES = ("Latency", "Resource")
IO_TYPES = ("io_parallel", "io_stream")


@dataclass(frozen=True)
class ConvertConfig:
    """Conversion settings (validated on creation)."""

    backend: str = "MSQ"
    part: str = "xc7z020clg400-1"
    strategy: str = "Latency"
    reuse_factor: int = 1
    io_type: str = "io_parallel"
    clock_period: float = 10.0

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy: '{self.strategy}' is not one of {STRATEGIES}")
        if isinstance(self.reuse_factor, bool) or not isinstance(self.reuse_factor, int) or self.reuse_factor < 1:
            raise ValueError(f"reuse_factor: must be a positive integer, got {self.reuse_factor!r}")
        if self.io_type not in IO_TYPES:
            raise ValueError(f"io_type: '{self.io_type}' is not supported yet; use one of {IO_TYPES}")


def unfrozen_msq_layers(model) -> list[str]:
    """Names of layers whose MSQ kernel quantizer has no frozen row assignment."""
    names = []
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if isinstance(q, quantized_msq) and not q.frozen:
            names.append(layer.name)
    return names


def freeze_msq_rows(model) -> dict[str, np.ndarray]:
    """Freeze every unfrozen MSQ assignment from the current kernels; returns {layer: scheme}."""
    owners: dict[int, str] = {}
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if isinstance(q, quantized_msq):
            if id(q) in owners:
                raise ValueError(
                    f"layers '{owners[id(q)]}' and '{layer.name}' share one quantized_msq object; its row "
                    "assignment is per layer, so give every layer its own quantizer"
                )
            owners[id(q)] = layer.name
    frozen = {}
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if isinstance(q, quantized_msq) and not q.frozen:
            frozen[layer.name] = q.assign_rows(layer.kernel.numpy())
    return frozen


def check_layers(model) -> None:
    """Refuse layers hls4ml has no handler for, naming the layer and listing the supported classes."""
    from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers

    supported = set(get_supported_keras_layers())
    for layer in model.layers:
        cls = type(layer).__name__
        if cls not in supported and cls not in ("InputLayer", "Functional", "Sequential"):
            raise ValueError(
                f"layer '{layer.name}' ({cls}) cannot be converted; supported Keras/QKeras layers are: "
                f"{', '.join(sorted(supported))}. SP2/MSQ kernels are supported in QDense, QConv1D and QConv2D."
            )


def prepare_output_dir(output_dir: str | Path, force: bool) -> Path:
    """Refuse to write into a non-empty directory unless ``force`` (then it is replaced)."""
    out = Path(output_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} exists and is not empty; pass force=True (CLI: --force) to replace it")
        shutil.rmtree(out)
    return out


def hls_config(model, cfg: ConvertConfig) -> dict:
    import hls4ml

    from flow.hls import register

    register()
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=cfg.backend)
    config["Model"]["Strategy"] = cfg.strategy
    config["Model"]["ReuseFactor"] = cfg.reuse_factor
    for layer_cfg in config["LayerName"].values():
        if "ReuseFactor" in layer_cfg:
            layer_cfg["ReuseFactor"] = cfg.reuse_factor
        layer_cfg["Strategy"] = cfg.strategy
    return config


def convert(model, output_dir: str | Path, cfg: ConvertConfig = ConvertConfig(), force: bool = False, compile=True):
    """Convert (and by default compile for C-simulation) a QKeras model; returns the hls4ml model."""
    import hls4ml

    unfrozen = unfrozen_msq_layers(model)
    if unfrozen:
        raise ValueError(
            f"layers {unfrozen}: MSQ row assignment is not frozen; call flow.convert.freeze_msq_rows(model) "
            "(the flow's training functions do this) so Keras and the C++ use the same rows"
        )
    check_layers(model)
    out = prepare_output_dir(output_dir, force)
    config = hls_config(model, cfg)
    hm = hls4ml.converters.convert_from_keras_model(
        model,
        hls_config=config,
        backend=cfg.backend,
        output_dir=str(out),
        part=cfg.part,
        io_type=cfg.io_type,
        clock_period=cfg.clock_period,
    )
    if compile:
        hm.compile()
    return hm
