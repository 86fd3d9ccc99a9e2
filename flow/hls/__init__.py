"""The extended hls4ml backend 'MSQ'.

Installing the project registers it through hls4ml's ``hls4ml.backends`` entry point; where
that is not available (e.g. running from a source tree that was not pip-installed), call
:func:`register` once before converting.
"""

from __future__ import annotations

NAME = "MSQ"


def register() -> str:
    """Make backend 'MSQ' available to hls4ml and switch on our QKeras parser hooks for the rest of
    the process (idempotent; ``flow.convert`` calls it). Returns the backend's name.

    The hooks (:mod:`flow.hls.hls4ml_hooks`) let hls4ml's own parser, e.g. in
    ``config_from_keras_model``, read our quantizers; they act only on our quantizer classes, and
    merely importing hls4ml (its entry point) never switches them on."""
    import hls4ml  # noqa: F401  (runs the entry point if the project is installed)
    from hls4ml.backends.backend import backend_map, register_backend
    from hls4ml.writer.writers import register_writer

    from flow.hls import plugin
    from flow.hls.quantizer import install

    if NAME.lower() not in backend_map:
        plugin.register(register_backend=register_backend, register_writer=register_writer)
    install()
    return NAME


__all__ = ["NAME", "register"]
