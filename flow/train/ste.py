"""Plain training with straight-through estimators (float models train the same way)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from flow.train.progress import EpochBar


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    learning_rate: float = 2e-3
    batch_size: int = 32
    seed: int = 0
    progress: bool = True

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError(f"TrainConfig: epochs >= 0, batch_size >= 1, learning_rate > 0 required, got {self}")


def compile_classifier(model, learning_rate: float):
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def train(model, data, cfg: TrainConfig = TrainConfig(), desc: str = "train"):
    """Train a classifier (logits output) on ``data`` (a :class:`flow.data.Dataset`)."""
    from flow.convert import freeze_msq_rows

    from flow.train.lq_basis import LQBasisUpdate, moving_basis_layers

    freeze_msq_rows(model)  # MSQ rows are fixed before quantized training starts
    tf.keras.utils.set_random_seed(cfg.seed)
    compile_classifier(model, cfg.learning_rate)
    callbacks = [EpochBar(cfg.epochs, desc, disable=not cfg.progress)]
    if moving_basis_layers(model):
        callbacks.append(LQBasisUpdate())
    history = model.fit(
        data.x_train,
        data.y_train,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        verbose=0,
        callbacks=callbacks,
    )
    return history.history


def evaluate(model, x, y) -> float:
    """Top-1 accuracy of a logits model."""
    logits = model.predict(x, verbose=0, batch_size=512)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def transfer_weights(source, target) -> list[str]:
    """Copy weights layer by layer (matched by name) from ``source`` into ``target``."""
    copied = []
    for layer in target.layers:
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            continue
        if src.get_weights():
            layer.set_weights(src.get_weights())
            copied.append(layer.name)
    return copied
