"""Learned-basis (LQ) quantization: numpy reference (:mod:`reference`) and the compiled bitwise
CPU kernel (:mod:`cpu`) that the host side (float head, CPU fallback) can use."""

from flow.lq.reference import MAX_K, check_k, decode, encode, levels, qem_fit, qem_fit_channels, quantize

__all__ = ["MAX_K", "check_k", "decode", "encode", "levels", "qem_fit", "qem_fit_channels", "quantize"]
