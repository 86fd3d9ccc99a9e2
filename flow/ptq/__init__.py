"""Post-training quantization: symmetric/asymmetric fixed point (:mod:`flow.ptq.fixed`)."""

from flow.ptq.fixed import GRANULARITIES, MODES, quantize, weight_memory_bits

__all__ = ["GRANULARITIES", "MODES", "quantize", "weight_memory_bits"]
