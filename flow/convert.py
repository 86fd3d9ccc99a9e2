"""One call from a QKeras model to a compiled HLS project (hls4ml's ordinary entry points).

Equivalent to::

    cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='MSQ')
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend='MSQ', ...)

plus: MSQ row assignments must be frozen, strategy/reuse factor applied to every layer, and
an existing project directory is never overwritten unless ``force=True``.
"""

from __future__ import annotations

import re
import warnings
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
    #: HLS type of the model input, e.g. 'fixed<6,2>'. None (the default) derives it from the model's
    #: first quantizer, rounding and saturation included, so raw floats are quantized exactly like
    #: Keras (:mod:`flow.hls.input_rule`); a type coarser than that quantizer needs is an error.
    input_precision: str | None = None
    #: An input with no exact type (no input quantizer) is an error instead of a warning.
    strict_input: bool = False
    #: hls4ml ``Model: DSPPacking``: None packs two fixed-point products per DSP48E1 where the width
    #: conditions hold (:func:`flow.hls.microarch.plan_dsp_packing`), False never, True everywhere (an
    #: error naming the failing condition where it cannot).
    dsp_packing: bool | None = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy: '{self.strategy}' is not one of {STRATEGIES}")
        if isinstance(self.reuse_factor, bool) or not isinstance(self.reuse_factor, int) or self.reuse_factor < 1:
            raise ValueError(f"reuse_factor: must be a positive integer, got {self.reuse_factor!r}")
        if self.io_type not in IO_TYPES:
            raise ValueError(f"io_type: '{self.io_type}' is not supported yet; use one of {IO_TYPES}")
        if self.input_precision is not None:
            check_precision_string(self.input_precision, "input_precision")
        if self.dsp_packing is not None and not isinstance(self.dsp_packing, bool):
            raise ValueError(f"dsp_packing: must be None (where possible), True or False, got {self.dsp_packing!r}")


PRECISION = re.compile(r"^(ap_)?u?fixed<\s*(\d+)\s*,\s*-?\d+\s*((,\s*[A-Za-z_0-9]+\s*){0,3})>$")


def check_precision_string(text, what: str) -> str:
    """A one-line error unless ``text`` is an input precision such as 'fixed<6,2>' or 'ufixed<8,3,RND_CONV,SAT>'.

    Only the rounding (TRN, RND_CONV) and saturation (WRAP, SAT, SAT_SYM) modes the board driver packs
    exactly like the C-simulation are accepted; ``int<N>`` (which truncates toward zero) is not.
    """
    from msq_overlay.packing import ROUNDINGS, SATURATIONS  # the modes the driver packs

    m = PRECISION.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(
            f"{what}: {text!r} is not an HLS fixed-point precision; expected e.g. 'fixed<6,2>', 'ufixed<8,3>' or "
            "'fixed<8,3,RND_CONV,SAT>' (for integers: 'fixed<8,8>')"
        )
    width = int(m.group(2))
    if not 1 <= width <= 64:
        raise ValueError(f"{what}: {text!r} has width {width}; input types need 1 to 64 bits")
    modes = [p.strip().upper().removeprefix("AP_") for p in m.group(3).split(",") if p.strip()]
    if modes and modes[0] not in ROUNDINGS:
        raise ValueError(f"{what}: {text!r}: rounding {modes[0]} is not one of {ROUNDINGS}")
    if len(modes) > 1 and modes[1] not in SATURATIONS:
        raise ValueError(f"{what}: {text!r}: saturation {modes[1]} is not one of {SATURATIONS}")
    return text


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


def _quantizers(layer):
    for attr in ("kernel_quantizer_internal", "bias_quantizer_internal", "quantizer"):
        q = getattr(layer, attr, None)
        if q is not None and not isinstance(q, str):
            yield q


def check_quantizers(model) -> None:
    """Refuse quantizers with no exact HLS form."""
    from flow.quantizers import KERAS_ONLY_OBJECTS, KERAS_ONLY_REASONS

    for layer in model.layers:
        for q in _quantizers(layer):
            if type(q).__name__ in KERAS_ONLY_OBJECTS:
                name = type(q).__name__
                raise ValueError(f"layer '{layer.name}' uses {name}, which has no exact HLS form: {KERAS_ONLY_REASONS[name]}")


#: Keras layers whose float weights hls4ml would round to its default type.
FLOAT_KERNEL_LAYERS = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
                       "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose")
#: Float activation layers (any function but 'linear' has no exact fixed-point result type).
FLOAT_ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "Softmax", "ELU", "PReLU", "ThresholdedReLU")
NORMALIZATION_LAYERS = ("BatchNormalization", "QBatchNormalization", "LayerNormalization")
POOLING_LAYERS = ("AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D")


def _average_size(layer) -> int:
    """How many values one output of an average pool averages (a power of two is exact)."""
    if type(layer).__name__.startswith("Global"):
        return int(np.prod(layer.input_shape[1:-1]))
    return int(np.prod(layer.pool_size))


def _activation_reason(layer) -> str | None:
    act = getattr(layer, "activation", None)
    if act is None or hasattr(act, "get_config") or hasattr(act, "bits"):  # a QKeras quantizer
        return None
    name = getattr(act, "__name__", str(act))
    return None if name == "linear" else f"float activation '{name}' (use a QKeras quantizer, e.g. quantized_relu)"


def approximate_layers(model) -> dict[str, str]:
    """``{layer: why}`` for each layer whose weights, bias or output have no exact type in HLS.

    hls4ml would give them its default ``fixed<16,6>``: C-simulation could not equal Keras there.
    """
    from flow.rewrite import all_layers

    found = {}
    for layer in all_layers(model):
        reason = _approximation(layer)
        if reason:
            found[layer.name] = reason
    return found


def _approximation(layer) -> str | None:
    """Why ``layer`` has no exact fixed-point type, or None."""
    cls = type(layer).__name__
    if cls in FLOAT_KERNEL_LAYERS:
        return f"{cls} with float weights (no kernel_quantizer)"
    if cls in NORMALIZATION_LAYERS:
        inbound = layer.inbound_nodes[0].inbound_layers if layer.inbound_nodes else []
        parents = inbound if isinstance(inbound, (list, tuple)) else [inbound]
        kernel_parent = next((p.name for p in parents if hasattr(p, "kernel")), None)
        if kernel_parent is None:
            return f"{cls} with float scale and shift"
        return (f"{cls} '{layer.name}' follows '{kernel_parent}': fold it into that kernel first with "
                "flow.fold.fold_batchnorm(model) (float scale and shift otherwise)")
    if cls in POOLING_LAYERS:
        size = _average_size(layer)
        return f"{cls} over {size} values (not a power of two: the mean rounds)" if size & (size - 1) else None
    if cls == "Average":
        return "Average merge (hls4ml keeps the inputs' fractional bits: the mean rounds)"
    if cls in FLOAT_ACTIVATION_LAYERS:
        return _activation_reason(layer) if cls == "Activation" else f"float {cls}"
    if not hasattr(layer, "kernel_quantizer_internal"):
        return None
    if layer.kernel_quantizer_internal is None:
        return f"{cls} without a kernel_quantizer (float weights)"
    if getattr(layer, "use_bias", False) and getattr(layer, "bias_quantizer_internal", None) is None:
        return f"{cls} without a bias_quantizer (float bias)"
    activation = _activation_reason(layer)
    return f"{cls} with a {activation}" if activation else None


APPROXIMATE_ADVICE = (
    "quantize them (QKeras quantizers), cut them into the float head (flow.head.split(model, cut), build --cut), "
    "or accept hls4ml's default types with allow_approximate=True (CLI: --allow-approximate)"
)


def check_exact(model, allow_approximate: bool) -> dict[str, str]:
    """Refuse (unless ``allow_approximate``) a model with layers that have no exact HLS type."""
    found = approximate_layers(model)
    if found and not allow_approximate:
        listed = "; ".join(f"'{name}': {why}" for name, why in found.items())
        raise ValueError(
            f"{len(found)} layer(s) of model '{model.name}' have no exact fixed-point type, so C-simulation could not "
            f"equal Keras: {listed}. To convert: {APPROXIMATE_ADVICE}"
        )
    return found


def _check_max_pool_padding(hm, allow_approximate: bool, report) -> None:
    """Refuse (or with ``allow_approximate`` report) padded max pooling of unsigned data (see the module)."""
    from flow.hls.padded_max_pool import ADVICE, padded_unsigned_max_pools

    found = padded_unsigned_max_pools(hm)
    if not found:
        return
    listed = "; ".join(f"'{name}': {why}" for name, why in found.items())
    if not allow_approximate:
        raise ValueError(f"C-simulation could not equal Keras: {listed}. To convert: {ADVICE}, or accept it with "
                         "allow_approximate=True (CLI: --allow-approximate)")
    report(f"approximate (allow_approximate): {listed}")


def prepare_output_dir(output_dir: str | Path, force: bool) -> Path:
    """Refuse to write into a non-empty directory unless ``force`` (then it is replaced)."""
    from flow.outdir import prepare

    return prepare(output_dir, "output directory", force)


def exact_activation_precision(quantizer) -> str | None:
    """HLS result type of a QKeras activation quantizer with no fractional bits, or None.

    hls4ml 1.3.0 types ``quantized_relu(b, i)`` with ``b <= i`` as ``uint<i>`` and
    ``quantized_bits(b, i)`` with ``b <= i + 1`` as ``int<i+1>``: no rounding, no saturation,
    and too wide when ``b < i``. QKeras rounds to the nearest level and clips, so the exact
    type is ``ufixed<b, i, RND_CONV, SAT>`` / ``fixed<b, i+1, RND_CONV, SAT>``.
    """
    name = type(quantizer).__name__
    bits, integer = int(getattr(quantizer, "bits", 0)), int(getattr(quantizer, "integer", 0))
    if name == "quantized_relu" and float(getattr(quantizer, "negative_slope", 0.0)) == 0.0 and bits <= integer:
        return f"ufixed<{bits},{integer},RND_CONV,SAT>"
    if (
        name == "quantized_bits"
        and getattr(quantizer, "keep_negative", True)
        and not getattr(quantizer, "symmetric", False)
        and bits <= integer + 1
    ):
        return f"fixed<{bits},{integer + 1},RND_CONV,SAT>"
    return None


def _fix_integer_activations(model, config: dict) -> None:
    for layer in model.layers:
        quantizer = getattr(layer, "quantizer", None) if type(layer).__name__ == "QActivation" else None
        precision = exact_activation_precision(quantizer) if quantizer is not None else None
        if precision is not None and layer.name in config["LayerName"]:
            config["LayerName"][layer.name]["Precision"] = {"result": precision}


def hls_config(model, cfg: ConvertConfig) -> dict:
    import hls4ml

    from flow.hls import register

    register()
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=cfg.backend)
    _fix_integer_activations(model, config)
    if cfg.input_precision is not None:
        for name in model.input_names:
            config["LayerName"].setdefault(name, {})["Precision"] = {"result": cfg.input_precision}
    config["Model"]["StrictInput"] = bool(cfg.strict_input)
    config["Model"]["Strategy"] = cfg.strategy
    config["Model"]["ReuseFactor"] = cfg.reuse_factor
    if cfg.dsp_packing is not None:
        config["Model"]["DSPPacking"] = bool(cfg.dsp_packing)
    for layer_cfg in config["LayerName"].values():
        # the model-wide value applies (a layer whose rows are shorter lowers it to its n_in, with a warning)
        layer_cfg.pop("ReuseFactor", None)
        layer_cfg["Strategy"] = cfg.strategy
    return config


def convert(model, output_dir: str | Path, cfg: ConvertConfig = ConvertConfig(), force: bool = False, compile=True,
            allow_approximate: bool = False, report=print):
    """Convert (and by default compile for C-simulation) a QKeras model; returns the hls4ml model.

    A layer with no exact type (float weights, float activation, normalization) is an error that
    lists them, unless ``allow_approximate``: then ``report`` gets each such layer and the types
    hls4ml gave it.
    """
    import hls4ml

    from flow.hls import register

    register()
    from flow.hls.passes.warn_default_precision import DefaultPrecisionWarning, describe

    unfrozen = unfrozen_msq_layers(model)
    if unfrozen:
        raise ValueError(
            f"layers {unfrozen}: MSQ row assignment is not frozen; call flow.convert.freeze_msq_rows(model) "
            "(the flow's training functions do this) so Keras and the C++ use the same rows"
        )
    check_layers(model)
    check_quantizers(model)
    check_exact(model, allow_approximate)
    out = prepare_output_dir(output_dir, force)
    config = hls_config(model, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DefaultPrecisionWarning)  # reported below, as an error or a list
        hm = hls4ml.converters.convert_from_keras_model(
            model,
            hls_config=config,
            backend=cfg.backend,
            output_dir=str(out),
            part=cfg.part,
            io_type=cfg.io_type,
            clock_period=cfg.clock_period,
        )
    _check_max_pool_padding(hm, allow_approximate, report)
    fallbacks = getattr(hm, "flow_approximations", {})
    if fallbacks and not allow_approximate:
        raise ValueError(
            f"layers fell back to hls4ml's default precision, so C-simulation could not equal Keras: "
            f"{describe(fallbacks)}. To convert: {APPROXIMATE_ADVICE}"
        )
    if fallbacks:
        report(f"approximate (allow_approximate): C-simulation will not equal Keras in {describe(fallbacks)}")
    if compile:
        hm.compile()
    return hm
