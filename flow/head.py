"""A float head kept off the accelerator: cut a model at a named layer.

``split(model, cut)`` returns the backbone (a Keras model from the input to ``cut``, which
goes to HLS) and a :class:`FloatHead`: the layers after ``cut`` exported as plain numpy
arrays and run in numpy on the host (the board driver imports only numpy)::

    backbone, head = split(model, "flatten")
    hls_model = convert(backbone, ...)
    y = head.predict(hls_model.predict(x))      # == model.predict(x) up to float32 rounding

The head must be a chain of Dense, Flatten, Reshape, Dropout, ReLU and Activation
(linear, relu, softmax, sigmoid) layers; it is saved as one ``.npz`` (arrays + a JSON spec).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "softmax": lambda x: _softmax(x),
}


def _softmax(x):
    z = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return z / np.sum(z, axis=-1, keepdims=True)


@dataclass
class FloatHead:
    """Ops ``[{'op': 'dense'|'flatten'|'reshape'|'activation', ...}]`` and their arrays, in order."""

    ops: list[dict] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    input_shape: tuple = ()

    def predict(self, x) -> np.ndarray:
        """Run the head on backbone outputs ``x`` (batch first) in float32, like Keras."""
        x = np.asarray(x, dtype=np.float32)
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            if int(np.prod(x.shape[1:])) != int(np.prod(self.input_shape)):
                raise ValueError(f"float head: expected inputs of shape (batch, {', '.join(map(str, self.input_shape))}), got {x.shape}")
            x = x.reshape((-1, *self.input_shape))
        for op in self.ops:
            x = self._apply(op, x)
        return x

    def _apply(self, op, x):
        kind = op["op"]
        if kind == "dense":
            y = np.matmul(x, self.arrays[op["kernel"]])
            if op.get("bias"):
                y = y + self.arrays[op["bias"]]
            return ACTIVATIONS[op["activation"]](y).astype(np.float32)
        if kind == "flatten":
            return x.reshape((x.shape[0], -1))
        if kind == "reshape":
            return x.reshape((x.shape[0], *op["shape"]))
        if kind == "activation":
            return ACTIVATIONS[op["activation"]](x).astype(np.float32)
        raise ValueError(f"float head: unknown op {kind!r}")

    def save(self, path) -> Path:
        path = Path(path)
        spec = json.dumps({"ops": self.ops, "input_shape": list(self.input_shape)})
        np.savez(path, __spec__=np.frombuffer(spec.encode(), dtype=np.uint8), **self.arrays)
        return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")

    @classmethod
    def load(cls, path) -> "FloatHead":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"float head file {path} does not exist")
        with np.load(path) as data:
            if "__spec__" not in data:
                raise ValueError(f"{path} is not a float head file (no __spec__ entry)")
            spec = json.loads(bytes(data["__spec__"]).decode())
            arrays = {k: data[k] for k in data.files if k != "__spec__"}
        return cls(spec["ops"], arrays, tuple(spec["input_shape"]))


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
