"""Pass: keep the rounding of a QKeras ``QActivation(quantized_bits(...))`` after a Dense/Conv.

hls4ml 1.3.0's ``merge_linear_activation`` removes a linear activation whose parent has an
'auto' result type; for QKeras activations (no ``quantizer`` attribute) it drops the
activation's precision with it, so the output is no longer rounded/saturated like QKeras.

Contract (runs in ``msq:convert`` just before hls4ml's linear-activation passes):
    match:     a linear ``Activation`` with a fixed-point result type whose parent is a
               Dense/Conv1D/Conv2D/BatchNormalization/Activation with an 'auto' result type.
    transform: stock parent -> give it the activation's type (its final cast then rounds and
               saturates exactly like QKeras, and the activation becomes a no-op);
               parent with an SP2/MSQ kernel -> give it a placeholder type so the activation
               stays (the MSQ kernel later sets its own exact result type).
"""

from __future__ import annotations

import copy

from hls4ml.model.layers import Activation, BatchNormalization, Conv1D, Conv2D, Dense
from hls4ml.model.optimizer import OptimizerPass
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType, UnspecifiedPrecisionType

from flow.hls.quantizer import RowQuantizerHLS

SAFE_PARENTS = (Dense, Conv1D, Conv2D, BatchNormalization, Activation)
#: Result type of a row-quantized parent until the MSQ kernel sizes it exactly.
PLACEHOLDER = FixedPrecisionType(width=64, integer=32, signed=True)


class KeepQuantizingLinearActivation(OptimizerPass):
    def match(self, node):
        if not (isinstance(node, Activation) and node.get_attr("activation") == "linear"):
            return False
        precision = node.get_output_variable().type.precision
        if not isinstance(precision, (FixedPrecisionType, IntegerPrecisionType)):
            return False
        parent = node.get_input_node(node.inputs[0])
        return isinstance(parent, SAFE_PARENTS) and isinstance(
            parent.get_output_variable().type.precision, UnspecifiedPrecisionType
        )

    def transform(self, model, node):
        parent = node.get_input_node(node.inputs[0])
        if isinstance(parent.get_attr("weight_quantizer"), RowQuantizerHLS):
            parent.get_output_variable().type.precision = copy.copy(PLACEHOLDER)
        else:
            parent.get_output_variable().type.precision = copy.copy(node.get_output_variable().type.precision)
        return True
