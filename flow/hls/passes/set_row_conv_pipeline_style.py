"""Pass: a model with our convolutions, or with our layers folded over cycles, gets the DATAFLOW
top, never PIPELINE.

hls4ml's ``vivado:set_pipeline_style`` chooses 'pipeline' for io_parallel models whose convolutions
it does not recognize (``MSQConv*``/``LQConv*`` are not its ``Conv1D``/``Conv2D``) and for Latency
layers at any ReuseFactor. A pipelined top unrolls every loop below it: a convolution's pixel scan
would become one multiplier array per pixel, and a reuse loop of RF cycles RF copies of its lanes.
With DATAFLOW each layer keeps one lane array (``flow/hls/microarch.py``).

Contract (in ``msq:row_kernels``, before ``vivado:set_pipeline_style`` runs):
    match:     the model's first node, once, when the graph holds an MSQ/LQ convolution or an MSQ/LQ
               layer with ReuseFactor above 1, and the pipeline style is 'auto' (or unset) or
               'pipeline'.
    transform: 'auto' becomes 'dataflow'; a 'pipeline' the user chose is refused with the reason
               (it would build another circuit than the estimate describes).
"""

from __future__ import annotations

from hls4ml.model.optimizer import OptimizerPass

ROW_CONVOLUTIONS = ("MSQConv1D", "MSQConv2D", "LQConv1D", "LQConv2D")
ROW_LAYERS = ("MSQDense", "LQDense", *ROW_CONVOLUTIONS)
REUSE_ATTRIBUTES = ("row_reuse_factor", "lq_reuse_factor")


def has_row_convolution(model) -> bool:
    return any(node.class_name in ROW_CONVOLUTIONS for node in model.get_layers())


def folded_row_layers(model) -> list[str]:
    """Names of our layers whose reuse loop runs more than one cycle."""
    names = []
    for node in model.get_layers():
        if node.class_name not in ROW_LAYERS:
            continue
        rf = next((node.get_attr(a) for a in REUSE_ATTRIBUTES if node.get_attr(a) is not None), 1)
        if int(rf) > 1:
            names.append(node.name)
    return names


class SetRowConvPipelineStyle(OptimizerPass):
    def match(self, node):
        model = node.model
        first = next(iter(model.get_layers()), None)
        style = model.config.pipeline_style
        if node is not first or style not in (None, "auto", "pipeline"):
            return False
        return has_row_convolution(model) or bool(folded_row_layers(model))

    def transform(self, model, node):
        if model.config.pipeline_style == "pipeline":
            what = "convolutions" if has_row_convolution(model) else f"layers with ReuseFactor > 1 ({', '.join(folded_row_layers(model))})"
            raise ValueError(
                f"PipelineStyle 'pipeline' with MSQ/LQ {what} would unroll their loops into one multiplier array per "
                "pixel / per cycle; remove PipelineStyle from the hls config (our kernels need 'dataflow')"
            )
        model.config.pipeline_style = "dataflow"
        return False
