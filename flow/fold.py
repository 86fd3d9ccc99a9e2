"""Fold BatchNormalization into the preceding Dense/Conv layer (Keras level, before quantized training).

A BN after a layer with kernel ``W`` and bias ``b`` computes, per output channel ``j``::

    y_j = gamma_j * (x_j - mean_j) / sqrt(var_j + eps) + beta_j

so with ``s_j = gamma_j / sqrt(var_j + eps)`` the pair equals one layer with
``W'[..., j] = s_j * W[..., j]`` and ``b'_j = s_j * (b_j - mean_j) + beta_j``. The folded model
has no BatchNormalization; its kernel quantizers (SP2/MSQ) then act on the folded weights, which
is what the hardware computes. Fine-tune (STE/ADMM) after folding, then convert.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

FOLDABLE = ("Dense", "QDense", "Conv1D", "Conv2D", "QConv1D", "QConv2D")


def _bn_pairs(model) -> dict[str, str]:
    """{batchnorm layer name: the foldable layer it follows}; error for a BN that cannot be folded."""
    pairs = {}
    consumers: dict[str, int] = {}
    for layer in model.layers:
        for inbound in _inbound_layers(layer):
            consumers[inbound.name] = consumers.get(inbound.name, 0) + 1
    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.BatchNormalization):
            continue
        parents = _inbound_layers(layer)
        parent = parents[0] if len(parents) == 1 else None
        if parent is None or type(parent).__name__ not in FOLDABLE:
            raise ValueError(
                f"BatchNormalization '{layer.name}' does not follow a Dense/Conv layer; only "
                f"{', '.join(FOLDABLE)} followed directly by BatchNormalization can be folded"
            )
        if consumers.get(parent.name, 0) != 1:
            raise ValueError(f"BatchNormalization '{layer.name}': '{parent.name}' feeds other layers too")
        pairs[layer.name] = parent.name
    return pairs


def fold_batchnorm(model) -> tf.keras.Model:
    """Return a new functional model with every BatchNormalization folded into its parent."""
    pairs = _bn_pairs(model)
    if not pairs:
        return model
    parents = set(pairs.values())
    tensors = {}
    for name in model.input_names:
        layer = model.get_layer(name)
        tensors[name] = tf.keras.Input(batch_shape=layer.input_shape[0] if isinstance(layer.input_shape, list) else layer.input_shape, name=name)
    fresh = {}
    for layer in model.layers:
        if layer.name in tensors:
            continue
        if layer.name in pairs:
            tensors[layer.name] = tensors[pairs[layer.name]]
            continue
        config = layer.get_config()
        if layer.name in parents:
            config["use_bias"] = True
        fresh[layer.name] = type(layer).from_config(config)
        inbound = [t.name for t in _inbound_layers(layer)]
        args = [tensors[n] for n in inbound]
        tensors[layer.name] = fresh[layer.name](args[0] if len(args) == 1 else args)
    outputs = [tensors[name] for name in model.output_names]
    folded = tf.keras.Model([tensors[n] for n in model.input_names], outputs[0] if len(outputs) == 1 else outputs, name=model.name)
    by_parent = {parent: bn for bn, parent in pairs.items()}
    for name, layer in fresh.items():
        src = model.get_layer(name)
        if name in by_parent:
            layer.set_weights(_folded_weights(src, model.get_layer(by_parent[name])))
        elif src.get_weights():
            layer.set_weights(src.get_weights())
    return folded


def _inbound_layers(layer) -> list:
    """The layers feeding ``layer`` in its (first and only) call in the model."""
    if not layer._inbound_nodes:
        return []
    inbound = layer._inbound_nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def _folded_weights(layer, bn) -> list[np.ndarray]:
    weights = layer.get_weights()
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else np.zeros(kernel.shape[-1], kernel.dtype)
    gamma = bn.gamma.numpy() if bn.scale else np.ones_like(bias)
    beta = bn.beta.numpy() if bn.center else np.zeros_like(bias)
    scale = gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    return [kernel * scale, scale * (bias - bn.moving_mean.numpy()) + beta]
