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

    from flow.quantizers import CUSTOM_OBJECTS

    objects = dict(CUSTOM_OBJECTS)
    objects.update(custom_objects or {})
    return load_qmodel(str(path), custom_objects=objects, compile=False)


__all__ = ["load_model", "__version__"]
