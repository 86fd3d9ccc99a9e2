"""hls4ml's Keras parser learns ``QActivation(quantized_lq)``: it becomes an ``LQActivation`` layer.

Stock hls4ml 1.3.0 raises "Unsupported QKeras activation" for any activation quantizer it does not
list (``get_activation_quantizer`` in ``hls4ml/converters/keras/qkeras.py``). While
:mod:`flow.hls.hls4ml_hooks` is active, that function sends an LQ activation to
:func:`lq_activation_layer` and everything else to hls4ml unchanged.
"""

from __future__ import annotations

from flow.lq import reference

LQ_ACTIVATION = "LQActivation"


def activation_basis(quantizer):
    """``(basis (K,) float64, offset)`` of a per-layer LQ activation quantizer, exactly as Keras uses them."""
    import numpy as np
    import tensorflow as tf

    return quantizer.current_basis(tf.zeros([1])).numpy().astype(np.float64), float(quantizer.offset_value())


def is_lq_activation(keras_layer, activation_name: str = "activation") -> bool:
    """Whether a Keras layer config's activation quantizer is ``quantized_lq``."""
    activation = keras_layer.get("config", {}).get(activation_name)
    return isinstance(activation, dict) and activation.get("class_name") == "quantized_lq"


def lq_activation_layer(keras_layer, input_names, activation_name: str = "activation") -> dict:
    """The IR dict of an LQ activation: its basis and offset exactly as Keras uses them."""
    from flow.quantizers import quantized_lq

    config = keras_layer["config"]
    quantizer = quantized_lq.from_config(config[activation_name]["config"])
    name = config["name"]
    if quantizer.per_channel:
        raise ValueError(
            f"layer '{name}': QActivation(quantized_lq(per_channel=True)) has one basis per channel; activations "
            "need one basis per layer (per_channel=False), calibrated by flow.ptq.lq_quantize"
        )
    basis, offset = activation_basis(quantizer)
    layer = {
        "name": name,
        "class_name": LQ_ACTIVATION,
        "lq_bits": reference.check_k(quantizer.bits),
        "lq_basis": basis.tolist(),
        "lq_offset": offset,
        "data_format": "channels_last",
    }
    if input_names is not None:
        layer["inputs"] = input_names
    return layer
