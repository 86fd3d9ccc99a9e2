"""hls4ml's Keras parser learns ``QActivation(quantized_lq)``: it becomes an ``LQActivation`` layer.

Stock hls4ml 1.3.0 raises "Unsupported QKeras activation" for any activation quantizer it does not
list. :func:`install_handler` wraps the stock ``QActivation`` handler: an LQ quantizer goes to
:func:`parse_lq_activation`, everything else to the stock handler unchanged. Our plugin runs while
``import hls4ml`` is still registering handlers, so the wrapper is installed through the handler
table itself (a dict that wraps the ``QActivation`` entry whenever it is set). During
``import hls4ml`` the table does not exist yet: :func:`install_when_ready` then leaves a finder
on ``sys.meta_path`` that installs it at the first import after the table exists (still inside
``import hls4ml``) and removes itself. :func:`flow.hls.register` and the backend's
``create_initial_config`` install it too.
"""

from __future__ import annotations

import importlib.abc
import sys

from flow.lq import reference

LQ_ACTIVATION = "LQActivation"


def activation_basis(quantizer):
    """``(basis (K,) float64, offset)`` of a per-layer LQ activation quantizer, exactly as Keras uses them."""
    import numpy as np
    import tensorflow as tf

    return quantizer.current_basis(tf.zeros([1])).numpy().astype(np.float64), float(quantizer.offset_value())


def parse_lq_activation(keras_layer, input_names, input_shapes):
    """The IR dict of an LQ activation: its basis and offset exactly as Keras uses them."""
    from flow.quantizers import quantized_lq

    config = keras_layer["config"]
    quantizer = quantized_lq.from_config(config["activation"]["config"])
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
        "inputs": input_names,
        "lq_bits": reference.check_k(quantizer.bits),
        "lq_basis": basis.tolist(),
        "lq_offset": offset,
        "data_format": "channels_last",
    }
    return layer, list(input_shapes[0])


def _is_lq(keras_layer) -> bool:
    activation = keras_layer.get("config", {}).get("activation")
    return isinstance(activation, dict) and activation.get("class_name") == "quantized_lq"


def _wrap(stock):
    if getattr(stock, "flow_lq", False):
        return stock

    def handler(keras_layer, input_names, input_shapes, data_reader, *args):
        if _is_lq(keras_layer):
            return parse_lq_activation(keras_layer, input_names, input_shapes)
        return stock(keras_layer, input_names, input_shapes, data_reader, *args)

    handler.flow_lq = True
    handler.handles = getattr(stock, "handles", ["QActivation"])
    return handler


class _Handlers(dict):
    """hls4ml's handler table; setting 'QActivation' stores the wrapped handler."""

    def __setitem__(self, key, value):
        super().__setitem__(key, _wrap(value) if key == "QActivation" else value)


def install_handler() -> bool:
    """Idempotent; returns False (and does nothing) while hls4ml's parser module is still importing."""
    module = sys.modules.get("hls4ml.converters.keras_v2_to_hls")
    if module is None or not hasattr(module, "layer_handlers"):
        return False
    if not isinstance(module.layer_handlers, _Handlers):
        table = _Handlers()
        for key, value in module.layer_handlers.items():
            table[key] = value
        module.layer_handlers = table
    return True


class _InstallWhenReady(importlib.abc.MetaPathFinder):
    """Finds nothing; on each import it tries :func:`install_handler` and leaves once that works."""

    def find_spec(self, fullname, path=None, target=None):
        if install_handler() and self in sys.meta_path:
            sys.meta_path.remove(self)
        return None


def install_when_ready() -> None:
    """Install now if hls4ml's parser is ready, else as soon as it is (see the module docstring)."""
    if install_handler() or any(isinstance(f, _InstallWhenReady) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _InstallWhenReady())
