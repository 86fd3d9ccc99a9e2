"""LQ-Nets' moving-average basis during training: one QEM step per batch for every LQ kernel
quantizer with a ``momentum`` (see :mod:`flow.quantizers.lq`)."""

from __future__ import annotations

import tensorflow as tf

from flow.quantizers.lq import quantized_lq
from flow.rewrite import all_layers


def moving_basis_layers(model) -> list:
    """Layers whose kernel quantizer is an LQ quantizer with a moving-average basis."""
    return [
        layer
        for layer in all_layers(model)
        if isinstance(getattr(layer, "kernel_quantizer_internal", None), quantized_lq)
        and layer.kernel_quantizer_internal.momentum is not None
    ]


class LQBasisUpdate(tf.keras.callbacks.Callback):
    """After every training batch: ``a <- m a + (1 - m) QEM(w; a)`` for each such layer."""

    def on_train_begin(self, logs=None):
        self._layers = moving_basis_layers(self.model)

    def on_train_batch_end(self, batch, logs=None):
        for layer in self._layers:
            layer.kernel_quantizer_internal.update_basis(layer.kernel)
