"""Pass: a model with our convolutions gets the DATAFLOW top, never PIPELINE.

hls4ml's ``vivado:set_pipeline_style`` chooses 'pipeline' for io_parallel models whose convolutions
it does not recognize (``MSQConv*``/``LQConv*`` are not its ``Conv1D``/``Conv2D``); a pipelined top
unrolls every loop below it, which turns a convolution's pixel scan into one multiplier array per
pixel. With DATAFLOW each layer keeps one lane array that scans the pixels (``nnet_msq_conv.h``).

Contract (in ``msq:row_kernels``, before ``vivado:set_pipeline_style`` runs):
    match:     the model's first node, once, when the pipeline style is 'auto' (or unset) and the
               graph holds an MSQ/LQ convolution.
    transform: set ``model.config.pipeline_style = 'dataflow'`` (a style the user chose is kept).
"""

from __future__ import annotations

from hls4ml.model.optimizer import OptimizerPass

ROW_CONVOLUTIONS = ("MSQConv1D", "MSQConv2D", "LQConv1D", "LQConv2D")


def has_row_convolution(model) -> bool:
    return any(node.class_name in ROW_CONVOLUTIONS for node in model.get_layers())


class SetRowConvPipelineStyle(OptimizerPass):
    def match(self, node):
        model = node.model
        style = model.config.pipeline_style
        first = next(iter(model.get_layers()), None)
        return node is first and style in (None, "auto") and has_row_convolution(model)

    def transform(self, model, node):
        model.config.pipeline_style = "dataflow"
        return False
