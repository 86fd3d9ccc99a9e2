"""The one place where the flow changes hls4ml 1.3.0 beyond its registration APIs: the QKeras parser.

Everything else of backend 'MSQ' goes through hls4ml's registries (``register_backend``,
``register_writer``, ``register_layer``, backend passes, flows, templates and sources). Its Keras frontend
cannot, because of three limitations of hls4ml 1.3.0:

1. ``hls4ml/converters/keras/qkeras.py``, ``get_quantizer_from_config``: the wrapper of a kernel/bias
   quantizer is chosen by a fixed if-chain (``QKerasBinaryQuantizer``, ``QKerasPO2Quantizer``, else
   ``QKerasQuantizer``); there is no quantizer registry. For a class it does not know,
   ``QKerasQuantizer.__init__`` (``hls4ml/model/quantizers.py``) prints "Unsupported quantizer" and types
   the weights ``ap_fixed<16,6>``.
2. Same file, ``get_activation_quantizer`` (used by ``parse_qactivation_layer``, the 'QActivation'
   handler, for QActivation layers and for QKeras activations given as a layer argument): any
   activation quantizer outside its fixed ``supported_activations`` list raises "Unsupported QKeras
   activation". ``register_keras_v2_layer_handler`` (``hls4ml/converters/keras_v2_to_hls.py``) refuses to
   replace a handler that exists ('QActivation', 'QDense', 'QConv1D', 'QConv2D'), and our quantizers live
   inside those stock Keras layers.
3. The parser (``parse_keras_model``) is not told the backend, ``config_from_keras_model``
   (``hls4ml/utils/config.py``) calls no backend method before parsing, and backend plugins are loaded
   (``hls4ml/backends/plugin_loader.py``, from ``hls4ml/backends/__init__.py``) while
   ``hls4ml.converters`` is still being imported, so a plugin cannot reach the parser at all.

While :func:`frontend` is active, two globals of ``hls4ml.converters.keras.qkeras`` (the module of the
functions above) are replaced: ``QKerasQuantizer`` by :func:`flow.hls.quantizer.hls_quantizer`'s
dispatch, ``get_activation_quantizer`` by a function that parses ``QActivation(quantized_lq)``
(:func:`flow.hls.lq_handler.lq_activation_layer`). Both act only on our quantizer classes; every other
config goes to hls4ml's own function and gives hls4ml's own objects, so a model that hls4ml converts
by itself converts exactly as without us. On exit the originals are put back (the same objects).

When it is active, and only then:

- while hls4ml parses a conversion with backend 'MSQ': from ``MSQBackend.create_initial_config`` (the
  first backend call of ``convert_from_keras_model``) to ``MSQBackend.create_layer_class`` (the first
  backend call once parsing is done), see :func:`begin_conversion`;
- inside ``with frontend():``;
- after :func:`flow.hls.register` (an explicit opt-in, called by ``flow.convert`` and the test suite):
  for the rest of the process, so that ``config_from_keras_model`` and stock backends (e.g. 'Vitis' in
  ``flow.convert``) understand our quantizers too. Importing hls4ml (the ``hls4ml.backends`` entry point)
  never enables it.

Consequence of 3: in a process that has neither called :func:`flow.hls.register` nor opened
``frontend()``, hls4ml's ``config_from_keras_model(..., backend='MSQ')`` parses our quantizers as hls4ml
1.3.0 does by itself: a kernel quantizer prints "Unsupported quantizer" and gets a ``fixed<16,6>``
'weight' entry in the config (which the conversion ignores: a layer with a quantizer takes the
quantizer's type), ``QActivation(quantized_lq)`` stops with hls4ml's "Unsupported QKeras activation".
``convert_from_keras_model(..., backend='MSQ')`` always parses with the hooks.

Not thread-safe (neither is hls4ml's conversion).
"""

from __future__ import annotations

import contextlib
import sys

#: hls4ml 1.3.0's QKeras parser module and the two globals of it that are replaced while active.
QKERAS_PARSER = "hls4ml.converters.keras.qkeras"

_depth = 0  # open activations: frontend() blocks, a conversion being parsed, the register() opt-in
_saved: dict | None = None  # the originals while installed
_conversion_open = False
_enabled = False


def _parser_module():
    """hls4ml's QKeras parser module, or None where hls4ml could not import it (no QKeras installed)."""
    converters = sys.modules.get("hls4ml.converters")
    if converters is None:
        import hls4ml  # noqa: F401

        converters = sys.modules["hls4ml.converters"]
    if not hasattr(converters, "convert_from_keras_model"):  # defined after hls4ml has imported its parsers
        raise RuntimeError("flow.hls.hls4ml_hooks: hls4ml is still being imported; activate them after `import hls4ml`")
    return sys.modules.get(QKERAS_PARSER)


@contextlib.contextmanager
def _closing_on_error():
    """An error raised while parsing ends the parse of an 'MSQ' conversion: hooks off (unless held)."""
    try:
        yield
    except BaseException:
        end_conversion()
        raise


def _quantizer_factory(stock):
    from flow.hls.quantizer import hls_quantizer

    def QKerasQuantizer(config, *args, **kwargs):  # noqa: N802  (stands in for the class name)
        with _closing_on_error():
            ours = hls_quantizer(config)
            return ours if ours is not None else stock(config, *args, **kwargs)

    QKerasQuantizer.flow_stock = stock
    return QKerasQuantizer


def _activation_parser(stock):
    from flow.hls.lq_handler import is_lq_activation, lq_activation_layer

    def get_activation_quantizer(keras_layer, input_names, activation_name="activation"):
        with _closing_on_error():
            if keras_layer.get("class_name") == "QActivation" and is_lq_activation(keras_layer, activation_name):
                return lq_activation_layer(keras_layer, input_names)
            return stock(keras_layer, input_names, activation_name)

    get_activation_quantizer.flow_stock = stock
    return get_activation_quantizer


def _install() -> None:
    global _saved
    module = _parser_module()
    if module is None:
        _saved = {}
        return
    _saved = {"QKerasQuantizer": module.QKerasQuantizer, "get_activation_quantizer": module.get_activation_quantizer}
    module.QKerasQuantizer = _quantizer_factory(_saved["QKerasQuantizer"])
    module.get_activation_quantizer = _activation_parser(_saved["get_activation_quantizer"])


def _restore() -> None:
    global _saved
    module = sys.modules.get(QKERAS_PARSER)
    for name, original in (_saved or {}).items():
        if getattr(getattr(module, name, None), "flow_stock", None) is original:
            setattr(module, name, original)
    _saved = None


def _enter() -> None:
    global _depth
    if _depth == 0:
        _install()
    _depth += 1


def _exit() -> None:
    global _depth
    if _depth == 0:
        return
    _depth -= 1
    if _depth == 0:
        _restore()


def active() -> bool:
    """Whether hls4ml's QKeras parser currently understands our quantizers."""
    return _depth > 0


@contextlib.contextmanager
def frontend():
    """hls4ml's QKeras parser understands our quantizers inside this block (re-entrant)."""
    _enter()
    try:
        yield
    finally:
        _exit()


def begin_conversion() -> None:
    """A conversion with backend 'MSQ' starts (``MSQBackend.create_initial_config``): hooks on until its
    parsing ends (:func:`end_conversion`), or an error passes through them. At most one is open: a parse
    that hls4ml itself aborts elsewhere (e.g. "Unsupported layer type") leaves the hooks on until the next
    'MSQ' conversion finishes parsing; they never act on stock configs meanwhile."""
    global _conversion_open
    if not _conversion_open:
        _enter()
        _conversion_open = True


def end_conversion() -> None:
    """hls4ml has finished parsing (``MSQBackend.create_layer_class``): hooks off unless held otherwise."""
    global _conversion_open
    if _conversion_open:
        _conversion_open = False
        _exit()


def enable() -> None:
    """Hooks on for the rest of the process (idempotent; :func:`flow.hls.register`)."""
    global _enabled
    if not _enabled:
        _enter()
        _enabled = True


def disable() -> None:
    """Undo :func:`enable` (hooks stay on while a ``frontend()`` block or an 'MSQ' parse holds them)."""
    global _enabled
    if _enabled:
        _enabled = False
        _exit()
