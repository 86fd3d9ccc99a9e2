"""Entry point ``hls4ml.backends: MSQ`` (see pyproject.toml).

hls4ml calls :func:`register` in the middle of ``import hls4ml``; everything used here is
importable at that point (hls4ml's model, backends and writers, not its converters). It only
registers, through hls4ml's own APIs: nothing of hls4ml is replaced, so the stock backends behave
exactly as without this package. Our QKeras parser hooks are not installed here
(:mod:`flow.hls.hls4ml_hooks` says when they are).
"""

from __future__ import annotations


def register(*, register_backend, register_writer) -> None:
    """Register our IR layers, the writer and the backend (writer before backend)."""
    from flow.hls import NAME
    from flow.hls.backend import MSQBackend, MSQWriter
    from flow.hls.layers import register_layers
    from flow.hls.lq_layers import register_lq_layers

    register_layers()
    register_lq_layers()
    register_writer(NAME, MSQWriter)
    register_backend(NAME, MSQBackend)
