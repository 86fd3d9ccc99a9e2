"""Pass: a stock ``Dense`` whose kernel quantizer is ours becomes an ``MSQDense``.

Contract:
    match:     ``Dense`` node with a :class:`RowQuantizerHLS` weight quantizer.
    transform: encode the kernel per row (fixed mantissas / SP2 codes, row exponents), take the
               bias values (quantized by their own quantizer), read strategy and reuse factor
               from the hls config, and replace the node by an ``MSQDense`` of the same name.
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.layers import Dense
from hls4ml.model.optimizer import OptimizerPass

from flow.hls.encode import encode_dense
from flow.hls.quantizer import RowQuantizerHLS

STRATEGIES = ("latency", "resource")


def _strategy(model, node) -> str:
    strategy = str(model.config.get_strategy(node)).lower()
    if strategy not in STRATEGIES:
        raise ValueError(
            f"layer '{node.name}': Strategy '{strategy}' is not supported for MSQ kernels; use one of "
            f"{', '.join(s.capitalize() for s in STRATEGIES)}"
        )
    return strategy


def _reuse_factor(model, node) -> int:
    rf = model.config.get_reuse_factor(node)
    if isinstance(rf, bool) or not isinstance(rf, (int, np.integer)) or rf < 1:
        raise ValueError(f"layer '{node.name}': ReuseFactor must be a positive integer, got {rf!r}")
    return int(rf)


class ReplaceRowQuantizedDense(OptimizerPass):
    def match(self, node):
        return isinstance(node, Dense) and isinstance(node.get_attr("weight_quantizer"), RowQuantizerHLS)

    def transform(self, model, node):
        _strategy(model, node)  # validated here; the new node reads it from the config itself
        quantizer: RowQuantizerHLS = node.get_attr("weight_quantizer")
        encoding = quantizer.encoding
        if encoding is None:
            encoding = quantizer.bind(node.get_attr("weight_data"))
        bias = node.get_weights("bias")
        bias_values = np.zeros(node.get_attr("n_out")) if bias is None else np.asarray(bias.data, np.float64)
        attrs = {
            "n_in": node.get_attr("n_in"),
            "n_out": node.get_attr("n_out"),
            "reuse_factor": _reuse_factor(model, node),
            "encoding": encode_dense(encoding),
            "bias_values": bias_values.reshape(-1),
            "row_scheme": [int(s) for s in encoding.scheme],
        }
        new_node = model.make_node("MSQDense", node.name, attrs, node.inputs.copy(), node.outputs.copy())
        model.replace_node(node, new_node)
        return True
