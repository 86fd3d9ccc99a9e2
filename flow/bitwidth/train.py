"""Training with learnable widths: task loss + ``cost_weight`` * normalised BOPs.

Weights and alphas have their own Adam optimizers (alphas move in bits, weights in their own
units); after every step alphas are clipped to their bounds and their moving averages
advance. The history records loss, accuracy, cost and the per-layer alphas per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from flow.bitwidth.cost import bops, bops_reference
from flow.bitwidth.layers import WIDTH_LAYERS


@dataclass(frozen=True)
class WidthTrainConfig:
    epochs: int = 20
    learning_rate: float = 1e-3
    alpha_learning_rate: float = 0.02
    cost_weight: float = 1.0
    batch_size: int = 32
    seed: int = 0
    input_bits: float = 8.0
    progress: bool = True
    #: charge float Dense/Conv layers (a float head) in the BOPs cost at 8-bit weights; False: the paper's
    #: accounting, the head runs on the host (flow.bitwidth.cost)
    head_in_cost: bool = True

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1 or self.learning_rate <= 0 or self.alpha_learning_rate < 0:
            raise ValueError(f"WidthTrainConfig: epochs >= 0, batch_size >= 1, learning rates > 0 required, got {self}")
        if self.cost_weight < 0:
            raise ValueError(f"WidthTrainConfig: cost_weight must be >= 0, got {self.cost_weight}")


def width_layers(model):
    return [layer for layer in model.layers if isinstance(layer, WIDTH_LAYERS)]


def _split_variables(model):
    layers = width_layers(model)
    alpha_ids = {id(layer.alpha) for layer in layers}
    # an activation that does not quantize yet (active=False) has no gradient: its alpha waits
    alphas = [layer.alpha for layer in layers if getattr(layer, "active", True)]
    weights = [v for v in model.trainable_variables if id(v) not in alpha_ids]
    return weights, alphas


def train_widths(model, data, cfg: WidthTrainConfig = WidthTrainConfig(), desc: str = "widths") -> dict:
    """Train ``model`` (learned-width layers, logits output) on ``data``; returns the history."""
    tf.keras.utils.set_random_seed(cfg.seed)
    layers = width_layers(model)
    weights, alphas = _split_variables(model)
    opt_w = tf.keras.optimizers.Adam(cfg.learning_rate)
    opt_a = tf.keras.optimizers.Adam(cfg.alpha_learning_rate)
    ce = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    reference = bops_reference(model, cfg.head_in_cost) or 1.0

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            task = ce(y, logits)
            cost = bops(model, cfg.input_bits, include_float=cfg.head_in_cost) / reference
            loss = task + cfg.cost_weight * cost
        grads = tape.gradient(loss, weights + alphas)
        opt_w.apply_gradients(zip(grads[: len(weights)], weights))
        if alphas and cfg.alpha_learning_rate > 0:
            opt_a.apply_gradients(zip(grads[len(weights) :], alphas))
        for layer in layers:
            cfgw = layer.width_config
            layer.alpha.assign(tf.clip_by_value(layer.alpha, cfgw.low, cfgw.high))
            layer.update_ema()
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(y, tf.int32)), tf.float32))
        return task, cost, correct

    history = {"loss": [], "accuracy": [], "cost": [], "alpha": [], "alpha_ema": []}
    rng = np.random.default_rng(cfg.seed)
    n = len(data.x_train)
    for _ in tqdm(range(cfg.epochs), desc=desc, disable=not cfg.progress, leave=False):
        order = rng.permutation(n)
        tot = cst = cor = 0.0
        for start in range(0, n, cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            task, cost, correct = step(data.x_train[idx], data.y_train[idx])
            tot += float(task) * len(idx)
            cst = float(cost)
            cor += float(correct)
        history["loss"].append(tot / n)
        history["accuracy"].append(cor / n)
        history["cost"].append(cst)
        history["alpha"].append({l.name: float(l.alpha.numpy()) for l in layers})
        history["alpha_ema"].append({l.name: float(l.alpha_ema.numpy()) for l in layers})
    return history
