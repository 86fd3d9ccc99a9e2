"""Built-in data sets, both generated or shipped locally (no downloads, ever).

* ``digits``: scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn). Pixels
  0..16 are scaled to [0, 1] on the grid 1/16, flattened to 64 features.
* ``mnist1d``: MNIST-1D (Greydanus 2020), *generated* by the ``mnist1d`` package's
  ``make_dataset(get_dataset_args())`` (5,000 signals of length 40, 4,000 train / 1,000 test);
  never its download URL. Values are rounded to the grid 2**-4 in [-8, 8).

* ``mnist`` / ``cifar10``: from a user ``.npz`` (arrays ``x_train, y_train, x_test, y_test``) or
  from Keras' cache (``$KERAS_HOME`` or ``~/.keras``, ``datasets/mnist.npz``,
  ``datasets/cifar-10-batches-py``) when the files are there; otherwise a clear error that
  says which file to put where. Nothing is downloaded. Pixels are scaled to ``p / 256``.

Inputs are returned on a fixed-point grid so that the QKeras input quantizer and the HLS
input type see the same numbers (the bit-exactness contract is stated on grid inputs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("digits", "mnist1d", "mnist", "cifar10")
#: Natural sample shapes for convolutional models.
IMAGE_SHAPES = {"digits": (8, 8, 1), "mnist1d": (40, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3)}


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    #: input grid: values are multiples of 2**-frac_bits within [-2**(integer), 2**(integer))
    frac_bits: int
    integer: int

    @property
    def input_dim(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    def with_shape(self, shape) -> "Dataset":
        """The same data with every sample reshaped (e.g. digits as 8x8x1 images, MNIST-1D as (40, 1))."""
        import dataclasses

        shape = tuple(int(s) for s in shape)
        if int(np.prod(shape)) != self.input_dim:
            raise ValueError(f"{self.name}: cannot reshape samples of {self.input_dim} values to {shape}")
        return dataclasses.replace(
            self, x_train=self.x_train.reshape((-1, *shape)), x_test=self.x_test.reshape((-1, *shape))
        )

    def input_precision(self) -> str:
        """The HLS type that holds the input grid exactly (``ConvertConfig.input_precision``)."""
        bits, integer = self.input_quantizer_args()
        return f"fixed<{bits},{integer + 1}>"

    def input_quantizer_args(self) -> tuple[int, int]:
        """``(bits, integer)`` of a ``quantized_bits`` that represents the input grid exactly."""
        return self.integer + self.frac_bits + 1, self.integer


def to_grid(x: np.ndarray, frac_bits: int, integer: int) -> np.ndarray:
    """Round to multiples of ``2**-frac_bits`` (half to even) and clip to the signed range."""
    step = 2.0**-frac_bits
    hi = 2.0**integer - step
    return np.clip(np.round(np.asarray(x, np.float64) / step) * step, -(2.0**integer), hi).astype(np.float32)


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    d = sk_digits()
    x = (d.data / 16.0).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_fraction, random_state=seed, stratify=d.target)
    return Dataset("digits", xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), 10, frac_bits=4, integer=1)


def load_mnist1d(seed: int = 42) -> Dataset:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = seed
    state = np.random.get_state()  # make_dataset seeds numpy's global generator; restore it
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    frac, integer = 4, 3
    return Dataset(
        "mnist1d",
        to_grid(d["x"], frac, integer),
        d["y"].astype(np.int64),
        to_grid(d["x_test"], frac, integer),
        d["y_test"].astype(np.int64),
        10,
        frac_bits=frac,
        integer=integer,
    )


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _from_npz(path: Path, name: str) -> tuple[np.ndarray, ...]:
    with np.load(path) as f:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f]
        if missing:
            raise ValueError(f"{path}: a {name} .npz needs arrays x_train, y_train, x_test, y_test; missing {missing}")
        return f["x_train"], f["y_train"], f["x_test"], f["y_test"]


def _from_keras_cache(name: str) -> tuple[np.ndarray, ...]:
    import tensorflow as tf

    cache = keras_cache_dir()
    expected = {"mnist": cache / "mnist.npz", "cifar10": cache / "cifar-10-batches-py"}[name]
    if not expected.exists():
        raise FileNotFoundError(
            f"{name}: {expected} not found and nothing is downloaded here. Put Keras' {expected.name} there "
            f"(set KERAS_HOME to use another cache), or pass path= to a .npz with x_train, y_train, x_test, y_test"
        )
    loader = tf.keras.datasets.mnist if name == "mnist" else tf.keras.datasets.cifar10
    (xtr, ytr), (xte, yte) = loader.load_data()
    return xtr, ytr, xte, yte


def load_images(name: str, path: str | Path | None = None) -> Dataset:
    """MNIST or CIFAR-10 (see the module docstring); pixels 0..255 become ``p / 256``."""
    if name not in ("mnist", "cifar10"):
        raise ValueError(f"load_images: '{name}' is not an image data set (mnist, cifar10)")
    if path is not None:
        if not Path(path).exists():
            raise FileNotFoundError(f"{name}: {path} does not exist")
        xtr, ytr, xte, yte = _from_npz(Path(path), name)
    else:
        xtr, ytr, xte, yte = _from_keras_cache(name)
    shape = IMAGE_SHAPES[name]

    def prep(x):
        return (np.asarray(x, np.float32).reshape((-1, *shape)) / 256.0).reshape(len(x), -1)

    ytr, yte = np.asarray(ytr).reshape(-1).astype(np.int64), np.asarray(yte).reshape(-1).astype(np.int64)
    return Dataset(name, prep(xtr), ytr, prep(xte), yte, 10, frac_bits=8, integer=0)


def load(name: str, path: str | Path | None = None) -> Dataset:
    """Load a data set by name (clear error for an unknown one). ``path``: a user .npz (images)."""
    if name in ("mnist", "cifar10"):
        return load_images(name, path)
    loaders = {"digits": load_digits, "mnist1d": load_mnist1d}
    if name not in loaders:
        raise ValueError(f"unknown data set '{name}'; data sets are: {', '.join(DATASETS)}")
    return loaders[name]()
