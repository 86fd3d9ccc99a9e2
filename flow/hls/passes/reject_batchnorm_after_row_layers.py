"""Pass: refuse a BatchNormalization right after a layer with an SP2/MSQ kernel.

hls4ml cannot fuse it (the kernel is quantized) and would compute it in fixed point from float
parameters, which does not match Keras. The fix is to fold it first (``flow.fold.fold_batchnorm``).

Contract:
    match:     a ``BatchNormalization`` whose input node has our weight quantizer.
    transform: raise a ValueError naming both layers and the fix.
"""

from __future__ import annotations

from hls4ml.model.layers import BatchNormalization
from hls4ml.model.optimizer import OptimizerPass

from flow.hls.quantizer import RowQuantizerHLS


class RejectBatchnormAfterRowLayers(OptimizerPass):
    def match(self, node):
        if not isinstance(node, BatchNormalization):
            return False
        parent = node.get_input_node(node.inputs[0])
        return parent is not None and isinstance(parent.get_attr("weight_quantizer"), RowQuantizerHLS)

    def transform(self, model, node):
        parent = node.get_input_node(node.inputs[0])
        raise ValueError(
            f"BatchNormalization '{node.name}' follows '{parent.name}', which has an SP2/MSQ kernel: fold it into "
            "the kernel first with flow.fold.fold_batchnorm(model) (then fine-tune and convert); a separate "
            "BatchNormalization in float would not match Keras bit for bit"
        )
