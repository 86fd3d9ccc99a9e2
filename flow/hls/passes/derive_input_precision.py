"""Pass: the input type is the model's first quantizer, so raw floats are quantized once, like Keras.

hls4ml 1.3.0 gives an input with no precision its default ``fixed<16,6,TRN,WRAP>``: raw floats
are truncated to that grid, then the model's input quantizer rounds again (double rounding), and
C-simulation differs from Keras on about 40 % of uniform inputs. See :mod:`flow.hls.input_rule`.

Contract (first pass of ``msq:convert``; reads the Keras model hls4ml was given):
    match:     an ``Input`` node not yet handled.
    transform: precision 'auto' or the model default -> the first quantizer's exact type (rounding and saturation
               included); no exact type (no input quantizer, or one without a fixed-point form) ->
               :class:`InputPrecisionWarning` naming the type raw floats will be truncated to
               (an error under ``Model: StrictInput: True``); a precision given by hand that is
               coarser than the quantizer needs -> error naming both; the same grid -> the
               quantizer's rounding and saturation; a finer grid -> kept, with a warning that raw
               floats are rounded twice.
"""

from __future__ import annotations

import warnings

from hls4ml.model.layers import Input
from hls4ml.model.optimizer import OptimizerPass
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType, UnspecifiedPrecisionType

from flow.hls.input_rule import InputRule, covers, model_input_rule

HOW_TO_SET = (
    "add QActivation(quantized_bits(bits, integer, alpha=1)) after the input, or set the input type "
    "(ConvertConfig(input_precision=...), --input-precision, or hls_config['LayerName'][{name!r}]['Precision'])"
)


class InputPrecisionWarning(UserWarning):
    """Raw float inputs will not be quantized exactly like Keras."""


def _precision(rule: InputRule) -> FixedPrecisionType:
    return FixedPrecisionType(
        rule.width, rule.integer, rule.signed, rounding_mode=rule.rounding, saturation_mode=rule.saturation
    )


def _given(model, node) -> bool:
    """Whether the input's precision was set for it (by name or for all Input layers), not the model default."""
    config = model.config
    keys = [(config.layer_name_precision, f"{node.name.lower()}_{var}") for var in ("result", "default")]
    keys += [(config.layer_type_precision, f"input_{var}") for var in ("result", "default")]
    return any(str(table.get(key, "auto")).lower() != "auto" for table, key in keys)


def _keras_input_name(model, node, keras_model) -> str:
    """The Keras name of hls4ml's input ``node`` (hls4ml names an unnamed Sequential input 'input1')."""
    names = list(getattr(keras_model, "input_names", []))
    if node.name in names or node.name not in model.inputs:
        return node.name
    index = model.inputs.index(node.name)
    return names[index] if index < len(names) else node.name


def _strict(model) -> bool:
    return bool(model.config.config.get("HLSConfig", {}).get("Model", {}).get("StrictInput", False))


def _modes(precision) -> tuple[str, str]:
    rounding = getattr(precision, "rounding_mode", None)
    saturation = getattr(precision, "saturation_mode", None)
    return (rounding.name if rounding is not None else "TRN", saturation.name if saturation is not None else "WRAP")


class DeriveInputPrecision(OptimizerPass):
    def match(self, node):
        return isinstance(node, Input) and not node.get_attr("flow_input_rule_done", False)

    def transform(self, model, node):
        node.set_attr("flow_input_rule_done", True)
        keras_model = model.config.config.get("KerasModel")
        if keras_model is None or isinstance(keras_model, str) or not hasattr(keras_model, "layers"):
            rule = "the converter was not given a Keras model object"
        else:
            try:
                rule = model_input_rule(keras_model, _keras_input_name(model, node, keras_model))
            except AttributeError as exc:  # a subclassed or unbuilt model has no layer graph to walk
                rule = f"the input's first quantizer cannot be found ({exc})"
        variable = node.get_output_variable()
        current = variable.type.precision
        if isinstance(current, UnspecifiedPrecisionType) or not _given(model, node):  # 'auto' or the model default
            if isinstance(rule, str):
                self._no_rule(model, node, rule)
                return False
            variable.type.precision = _precision(rule)
            return False
        if isinstance(rule, str):
            return False  # set by hand and nothing to check it against: the user's contract
        self._check_given(node, current, rule)
        return False

    def _no_rule(self, model, node, reason: str) -> None:
        default = model.config.model_precision.get("default", "fixed<16,6>")
        message = (
            f"{reason}: raw float inputs will be truncated to hls4ml's default {default} (TRN, WRAP), so "
            f"C-simulation equals Keras only on inputs already on that grid. To quantize raw floats exactly, "
            + HOW_TO_SET.format(name=node.name)
        )
        if _strict(model):
            raise ValueError(message)
        warnings.warn(message, InputPrecisionWarning, stacklevel=2)

    def _check_given(self, node, current, rule: InputRule) -> None:
        if not isinstance(current, (FixedPrecisionType, IntegerPrecisionType)):
            return
        integer = current.width if isinstance(current, IntegerPrecisionType) else current.integer
        given = f"{'fixed' if current.signed else 'ufixed'}<{current.width},{integer}>"
        if not covers(rule, current.width, integer, current.signed):
            raise ValueError(
                f"input '{node.name}': the given input precision {given} is coarser than {rule.source} needs "
                f"({rule.hls()}); raw floats would lose levels. Omit the input precision (it is derived) or use "
                f"{rule.hls()}"
            )
        if (current.width, integer, bool(current.signed)) == (rule.width, rule.integer, rule.signed):
            node.get_output_variable().type.precision = _precision(rule)
            return
        if rule.rounding == "TRN" and _modes(current) == ("TRN", "SAT"):
            return  # floor to a finer grid that holds every midpoint keeps every comparison
        warnings.warn(
            f"input '{node.name}': the given input precision {given} is finer than {rule.source} needs "
            f"({rule.hls()}): raw floats are rounded to {given} first and then by the quantizer, so C-simulation "
            f"equals Keras only on inputs on the {given} grid; omit the input precision to quantize raw floats "
            "exactly",
            InputPrecisionWarning,
            stacklevel=2,
        )
