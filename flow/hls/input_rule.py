"""The accelerator's input type, derived from the model's first quantizer (pure numpy + Keras objects).

Users feed raw floats. Keras quantizes them with the model's first quantizer; the accelerator (and
its C-simulation, and the board driver) converts each float once, to the input type. That one
conversion must be Keras' quantization, so the input type *is* the first quantizer:

* ``quantized_bits(b, i, alpha=1)`` (QKeras: ``clip(round_half_even(x 2^f), lo, hi) 2^-f``, ``tf.round``
  is half to even) -> ``fixed<b, i+1, RND_CONV, SAT>`` (``SAT_SYM`` when ``symmetric``;
  ``ufixed<b, i, RND_CONV, SAT>`` without ``keep_negative``);
* ``quantized_relu(b, i)`` -> ``ufixed<b, i, RND_CONV, SAT>``;
* ``quantized_lq`` (nearest level, ties to the upper level: level ``l+1`` iff ``x >= m_l`` for the
  midpoints ``m_l``) -> a floor-truncating (``TRN``), saturating type whose grid holds every midpoint
  and whose range holds them all with its minimum strictly below: for ``m`` on the grid,
  ``floor(x) >= m`` exactly when ``x >= m``.

Exactness holds for every float32 input whose magnitude stays below ``2**(24 - F)`` (``F`` fractional
bits of the type): beyond that QKeras' own straight-through form ``x + (q - x)`` rounds in float32.
Keras casts float64 inputs to float32 first; so do the C-simulation bridge and the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.hls.encode import fractional_bits

#: Layers between the input and its first quantizer that keep every value unchanged.
TRANSPARENT = ("Flatten", "Reshape", "Dropout")
ROUNDINGS = ("RND_CONV", "TRN")
SATURATIONS = ("SAT", "SAT_SYM")


@dataclass(frozen=True)
class InputRule:
    """An ``ap_[u]fixed<width, integer, rounding, saturation>`` input type and where it comes from."""

    width: int
    integer: int
    signed: bool
    rounding: str
    saturation: str
    source: str  # e.g. "layer 'q_input' (quantized_bits(6,1,alpha=1))"

    def __post_init__(self):
        if self.rounding not in ROUNDINGS or self.saturation not in SATURATIONS:
            raise ValueError(f"input rule: unsupported modes {self.rounding}/{self.saturation}")

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    def value_range(self) -> tuple[float, float]:
        step = 2.0**-self.fractional
        if self.signed:
            hi = 2.0 ** (self.width - 1) - 1
            lo = -hi if self.saturation == "SAT_SYM" else -(2.0 ** (self.width - 1))
            return lo * step, hi * step
        return 0.0, (2.0**self.width - 1) * step

    def hls(self) -> str:
        """hls4ml's precision string, e.g. ``fixed<6,2,RND_CONV,SAT>``."""
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.width},{self.integer},{self.rounding},{self.saturation}>"


def covers(rule: InputRule, width: int, integer: int, signed: bool) -> bool:
    """Whether a type ``<width, integer, signed>`` holds every value of ``rule``'s grid and range."""
    if width - integer < rule.fractional:
        return False
    step = 2.0 ** -(width - integer)
    hi = (2.0 ** (width - 1) - 1 if signed else 2.0**width - 1) * step
    lo = -(2.0 ** (width - 1)) * step if signed else 0.0
    rlo, rhi = rule.value_range()
    return lo <= rlo and hi >= rhi


def quantizer_rule(quantizer, source: str) -> InputRule | str:
    """The exact input type of a QKeras/flow activation quantizer, or why there is none."""
    name = type(quantizer).__name__
    rule = {"quantized_bits": _bits_rule, "quantized_relu": _relu_rule, "quantized_lq": _lq_rule}.get(name)
    if rule is None:
        return f"{name} has no exact fixed-point input type (supported: quantized_bits, quantized_relu, quantized_lq)"
    return rule(quantizer, f"layer '{source}' ({quantizer})")


def _common_refusal(q) -> str | None:
    if getattr(q, "use_stochastic_rounding", False):
        return "stochastic rounding is not deterministic"
    if float(getattr(q, "qnoise_factor", 1.0)) != 1.0:
        return "qnoise_factor != 1 mixes float and quantized values"
    return None


def _bits_rule(q, source: str) -> InputRule | str:
    refusal = _common_refusal(q)
    if refusal:
        return refusal
    if q.alpha is not None and (isinstance(q.alpha, str) or not np.all(np.asarray(q.alpha, dtype=np.float64) == 1.0)):
        return f"alpha={q.alpha!r} scales the levels (use alpha=1)"
    signed = bool(q.keep_negative)
    bits, integer = int(q.bits), int(q.integer)
    if bits - int(signed) <= 0:
        return "a 1-bit quantized_bits is a sign function, not a fixed-point grid"
    saturation = "SAT_SYM" if (signed and q.symmetric) else "SAT"
    return InputRule(bits, integer + int(signed), signed, "RND_CONV", saturation, source)


def _relu_rule(q, source: str) -> InputRule | str:
    refusal = _common_refusal(q)
    if refusal:
        return refusal
    if float(q.negative_slope) != 0.0 or q.use_sigmoid:
        return "leaky or sigmoid-based quantized_relu has no single fixed-point input type"
    rule = InputRule(int(q.bits), int(q.integer), False, "RND_CONV", "SAT", source)
    if q.relu_upper_bound is not None and not q.is_quantized_clip and float(q.relu_upper_bound) < rule.value_range()[1]:
        return f"relu_upper_bound={q.relu_upper_bound} clips inside the grid's range"
    return rule


def _lq_rule(q, source: str) -> InputRule | str:
    from flow.hls.lq_encode import lq_levels
    from flow.hls.lq_handler import activation_basis

    if q.per_channel:
        return "a per-channel LQ activation has no single input type (use per_channel=False)"
    mids = lq_levels(*activation_basis(q), source).midpoints
    return lq_rule(mids, source)


def lq_rule(midpoints: np.ndarray, source: str) -> InputRule:
    """Floor-truncating, saturating type: grid holds every midpoint, ``min < midpoints <= max``."""
    mids = np.asarray(midpoints, dtype=np.float64)
    frac = fractional_bits(mids, f"{source} midpoints")
    step = 2.0**-frac
    integer = 1
    while not (-(2.0 ** (integer - 1)) < mids.min() and 2.0 ** (integer - 1) - step >= mids.max()):
        integer += 1
    return InputRule(integer + frac, integer, True, "TRN", "SAT", source)


def _model_edges(keras_model) -> list[tuple[str, object]]:
    """``(parent name, layer)`` for every connection of ``keras_model``'s own graph (a layer shared
    with another model has nodes there too; only this model's nodes count)."""
    edges = []
    if not hasattr(keras_model, "_nodes_by_depth"):
        raise AttributeError(f"model '{keras_model.name}' has no functional graph (subclassed or not built)")
    for nodes in keras_model._nodes_by_depth.values():  # Keras' own graph of this model
        for node in nodes:
            if node.is_input:
                continue
            inbound = node.inbound_layers
            for parent in inbound if isinstance(inbound, (list, tuple)) else [inbound]:
                edges.append((parent.name, node.layer))
    return edges


def first_quantizers(keras_model, input_name: str) -> list[tuple[str, object]]:
    """``(layer name, quantizer or None)`` for each first value-changing consumer of the input.

    Flatten/Reshape/Dropout are looked through; a ``QActivation`` gives its quantizer; any other
    consumer gives None (the input reaches it unquantized).
    """
    edges = _model_edges(keras_model)
    found, frontier = [], [input_name]
    while frontier:
        name = frontier.pop()
        for parent, layer in edges:
            if parent != name:
                continue
            cls = type(layer).__name__
            if cls in TRANSPARENT:
                frontier.append(layer.name)
            elif cls == "QActivation" and not isinstance(getattr(layer, "quantizer", None), str):
                found.append((layer.name, layer.quantizer))
            else:
                found.append((layer.name, None))
    return found


def model_input_rule(keras_model, input_name: str) -> InputRule | str:
    """The input type of ``input_name`` from its first quantizer(s), or the reason there is none."""
    consumers = first_quantizers(keras_model, input_name)
    if not consumers:
        return f"input '{input_name}' feeds no layer"
    rules = []
    for layer, quantizer in consumers:
        if quantizer is None:
            cls = type(keras_model.get_layer(layer)).__name__
            return f"input '{input_name}' reaches layer '{layer}' ({cls}) without an input quantizer"
        rule = quantizer_rule(quantizer, layer)
        if isinstance(rule, str):
            return f"the first quantizer of input '{input_name}', in layer '{layer}': {rule}"
        rules.append(rule)
    first = rules[0]
    for other in rules[1:]:
        if other.hls() != first.hls():
            return f"input '{input_name}' feeds quantizers of different types ({first.source}, {other.source})"
    return first


def raw_inputs(width: int, integer: int, signed: bool, shape, n: int, seed: int = 0) -> np.ndarray:
    """``n`` raw float32 samples that exercise a ``<width, integer>`` input type's conversion.

    Four kinds, interleaved: uniform over the range and a quarter of it beyond each edge
    (saturation), Gaussian around the middle, exact rounding midpoints ``(k + 1/2) 2**-F``, and
    grid points ``k 2**-F`` (which hold every LQ midpoint of a derived LQ input type).
    """
    rng = np.random.default_rng(seed)
    step = 2.0 ** -(width - integer)
    lo = -(2.0 ** (integer - 1)) if signed else 0.0
    hi = -lo if signed else 2.0**integer
    span = hi - lo
    size = (n, *[int(d) for d in shape])
    kinds = rng.integers(0, 4, size=size)
    uniform = rng.uniform(lo - span / 4, hi + span / 4, size)
    gauss = rng.normal((lo + hi) / 2, span / 4, size)
    k = np.floor(rng.uniform(lo, hi, size) / step)
    x = np.choose(kinds, [uniform, gauss, (k + 0.5) * step, k * step])
    return x.astype(np.float32)


@dataclass(frozen=True)
class RawFloatComparison:
    rule: InputRule
    x: np.ndarray  # raw float32 inputs
    expected: np.ndarray  # Keras
    got: np.ndarray  # C-simulation, in Keras' shape

    @property
    def samples_equal(self) -> int:
        return int(np.sum(np.all((self.got == self.expected).reshape(len(self.x), -1), axis=1)))


def compare_raw_floats(model, hls_model, n: int, seed: int = 0) -> RawFloatComparison | None:
    """Keras vs C-simulation on :func:`raw_inputs` for ``model``'s input type; None when the input has
    no quantizer (then only inputs on a grid can be exact)."""
    rule = model_input_rule(model, model.input_names[0])
    if not isinstance(rule, InputRule):
        return None
    x = raw_inputs(rule.width, rule.integer, rule.signed, model.input_shape[1:], n, seed)
    expected = model.predict(x, verbose=0)
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x.reshape(n, -1)))).reshape(expected.shape)
    return RawFloatComparison(rule, x, expected, got)
