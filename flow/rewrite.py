"""Rebuild a Keras model layer by layer (same graph, same names), carrying the weights over.

Used by post-training quantization (float -> QKeras), the learnable-width conversion
(float -> learned-width layers) and ``flow.freeze`` (learned widths -> QKeras).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: Layers that only move or select values: rebuilt as they are, and transparent to bit-widths.
SHAPE_ONLY = ("Flatten", "Reshape", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
              "Dropout", "ZeroPadding1D", "ZeroPadding2D")
#: Layers the quantizing rewrites copy unchanged.
COPIED = ("InputLayer", "Add", *SHAPE_ONLY)


def layer_config(layer, drop=()) -> dict:
    """The layer's Keras config without the keys in ``drop``."""
    config = dict(layer.get_config())
    for key in drop:
        config.pop(key, None)
    return config


def rewrite(model, replace) -> tf.keras.Model:
    """Clone ``model``, building each layer with ``replace(layer)`` (return None to copy the layer).

    The kernel and bias (or all weights, for copied layers) are set from the old layer;
    a replacement must keep the layer's name and its kernel/bias shapes.
    """

    def clone(layer):
        new = replace(layer)
        if new is None:
            return layer.__class__.from_config(layer.get_config())
        if new.name != layer.name:
            raise RuntimeError(f"rewrite: replacement of '{layer.name}' is named '{new.name}'")
        return new

    out = tf.keras.models.clone_model(model, clone_function=clone)
    for old in model.layers:
        new = out.get_layer(old.name)
        if not old.weights or not new.weights:
            continue
        if hasattr(old, "kernel") and hasattr(new, "kernel"):
            new.kernel.assign(old.kernel)
            if getattr(old, "bias", None) is not None and getattr(new, "bias", None) is not None:
                new.bias.assign(old.bias)
        elif len(new.get_weights()) == len(old.get_weights()):
            new.set_weights(old.get_weights())
        else:
            raise RuntimeError(f"rewrite: cannot carry the weights of '{old.name}' over to {type(new).__name__}")
    return out


def call_flat(model, x):
    """Apply the layers of single-input functional ``model`` to tensor ``x`` one by one (same layer
    objects, so same weights): the result joins the caller's graph flat, not as a nested model."""
    tensors = {model.inputs[0].ref(): x}

    def new(t):
        return tensors.get(t.ref(), t) if hasattr(t, "ref") else t

    for depth in sorted(model._nodes_by_depth, reverse=True):  # Keras' own topological order
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            args = tf.nest.map_structure(new, node.call_args)
            kwargs = tf.nest.map_structure(new, node.call_kwargs)
            outs = node.layer(*args, **kwargs)
            for old, out in zip(tf.nest.flatten(node.outputs), tf.nest.flatten(outs)):
                tensors[old.ref()] = out
    return [tensors[o.ref()] for o in model.outputs]


def all_layers(model):
    """Every layer of ``model``, nested models' layers in their place (not the nested models)."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from all_layers(layer)
        else:
            yield layer


def activation_name(layer) -> str:
    """The Keras name of a layer's activation ('linear', 'relu', ...)."""
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act)) if act is not None else "linear"


def layer_outputs(model, names, x, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Outputs of the named layers of ``model`` on inputs ``x``."""
    probe = tf.keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outs = probe.predict(x, batch_size=batch_size, verbose=0)
    if len(names) == 1:
        outs = [outs]
    return dict(zip(names, outs))
