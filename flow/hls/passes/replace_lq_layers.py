"""Pass: a stock Dense/Conv1D/Conv2D whose kernel quantizer is ``quantized_lq`` becomes an LQ layer.

Contract:
    match:     ``Dense``, ``Conv1D`` or ``Conv2D`` node with an :class:`LQQuantizerHLS` weight quantizer.
    transform: take the kernel's codes and basis from the quantizer (a conv kernel ``(fh, fw, c, f)``
               is the matrix ``(fh*fw*c, f)``), check that they decode to the quantized weights, take
               the bias values, check strategy, reuse factor and dilation, and replace the node
               by ``LQDense`` / ``LQConv1D`` / ``LQConv2D`` of the same name. The input planes are
               chosen when the new node initializes (see ``flow.hls.lq_layers``).
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.layers import Conv1D, Conv2D, Dense
from hls4ml.model.optimizer import OptimizerPass

from flow.hls.lq_encode import encode_kernel
from flow.hls.passes.replace_row_quantized_layers import GEOMETRY, _check_dilation, _reuse_factor, _strategy
from flow.hls.quantizer import LQQuantizerHLS

KINDS = {Dense: "LQDense", Conv1D: "LQConv1D", Conv2D: "LQConv2D"}
#: The geometry attributes each kind carries over (the same as the MSQ layer of that shape).
LQ_GEOMETRY = {"LQDense": GEOMETRY["MSQDense"], "LQConv1D": GEOMETRY["MSQConv1D"], "LQConv2D": GEOMETRY["MSQConv2D"]}


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
                "reuse_factor": _reuse_factor(model, node),
                "lq_kernel": kernel,
                "bias_values": bias_values,
            }
        )
        new_node = model.make_node(kind, node.name, attrs, node.inputs.copy(), node.outputs.copy())
        model.replace_node(node, new_node)
        return True
