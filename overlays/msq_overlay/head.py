"""The float head of a model, run in numpy on the host (numpy only; Python 3.10).

``flow.head.split(model, cut)`` exports the layers after ``cut`` as a :class:`FloatHead`:
a list of ops (dense, flatten, reshape, activation) and their float32 arrays, saved as one
``.npz`` (arrays + a JSON spec). The board driver applies it to the accelerator's output.
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
