"""Pass: io_stream FIFOs between layers of a chain get a small depth instead of a whole frame.

hls4ml gives every io_stream variable a FIFO as deep as its frame (``height * width`` packets). Our
row kernels, like hls4ml's streaming activations and pooling, consume and produce in scan order at
no more than one packet per cycle, so on a chain (one producer, one consumer) a FIFO only absorbs
the pipeline latency between a write and the next layer's read: ``flow.hls.microarch.STREAM_DEPTH``
packets, or one padded row of a consuming convolution (it reads nothing in its padding columns, and a
producer that is the slowest layer must not stall there). Reconvergent paths (a clone's outputs, the inputs of a merge) keep hls4ml's frame depth:
there one branch must hold what the other's line buffer delays.

Contract (after ``vivado:transform_types``, which creates the stream variables):
    match:     the model's first node, once, for io_stream models with an MSQ/LQ layer.
    transform: set the depth of every stream variable produced by a node with one consumer, which
               is not a clone and whose consumer has one input, to ``fifo_depth(packets, idle)`` (idle: a
               consuming convolution's padded row, which it may spend reading nothing); record
               the chosen depths as ``model.flow_fifo_depths`` ({variable: depth}).
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.optimizer import OptimizerPass

from flow.hls.microarch import fifo_depth

OUR_LAYERS = ("MSQDense", "MSQConv1D", "MSQConv2D", "LQDense", "LQConv1D", "LQConv2D", "LQActivation")


def _idle_packets(consumer) -> int:
    """Packets a producer may run ahead while a row convolution reads nothing: its padding columns
    and the rows it spends on its border (at most one padded row of its input)."""
    if consumer.class_name not in ("MSQConv1D", "MSQConv2D", "LQConv1D", "LQConv2D"):
        return 0
    return int(consumer.get_attr("in_width")) + int(consumer.get_attr("pad_left", 0) or 0) + int(
        consumer.get_attr("pad_right", 0) or 0
    )


def _consumers(model, name: str) -> list:
    return [n for n in model.get_layers() if name in n.inputs]


class SizeStreamFifos(OptimizerPass):
    def match(self, node):
        model = node.model
        first = next(iter(model.get_layers()), None)
        return (
            node is first
            and model.config.get_config_value("IOType") == "io_stream"
            and not hasattr(model, "flow_fifo_depths")
            and any(n.class_name in OUR_LAYERS for n in model.get_layers())
        )

    def transform(self, model, node):
        depths = {}
        for layer in model.get_layers():
            if layer.class_name == "Clone":
                continue
            for out_name in layer.outputs:
                var = model.get_layer_output_variable(out_name)
                pragma = getattr(var, "pragma", None)
                if not (isinstance(pragma, tuple) and pragma[0] == "stream"):
                    continue
                consumers = _consumers(model, out_name)
                if len(consumers) != 1 or len(consumers[0].inputs) != 1:
                    continue
                packets = int(np.prod(var.shape[:-1])) if len(var.shape) > 1 else 1
                var.pragma = ("stream", fifo_depth(packets, _idle_packets(consumers[0])))
                depths[var.name] = var.pragma[1]
        model.flow_fifo_depths = depths
        return False
