"""MSQ deployment flow: QKeras quantizers, training, an extended hls4ml backend, C-simulation.

Heavy imports (TensorFlow, hls4ml) happen in the submodules; ``import flow`` is cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"


def check_model_path(path) -> None:
    """A one-line error unless ``path`` is a Keras model file (HDF5 ``.h5`` or Keras v3 ``.keras``)."""
    import zipfile
    from pathlib import Path

    p = Path(path)
    expected = "a Keras model file saved with model.save('model.h5')"
    if not p.exists():
        raise FileNotFoundError(f"model file {path} does not exist (expected {expected})")
    if p.is_dir():
        if (p / "saved_model.pb").exists():
            raise ValueError(
                f"{path} is a TensorFlow SavedModel directory, not {expected}; load it with tf.keras.models.load_model "
                "and save it as .h5"
            )
        raise ValueError(f"{path} is a directory, not {expected}")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head != b"\x89HDF\r\n\x1a\n" and not zipfile.is_zipfile(p):
        raise ValueError(f"{path} is neither an HDF5 nor a .keras file (expected {expected})")


def load_model(path, custom_objects: dict | None = None):
    """Load a saved QKeras model (.h5 or .keras) that uses our quantizers; a clear error for anything else."""
    from qkeras.utils import load_qmodel

    check_model_path(path)

    from flow.bitwidth import CUSTOM_LAYERS
    from flow.quantizers import register_custom_objects

    objects = {**register_custom_objects(), **CUSTOM_LAYERS}
    objects.update(custom_objects or {})
    try:
        return load_qmodel(str(path), custom_objects=objects, compile=False)
    except (OSError, KeyError) as exc:  # h5py: truncated or corrupt file, or an HDF5 file with no model in it
        raise ValueError(f"{path}: not a readable Keras model ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    except ValueError as exc:  # Keras: "No model config found in the file at <GFile ...>" (an HDF5 file of data)
        if "model config" not in str(exc):
            raise
        raise ValueError(f"{path} is an HDF5 file with no Keras model config in it (expected a file saved with "
                         "model.save('model.h5'), not weights or data)") from None


def freeze(model):
    """Turn a trained learnable-width model into plain QKeras fixed-point layers (see flow.bitwidth)."""
    from flow.bitwidth import freeze as _freeze

    return _freeze(model)


__all__ = ["check_model_path", "freeze", "load_model", "__version__"]
