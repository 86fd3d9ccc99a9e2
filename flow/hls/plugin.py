"""Entry point ``hls4ml.backends: MSQ`` (see pyproject.toml).

hls4ml calls :func:`register` in the middle of ``import hls4ml``; everything used here is
importable at that point (hls4ml's model, backends and writers, not its converters).
"""

from __future__ import annotations


def register(*, register_backend, register_writer) -> None:
    """Register the quantizer hook, layer, writer and backend (writer before backend)."""
    from flow.hls import NAME
    from flow.hls.backend import MSQBackend, MSQWriter
    from flow.hls.layers import register_layers
    from flow.hls.lq_layers import register_lq_layers
    from flow.hls.quantizer import install

    install()
    register_layers()
    register_lq_layers()
    register_writer(NAME, MSQWriter)
    register_backend(NAME, MSQBackend)
