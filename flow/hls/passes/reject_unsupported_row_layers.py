"""Pass: refuse layers that carry our row or LQ quantizers but have no MSQ kernel (yet).

Contract:
    match:     any node other than Dense/Conv1D/Conv2D whose weight quantizer is ours.
    transform: raise a ValueError naming the layer and the supported layer types. Never a
               silent fallback to a stock kernel under the 'MSQ' backend.
"""

from __future__ import annotations

from hls4ml.model.layers import Conv1D, Conv2D, Dense
from hls4ml.model.optimizer import OptimizerPass

from flow.hls.quantizer import LQQuantizerHLS, RowQuantizerHLS

SUPPORTED = ("QDense", "QConv1D", "QConv2D")


class RejectUnsupportedRowLayers(OptimizerPass):
    def match(self, node):
        quantizers = [v for k, v in node.attributes.items() if k.endswith("_quantizer")]
        supported = isinstance(node, (Dense, Conv1D, Conv2D)) and node.class_name in ("Dense", "Conv1D", "Conv2D")
        return not supported and any(isinstance(q, (RowQuantizerHLS, LQQuantizerHLS)) for q in quantizers)

    def transform(self, model, node):
        raise ValueError(
            f"layer '{node.name}' ({node.class_name}) uses an SP2/MSQ/LQ quantizer, which backend 'MSQ' supports "
            f"only in {', '.join(SUPPORTED)} layers so far; use quantized_bits(..., alpha=1) there, or convert "
            "with backend 'Vitis' (exact fixed-point weights, stock kernels)"
        )
