"""ADMM training of row-quantized weights (MSQ, Chang et al. HPCA 2021), then STE fine-tuning.

Problem: ``min f(W)`` subject to every row of every kernel lying on its level set
(fixed point or SP2, with its best power-of-two scale). With an auxiliary ``Z`` and a scaled
dual ``U`` per kernel:

    W-step:  a few SGD epochs on  f(W) + sum_l rho/2 * ||W_l - Z_l + U_l||^2   (float W)
    Z-step:  Z_l = Proj(W_l + U_l)        (each row onto its level set, best scale)
    U-step:  U_l = U_l + W_l - Z_l
    rho    = rho * rho_growth,   U_l = U_l * rho_old / rho_new

``U`` is the dual scaled by ``1 / rho`` (Boyd et al., *Distributed Optimization and Statistical
Learning via ADMM*, section 3.1.1); when rho changes, U is rescaled so that the unscaled dual
``rho * U`` carries over unchanged (section 3.4.1). Without it (``rescale_dual=False``, the
behaviour before this fix) the effective dual grows with rho: x1.4 every update, about 155x over
15 updates, pulling W onto Z harder and earlier than the method intends.

Activations keep their quantizers (straight-through estimator) throughout. At the end the
weights are hard-quantized (the quantizers are switched back on) and fine-tuned with STE.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from flow.quantizers import RowQuantizer
from flow.train.ste import TrainConfig, train


@dataclass(frozen=True)
class ADMMConfig:
    epochs: int = 30
    epochs_per_update: int = 2
    rho: float = 2e-2
    rho_growth: float = 1.4
    learning_rate: float = 1e-3
    batch_size: int = 32
    finetune_epochs: int = 15
    finetune_learning_rate: float = 5e-4
    seed: int = 0
    progress: bool = True
    #: keep the unscaled dual rho * U continuous when rho grows (Boyd et al. 3.4.1); False: the old behaviour
    rescale_dual: bool = True

    def __post_init__(self):
        if self.rho <= 0 or self.rho_growth < 1 or self.epochs_per_update < 1:
            raise ValueError(f"ADMMConfig: rho > 0, rho_growth >= 1, epochs_per_update >= 1 required, got {self}")


def row_quantized_layers(model) -> list:
    return [
        layer for layer in model.layers if isinstance(getattr(layer, "kernel_quantizer_internal", None), RowQuantizer)
    ]


@contextlib.contextmanager
def float_kernels(layers):
    """Temporarily compute these QKeras layers with their float kernels (W-step of ADMM)."""
    saved = [layer.kernel_quantizer for layer in layers]
    try:
        for layer in layers:
            layer.kernel_quantizer = None
        yield
    finally:
        for layer, q in zip(layers, saved):
            layer.kernel_quantizer = q


def project(layer) -> np.ndarray:
    """Initial Z: the layer's kernel projected onto its level sets."""
    return layer.kernel_quantizer_internal.encode(layer.kernel.numpy()).values.astype(np.float32)


def _admm_step_fn(model, layers, optimizer, loss_fn):
    @tf.function
    def step(x, y, targets, rho):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
            penalty = tf.add_n([tf.reduce_sum(tf.square(l.kernel - t)) for l, t in zip(layers, targets)])
            total = loss + 0.5 * rho * penalty
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def train_admm(model, data, cfg: ADMMConfig = ADMMConfig(), desc: str = "ADMM"):
    """ADMM on every row-quantized kernel of ``model`` (trained in place), then STE fine-tune.

    Returns a dict with the loss per epoch, the distance ``||W - Z||`` per update and the
    fine-tune history.
    """
    from flow.convert import freeze_msq_rows

    layers = row_quantized_layers(model)
    if not layers:
        raise ValueError(f"model '{model.name}' has no layer with an SP2/MSQ kernel quantizer to train with ADMM")
    freeze_msq_rows(model)
    tf.keras.utils.set_random_seed(cfg.seed)
    z = [project(layer) for layer in layers]
    u = [np.zeros_like(zl) for zl in z]
    rho = cfg.rho
    log = {"loss": [], "primal_residual": [], "dual_norm": []}
    optimizer = tf.keras.optimizers.Adam(cfg.learning_rate)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ds = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
    with float_kernels(layers):
        step = _admm_step_fn(model, layers, optimizer, loss_fn)
        for epoch in tqdm(range(cfg.epochs), desc=desc, unit="epoch", leave=False, disable=not cfg.progress):
            targets = [tf.constant(zl - ul) for zl, ul in zip(z, u)]
            losses = [
                float(step(x, y, targets, tf.constant(rho, tf.float32)))
                for x, y in ds.shuffle(len(data.y_train), seed=cfg.seed + epoch).batch(cfg.batch_size)
            ]
            log["loss"].append(float(np.mean(losses)))
            if (epoch + 1) % cfg.epochs_per_update == 0:
                residual = _dual_update(layers, z, u)
                log["primal_residual"].append(residual)
                rho = _grow_rho(rho, cfg, u)
                log["dual_norm"].append(rho * float(np.sqrt(sum(np.sum(ul.astype(np.float64) ** 2) for ul in u))))
    log["finetune"] = train(
        model,
        data,
        TrainConfig(cfg.finetune_epochs, cfg.finetune_learning_rate, cfg.batch_size, cfg.seed, cfg.progress),
        desc=f"{desc} fine-tune",
    )
    return log


def _grow_rho(rho: float, cfg: ADMMConfig, u: list) -> float:
    """The next penalty; the scaled duals in ``u`` are rescaled in place by rho_old / rho_new so that
    the unscaled dual rho * U is unchanged (unless ``cfg.rescale_dual`` is False)."""
    new = rho * cfg.rho_growth
    if cfg.rescale_dual:
        for i in range(len(u)):
            u[i] = u[i] * np.float32(rho / new)
    return new


def _dual_update(layers, z, u) -> float:
    """Z- and U-steps in place; returns the primal residual sum ||W - Z||."""
    residual = 0.0
    for i, layer in enumerate(layers):
        w = layer.kernel.numpy()
        z[i] = layer.kernel_quantizer_internal.encode(w + u[i]).values.astype(np.float32)
        u[i] = u[i] + w - z[i]
        residual += float(np.linalg.norm(w - z[i]))
    return residual
