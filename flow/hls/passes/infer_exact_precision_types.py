"""Pass: hls4ml's precision inference, but an average pool keeps every bit of its result.

hls4ml 1.3.0 infers an exact accumulator for average pooling and then gives the *result*
the input's type, dropping the log2(pool size) fractional bits that Keras keeps in float.

Contract (replaces ``infer_precision_types`` in the MSQ backend's convert/optimize flows):
    match/transform: as hls4ml's ``InferPrecisionTypes``; for an average pool whose size is a
    power of two and whose result type is 'auto', the result type gets those extra fractional
    bits, so the output equals Keras exactly. Other pool sizes cannot be exact in fixed point
    and keep hls4ml's behaviour. Every type that gets hls4ml's default precision because nothing
    better can be inferred is recorded in the node's ``flow_default_types`` attribute (the
    ``warn_default_precision`` pass names them).
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.optimizer.passes.infer_precision import InferPrecisionTypes
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType


class InferExactPrecisionTypes(InferPrecisionTypes):
    def _infer_default_type(self, node, type_name):
        super()._infer_default_type(node, type_name)
        recorded = list(node.get_attr("flow_default_types", []))
        if type_name not in recorded:
            node.set_attr("flow_default_types", [*recorded, type_name])

    def _infer_pooling_precision(self, node, types_to_infer):
        inferred = super()._infer_pooling_precision(node, types_to_infer)
        pool_size = node.get_attr("pool_height", 1) * node.get_attr("pool_width", 1)
        precision = node.get_output_variable().type.precision
        exact_pool = pool_size > 1 and (pool_size & (pool_size - 1)) == 0
        if (
            "result_t" in inferred
            and node.attributes["pool_op"].lower() == "average"
            and exact_pool
            and isinstance(precision, (FixedPrecisionType, IntegerPrecisionType))
        ):
            extra = int(np.log2(pool_size))
            integer = precision.width if isinstance(precision, IntegerPrecisionType) else precision.integer
            node.types["result_t"].precision = FixedPrecisionType(
                width=precision.width + extra, integer=integer, signed=precision.signed
            )
        return inferred
