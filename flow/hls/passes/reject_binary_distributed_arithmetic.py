"""Pass: refuse hls4ml's 'distributed_arithmetic' strategy on binary (XNOR, 0/1-stored) kernels.

hls4ml stores a QKeras ``binary`` kernel as bits (0 for -1, 1 for +1) and its DA code generator
multiplies by the stored 0/1, not by -1/+1, so the result is wrong. We refuse the combination.

Contract:
    match:     a Dense/Conv1D/Conv2D whose strategy is 'distributed_arithmetic' (or 'da') and whose
               kernel is binary (a ``binary`` QKeras quantizer or an XNOR weight type).
    transform: raise a ValueError naming the layer and the strategies that work.
"""

from __future__ import annotations

from hls4ml.model.layers import Conv1D, Conv2D, Dense
from hls4ml.model.optimizer import OptimizerPass
from hls4ml.model.quantizers import QKerasBinaryQuantizer
from hls4ml.model.types import XnorPrecisionType

DA = ("distributed_arithmetic", "da")


def _binary_kernel(node) -> bool:
    if isinstance(node.get_attr("weight_quantizer"), QKerasBinaryQuantizer):
        return True
    weight = node.get_weights("weight") if "weight" in node.weights else None
    return weight is not None and isinstance(weight.type.precision, XnorPrecisionType)


class RejectBinaryDistributedArithmetic(OptimizerPass):
    def match(self, node):
        if not isinstance(node, (Dense, Conv1D, Conv2D)):
            return False
        strategy = str(node.model.config.get_strategy(node)).lower()
        return strategy in DA and _binary_kernel(node)

    def transform(self, model, node):
        raise ValueError(
            f"layer '{node.name}': strategy 'distributed_arithmetic' computes wrong results for binary kernels in "
            "hls4ml 1.3.0 (it multiplies by the stored 0/1 bits instead of -1/+1); use Strategy 'Latency' or "
            "'Resource' for this layer, or quantized_lq(1) for an XNOR-popcount kernel in backend 'MSQ'"
        )
