"""hls4ml side of our quantizers: ``Quantizer`` wrappers and the dispatch that creates them.

hls4ml's QKeras parser wraps every kernel/bias quantizer config in ``QKerasQuantizer``; for a class it
does not know it prints "Unsupported quantizer" and silently types the weights ``ap_fixed<16,6>``.
:func:`hls_quantizer` gives our wrapper for our quantizers (:class:`RowQuantizerHLS`,
:class:`LQQuantizerHLS`), a clear error for quantizers no HLS backend converts exactly, and None for
everything else. hls4ml 1.3.0 has no quantizer registry: :mod:`flow.hls.hls4ml_hooks` puts this dispatch
in front of its parser, only while it is active, and hands every other config to hls4ml unchanged.

The stock backends then see an ordinary fixed-point weight whose type holds every quantized
value exactly (so stock 'Vitis' computes the same numbers with plain multipliers), and the
'MSQ' backend replaces the layer with its per-row DSP/LUT kernel.
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.quantizers import Quantizer
from hls4ml.model.types import FixedPrecisionType

from flow.hls.encode import exact_spec
from flow.quantizers import CUSTOM_OBJECTS, KERAS_ONLY_OBJECTS, RowEncoding, RowQuantizer, quantized_lq


class RowQuantizerHLS(Quantizer):
    """Wraps a :class:`flow.quantizers.RowQuantizer` for hls4ml.

    hls4ml reads ``hls_type`` *before* it applies the quantizer to the weights, then builds
    the weight variable with that same object; :meth:`bind` therefore narrows the type object
    in place to the exact type of the quantized values.
    """

    def __init__(self, config: dict):
        cls = CUSTOM_OBJECTS[config["class_name"]]
        self.keras_quantizer: RowQuantizer = cls.from_config(config["config"])
        self.class_name = config["class_name"]
        self.config = config
        self.encoding: RowEncoding | None = None
        super().__init__(self.keras_quantizer.bits, FixedPrecisionType(width=32, integer=16, signed=True))

    def bind(self, data) -> RowEncoding:
        """Quantize the kernel ``data``; sets ``encoding`` and narrows ``hls_type`` to exact."""
        data = np.asarray(data)
        if data.ndim < 2:
            raise ValueError(
                f"{self.class_name} is a kernel quantizer; it cannot quantize a {data.ndim}-D tensor "
                "(use it as kernel_quantizer, and quantized_bits(..., alpha=1) for the bias)"
            )
        self.encoding = self.keras_quantizer.encode(data)
        spec = exact_spec(self.encoding.values, f"{self.class_name} weights")
        self.hls_type.width, self.hls_type.integer = spec.width, spec.integer
        return self.encoding

    def __call__(self, data):
        return self.bind(data).values

    def serialize_state(self):
        return {"bits": self.bits, "hls_type": self.hls_type.serialize(), "config": self.config}


class LQQuantizerHLS(Quantizer):
    """Wraps a kernel :class:`flow.quantizers.quantized_lq` for hls4ml.

    :meth:`bind` keeps the codes and the basis next to the values (the 'MSQ' backend's bit-plane
    kernel needs them) and narrows ``hls_type`` to the exact type of the values, so a stock
    backend computes the same numbers with multipliers.
    """

    def __init__(self, config: dict):
        self.keras_quantizer = quantized_lq.from_config(config["config"])
        self.class_name = config["class_name"]
        self.config = config
        self.values = self.codes = self.basis = None
        super().__init__(self.keras_quantizer.bits, FixedPrecisionType(width=32, integer=16, signed=True))

    def bind(self, data) -> np.ndarray:
        data = np.asarray(data)
        if data.ndim < 2:
            raise ValueError(
                f"quantized_lq cannot quantize a {data.ndim}-D tensor here; use it as kernel_quantizer (or in "
                "QActivation) and quantized_bits(..., alpha=1) for the bias"
            )
        values, self.codes, basis = self.keras_quantizer.encode(data)
        self.basis = np.broadcast_to(basis.reshape(basis.shape[0], -1), (basis.shape[0], data.shape[-1])).copy()
        spec = exact_spec(values, "quantized_lq weights")
        self.hls_type.width, self.hls_type.integer = spec.width, spec.integer
        self.values = values
        return values

    def __call__(self, data):
        return self.bind(data)

    def serialize_state(self):
        return {"bits": self.bits, "hls_type": self.hls_type.serialize(), "config": self.config}


def hls_quantizer(config) -> Quantizer | None:
    """Our hls4ml wrapper for a QKeras quantizer config of ours, None for any other config.

    Raises ValueError for quantizers that load and train but that no HLS backend converts exactly.
    """
    name = config.get("class_name") if isinstance(config, dict) else None
    if name in CUSTOM_OBJECTS:
        return RowQuantizerHLS(config)
    if name == "quantized_lq":
        return LQQuantizerHLS(config)
    if name in KERAS_ONLY_OBJECTS:
        from flow.quantizers import KERAS_ONLY_REASONS

        raise ValueError(f"{name} cannot be converted to HLS exactly: {KERAS_ONLY_REASONS[name]}")
    return None


def install() -> None:
    """Opt this process in to our QKeras parser hooks (:func:`flow.hls.hls4ml_hooks.enable`; idempotent).

    Called by :func:`flow.hls.register`, never while ``import hls4ml`` runs the plugin.
    """
    from flow.hls import hls4ml_hooks

    hls4ml_hooks.enable()
