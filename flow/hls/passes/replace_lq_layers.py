"""Pass: a stock Dense/Conv1D/Conv2D whose kernel quantizer is ``quantized_lq`` becomes an LQ layer.

Contract:
    match:     ``Dense``, ``Conv1D`` or ``Conv2D`` node with an :class:`LQQuantizerHLS` weight quantizer.
    transform: take the kernel's codes and basis from the quantizer (a conv kernel ``(fh, fw, c, f)``
               is the matrix ``(fh*fw*c, f)``), check that they decode to the quantized weights, take
               the bias values, check strategy, reuse factor (``1..n_out``: the LQ lanes fold rows,
               :mod:`flow.hls.lq_microarch`) and dilation, and replace the node by ``LQDense`` /
               ``LQConv1D`` / ``LQConv2D`` of the same name. The input planes are chosen when the new
               node initializes (see ``flow.hls.lq_layers``).
"""

from __future__ import annotations

import warnings

import numpy as np
from hls4ml.model.layers import Conv1D, Conv2D, Dense
from hls4ml.model.optimizer import OptimizerPass

from flow.hls.lq_encode import encode_kernel
from flow.hls.lq_microarch import check_lq_reuse_factor
from flow.hls.passes.replace_row_quantized_layers import GEOMETRY, _check_dilation, _strategy
from flow.hls.quantizer import LQQuantizerHLS

KINDS = {Dense: "LQDense", Conv1D: "LQConv1D", Conv2D: "LQConv2D"}
#: The geometry attributes each kind carries over (the same as the MSQ layer of that shape).
LQ_GEOMETRY = {"LQDense": GEOMETRY["MSQDense"], "LQConv1D": GEOMETRY["MSQConv1D"], "LQConv2D": GEOMETRY["MSQConv2D"]}


def _lq_reuse_factor(model, node, n_out: int) -> int:
    """The layer's ReuseFactor, validated against its output rows (the LQ lanes fold rows).

    One set for this layer by name is refused when invalid; a model-wide (or layer-type) one above
    the layer's ``n_out`` is lowered to ``n_out`` with a warning that names the layer (one lane, every
    row in its own cycle: the slowest schedule this layer has).
    """
    rf = model.config.get_reuse_factor(node)
    if isinstance(rf, bool) or not isinstance(rf, (int, np.integer)) or rf < 1:
        raise ValueError(f"layer '{node.name}': ReuseFactor must be a positive integer, got {rf!r}")
    rf = int(rf)
    by_name = model.config.layer_name_rf.get(node.name.lower()) is not None
    if rf > n_out and not by_name:
        warnings.warn(
            f"layer '{node.name}': the model-wide ReuseFactor {rf} is above its {n_out} output rows (LQ lanes fold "
            f"rows); this layer uses ReuseFactor {n_out} (set it per layer to silence this)",
            stacklevel=2,
        )
        rf = n_out
    check_lq_reuse_factor(n_out, rf, f"layer '{node.name}'")
    return rf


def _kind(node) -> str | None:
    for cls, kind in KINDS.items():
        if isinstance(node, cls) and node.class_name == cls.__name__:
            return kind
    return None


class ReplaceLqLayers(OptimizerPass):
    def match(self, node):
        return _kind(node) is not None and isinstance(node.get_attr("weight_quantizer"), LQQuantizerHLS)

    def transform(self, model, node):
        kind = _kind(node)
        _strategy(model, node)
        _check_dilation(model, node)
        quantizer: LQQuantizerHLS = node.get_attr("weight_quantizer")
        if quantizer.codes is None:
            quantizer.bind(node.get_attr("weight_data"))
        kernel = encode_kernel(quantizer.values, quantizer.codes, quantizer.basis, f"layer '{node.name}'")
        bias = node.get_weights("bias")
        bias_values = np.zeros(kernel.n_out) if bias is None else np.asarray(bias.data, np.float64).reshape(-1)
        attrs = {name: node.get_attr(name) for name in LQ_GEOMETRY[kind]}
        attrs.update(
            {
                "n_in": kernel.n_in,
                "n_out": kernel.n_out,
                "lq_reuse_factor": _lq_reuse_factor(model, node, kernel.n_out),
                "lq_kernel": kernel,
                "bias_values": bias_values,
            }
        )
        new_node = model.make_node(kind, node.name, attrs, node.inputs.copy(), node.outputs.copy())
        model.replace_node(node, new_node)
        return True
