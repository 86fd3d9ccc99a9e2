"""A float head kept off the accelerator: cut a model at a named layer.

``split(model, cut)`` returns the backbone (a Keras model from the input to ``cut``, which
goes to HLS) and a :class:`FloatHead` (``msq_overlay.head``, numpy only, the same class the
board driver uses): the layers after ``cut`` as plain arrays, run in numpy on the host::

    backbone, head = split(model, "flatten")
    hls_model = convert(backbone, ...)
    y = head.predict(hls_model.predict(x))      # == model.predict(x) up to float32 rounding

The head must be a chain of Dense, Flatten, Reshape, Dropout, ReLU and Activation
(linear, relu, softmax, sigmoid) layers.
"""

from __future__ import annotations

import numpy as np
from msq_overlay.head import ACTIVATIONS, FloatHead

__all__ = ["ACTIVATIONS", "FloatHead", "split"]


def _head_op(layer, head: FloatHead) -> dict:
    from flow.rewrite import activation_name

    cls = type(layer).__name__
    act = activation_name(layer)
    if cls in ("Dense", "QDense"):
        if cls == "QDense" and (layer.kernel_quantizer or layer.bias_quantizer):
            raise ValueError(f"float head: layer '{layer.name}' is quantized; a float head holds float layers only")
        if act not in ACTIVATIONS:
            raise ValueError(f"float head: layer '{layer.name}' activation '{act}' is not one of {sorted(ACTIVATIONS)}")
        head.arrays[f"{layer.name}/kernel"] = layer.kernel.numpy().astype(np.float32)
        op = {"op": "dense", "name": layer.name, "kernel": f"{layer.name}/kernel", "activation": act}
        if layer.use_bias:
            head.arrays[f"{layer.name}/bias"] = layer.bias.numpy().astype(np.float32)
            op["bias"] = f"{layer.name}/bias"
        return op
    if cls == "Flatten":
        return {"op": "flatten", "name": layer.name}
    if cls == "Reshape":
        return {"op": "reshape", "name": layer.name, "shape": list(layer.target_shape)}
    if cls == "Dropout":
        return {"op": "activation", "name": layer.name, "activation": "linear"}
    if cls in ("Activation", "ReLU") and (act in ACTIVATIONS or cls == "ReLU"):
        return {"op": "activation", "name": layer.name, "activation": "relu" if cls == "ReLU" else act}
    raise ValueError(
        f"float head: layer '{layer.name}' ({cls}) cannot run in the numpy head; supported: Dense, Flatten, "
        f"Reshape, Dropout, ReLU, Activation({', '.join(sorted(ACTIVATIONS))}); cut the model later"
    )


def split(model, cut: str):
    """Split ``model`` after layer ``cut``: ``(backbone Keras model, FloatHead)``."""
    import tensorflow as tf

    from flow.bitwidth.build import head_layers

    names = head_layers(model, cut)  # raises with the list of layers when cut is unknown
    if not names:
        raise ValueError(f"cut layer '{cut}' is the model's last layer; there is no head to split off")
    cut_layer = model.get_layer(cut)
    head = FloatHead(input_shape=tuple(int(d) for d in cut_layer.output.shape[1:]))
    previous = cut_layer
    for name in names:
        layer = model.get_layer(name)
        inbound = layer.inbound_nodes[0].inbound_layers
        if isinstance(inbound, list) or inbound is not previous:
            raise ValueError(
                f"float head: layer '{name}' does not take its input from '{previous.name}' alone; the head after "
                f"'{cut}' must be a chain (cut the model at a layer every later layer depends on)"
            )
        head.ops.append(_head_op(layer, head))
        previous = layer
    backbone = tf.keras.Model(model.inputs, cut_layer.output, name=f"{model.name}_backbone")
    return backbone, head
