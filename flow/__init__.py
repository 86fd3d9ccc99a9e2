"""MSQ deployment flow: QKeras quantizers, training, an extended hls4ml backend, C-simulation.

Heavy imports (TensorFlow, hls4ml) happen in the submodules; ``import flow`` is cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load_model(path, custom_objects: dict | None = None):
    """Load a saved (.h5 or SavedModel) QKeras model that uses our quantizers."""
    from pathlib import Path

    from qkeras.utils import load_qmodel

    if not Path(path).exists():
        raise FileNotFoundError(f"model file {path} does not exist")

    from flow.bitwidth import CUSTOM_LAYERS
    from flow.quantizers import register_custom_objects

    objects = {**register_custom_objects(), **CUSTOM_LAYERS}
    objects.update(custom_objects or {})
    return load_qmodel(str(path), custom_objects=objects, compile=False)


def freeze(model):
    """Turn a trained learnable-width model into plain QKeras fixed-point layers (see flow.bitwidth)."""
    from flow.bitwidth import freeze as _freeze

    return _freeze(model)


__all__ = ["freeze", "load_model", "__version__"]
