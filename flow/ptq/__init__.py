"""Post-training quantization: symmetric/asymmetric fixed point (:mod:`flow.ptq.fixed`) and the
learned-basis LQ quantizer fitted by QEM (:mod:`flow.ptq.lq`)."""

from flow.ptq.fixed import GRANULARITIES, MODES, quantize, weight_memory_bits
from flow.ptq.lq import lq_quantize, unfreeze_kernels

__all__ = ["GRANULARITIES", "MODES", "lq_quantize", "quantize", "unfreeze_kernels", "weight_memory_bits"]
