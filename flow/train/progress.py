"""A tqdm progress bar over epochs for Keras ``fit`` (one line per training run)."""

from __future__ import annotations

import tensorflow as tf
from tqdm.auto import tqdm


class EpochBar(tf.keras.callbacks.Callback):
    def __init__(self, epochs: int, desc: str, disable: bool = False):
        super().__init__()
        self.bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False, disable=disable)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_accuracy")})
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()
