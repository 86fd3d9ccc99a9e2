"""Pass: a stock Dense/Conv1D/Conv2D whose kernel quantizer is ours becomes an MSQ layer.

Contract:
    match:     ``Dense``, ``Conv1D`` or ``Conv2D`` node with a :class:`RowQuantizerHLS` weight quantizer.
    transform: encode the kernel per output row/filter (fixed mantissas / SP2 codes, row exponents;
               a conv kernel ``(fh, fw, c, f)`` is the matrix ``(fh*fw*c, f)``), take the bias values
               (quantized by their own quantizer), check strategy, reuse factor, dilation and
               ``DSPPacking`` (True / False / 'auto', misspelt keys refused), and
               replace the node by ``MSQDense`` / ``MSQConv1D`` / ``MSQConv2D`` of the same name;
               rows with a real scale (integer multipliers) get them and the bias in a ``<name>_scale``
               node after it (:mod:`flow.hls.row_scale`).
"""

from __future__ import annotations

import difflib
import warnings

import numpy as np
from hls4ml.model.layers import Conv1D, Conv2D, Dense
from hls4ml.model.optimizer import OptimizerPass

from flow.hls.encode import encode_dense, without_multiplier
from flow.hls.microarch import check_reuse_factor, effective_reuse_factor
from flow.hls.quantizer import RowQuantizerHLS
from flow.hls.row_scale import insert_row_scale
from flow.quantizers import RowEncoding

STRATEGIES = ("latency", "resource")
GEOMETRY = {
    "MSQConv2D": (
        "in_height", "in_width", "n_chan", "filt_height", "filt_width", "n_filt", "stride_height",
        "stride_width", "pad_top", "pad_bottom", "pad_left", "pad_right", "out_height", "out_width",
    ),
    "MSQConv1D": ("in_width", "n_chan", "filt_width", "n_filt", "stride_width", "pad_left", "pad_right", "out_width"),
    "MSQDense": (),
}


def _strategy(model, node) -> str:
    strategy = str(model.config.get_strategy(node)).lower()
    if strategy not in STRATEGIES:
        raise ValueError(
            f"layer '{node.name}': Strategy '{strategy}' is not supported for MSQ kernels; use one of "
            f"{', '.join(s.capitalize() for s in STRATEGIES)}"
        )
    return strategy


def _reuse_factor(model, node, n_in: int, n_out: int) -> int:
    """The layer's ReuseFactor, validated against its row length (:mod:`flow.hls.microarch`).

    One set for this layer by name is refused when invalid; a model-wide (or layer-type) one that is
    not valid for this layer is lowered to the largest valid one below it, with a warning that
    names the layer.
    """
    rf = model.config.get_reuse_factor(node)
    if isinstance(rf, bool) or not isinstance(rf, (int, np.integer)) or rf < 1:
        raise ValueError(f"layer '{node.name}': ReuseFactor must be a positive integer, got {rf!r}")
    rf = int(rf)
    by_name = model.config.layer_name_rf.get(node.name.lower()) is not None
    if not by_name and effective_reuse_factor(n_in, n_out, rf) != rf:
        lowered = effective_reuse_factor(n_in, n_out, rf)
        warnings.warn(
            f"layer '{node.name}': the model-wide ReuseFactor {rf} is not valid for {n_out} rows of {n_in} inputs; "
            f"this layer uses ReuseFactor {lowered} (set it per layer to silence this)",
            stacklevel=2,
        )
        rf = lowered
    check_reuse_factor(n_in, n_out, rf, f"layer '{node.name}'")
    return rf


#: hls4ml config key (Model, LayerType or LayerName section): two fixed-point products per DSP48E1.
DSP_PACKING = "DSPPacking"


def _near_miss(key: str) -> bool:
    norm = "".join(c for c in str(key).lower() if c.isalnum())
    return norm == DSP_PACKING.lower() or difflib.SequenceMatcher(None, norm, DSP_PACKING.lower()).ratio() >= 0.8


def _packing_value(section: dict, where: str):
    """``DSPPacking`` of one config section (absent: None); a misspelt key or a bad value is an error."""
    for key in section:
        if key != DSP_PACKING and _near_miss(key):
            raise ValueError(f"{where}: unknown config key '{key}'; did you mean '{DSP_PACKING}'?")
    if DSP_PACKING not in section:
        return None
    value = section[DSP_PACKING]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    raise ValueError(
        f"{where}: {DSP_PACKING} must be True (pack, an error where it cannot), False (never) or 'auto' "
        f"(pack where the conditions hold, the default); got {value!r}"
    )


def dsp_packing(model, node) -> bool | None:
    """The layer's ``DSPPacking``: LayerName, then LayerType, then Model (:class:`flow.hls.microarch.RowKernel`:
    None packs where :func:`flow.hls.microarch.plan_dsp_packing` allows, False never, True or an error)."""
    hls = model.config.config.get("HLSConfig", {}) or {}
    sections = [
        ((hls.get("LayerName") or {}).get(node.name), f"LayerName '{node.name}'"),
        ((hls.get("LayerType") or {}).get(node.class_name), f"LayerType '{node.class_name}'"),
        (hls.get("Model"), "Model"),
    ]
    found = [_packing_value(section, f"hls config {where}") for section, where in sections if isinstance(section, dict)]
    value = next((v for v in found if v is not None), None)
    return None if value == "auto" else value


def _check_dilation(model, node) -> None:
    """hls4ml's Keras parser ignores dilation; we refuse it instead of computing something else."""
    keras_model = model.config.config.get("KerasModel")
    if keras_model is None or not hasattr(keras_model, "get_layer"):
        return
    try:
        layer = keras_model.get_layer(node.name)
    except ValueError:
        return
    dilation = tuple(np.atleast_1d(getattr(layer, "dilation_rate", 1)))
    if any(int(d) != 1 for d in dilation):
        raise ValueError(
            f"layer '{node.name}': dilation_rate {dilation} is not supported by backend 'MSQ' "
            "(supported: dilation 1, any stride, padding 'same' or 'valid')"
        )


def _as_matrix(encoding: RowEncoding) -> RowEncoding:
    values = np.asarray(encoding.values)
    return RowEncoding(values.reshape(-1, values.shape[-1]), encoding.scheme, encoding.exponent, encoding.bits)


class ReplaceRowQuantizedLayers(OptimizerPass):
    KINDS = {Dense: "MSQDense", Conv1D: "MSQConv1D", Conv2D: "MSQConv2D"}

    def _kind(self, node) -> str | None:
        for cls, kind in self.KINDS.items():
            if isinstance(node, cls) and node.class_name == cls.__name__:
                return kind
        return None

    def match(self, node):
        return self._kind(node) is not None and isinstance(node.get_attr("weight_quantizer"), RowQuantizerHLS)

    def transform(self, model, node):
        kind = self._kind(node)
        _strategy(model, node)  # validated here; the new node reads it from the config itself
        _check_dilation(model, node)
        quantizer: RowQuantizerHLS = node.get_attr("weight_quantizer")
        encoding = quantizer.encoding or quantizer.bind(node.get_attr("weight_data"))
        dense, multiplier = without_multiplier(encode_dense(_as_matrix(encoding)))
        bias = node.get_weights("bias")
        n_out = dense.n_out
        bias_values = np.zeros(n_out) if bias is None else np.asarray(bias.data, np.float64).reshape(-1)
        scaled_bias, bias_values = (bias_values, np.zeros(n_out)) if multiplier is not None else (None, bias_values)
        attrs = {name: node.get_attr(name) for name in GEOMETRY[kind]}
        attrs.update(
            {
                "n_in": dense.n_in,
                "n_out": n_out,
                "row_reuse_factor": _reuse_factor(model, node, dense.n_in, dense.n_out),
                "dsp_packing": dsp_packing(model, node),
                "encoding": dense,
                "bias_values": bias_values,
                "row_scheme": [int(s) for s in encoding.scheme],
            }
        )
        new_node = model.make_node(kind, node.name, attrs, node.inputs.copy(), node.outputs.copy())
        model.replace_node(node, new_node)
        if multiplier is not None:  # a real scale: c_j and the bias after the accumulator (flow.hls.row_scale)
            insert_row_scale(model, new_node, multiplier, scaled_bias)
        return True
