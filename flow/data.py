"""Built-in data sets, both generated or shipped locally (no downloads, ever).

* ``digits``: scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn). Pixels
  0..16 are scaled to [0, 1] on the grid 1/16, flattened to 64 features.
* ``mnist1d``: MNIST-1D (Greydanus 2020), *generated* by the ``mnist1d`` package's
  ``make_dataset(get_dataset_args())`` (5,000 signals of length 40, 4,000 train / 1,000 test);
  never its download URL. Values are rounded to the grid 2**-4 in [-8, 8).

Inputs are returned on a fixed-point grid so that the QKeras input quantizer and the HLS
input type see the same numbers (the bit-exactness contract is stated on grid inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATASETS = ("digits", "mnist1d")
#: Natural sample shapes for convolutional models.
IMAGE_SHAPES = {"digits": (8, 8, 1), "mnist1d": (40, 1)}


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


def load(name: str) -> Dataset:
    """Load a built-in data set by name (clear error for an unknown one)."""
    loaders = {"digits": load_digits, "mnist1d": load_mnist1d}
    if name not in loaders:
        raise ValueError(f"unknown data set '{name}'; built-in data sets are: {', '.join(DATASETS)}")
    return loaders[name]()
