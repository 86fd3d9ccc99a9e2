"""Pass: name every layer that fell back to hls4ml's default precision (once per conversion).

hls4ml types whatever it cannot infer (a plain Dense's float weights, a sigmoid's result, an
unquantized ReLU) with the model's default ``fixed<16,6>``: an approximation the user never asked
for, so C-simulation cannot equal Keras there. Through the plain hls4ml API backend 'MSQ' keeps
that behaviour but says so; ``flow.convert`` refuses such models unless ``allow_approximate``.

Contract (last pass of ``msq:row_kernels``, after precision inference):
    match:     the model's first node, once.
    transform: collect ``flow_default_types`` (set by ``infer_exact_precision_types``) of the nodes
               still in the graph whose type still is the default, store them as
               ``model.flow_approximations`` ({layer: {type: precision}}), and warn with
               :class:`DefaultPrecisionWarning` listing them (no warning when there are none).
"""

from __future__ import annotations

import warnings

from hls4ml.model.layers import Input
from hls4ml.model.optimizer import OptimizerPass


class DefaultPrecisionWarning(UserWarning):
    """Layers of a converted model computed in hls4ml's default precision (not exact)."""


def default_precision_layers(model) -> dict[str, dict[str, str]]:
    """``{layer: {type name: precision}}`` of the types still at the model's default precision."""
    default = str(model.config.backend.convert_precision_string(model.config.model_precision["default"]))
    named_layers = {key.rsplit("_", 1)[0] for key in model.config.layer_name_precision}
    found: dict[str, dict[str, str]] = {}
    for node in model.graph.values():
        if isinstance(node, Input):
            continue  # the input type has its own rule and warning (derive_input_precision)
        # granularity='model' (or no hls_config): nothing is 'auto', every unset type simply is the default
        candidates = node.types if node.name.lower() not in named_layers else node.get_attr("flow_default_types", [])
        for type_name in candidates:
            named = node.types.get(type_name)
            if named is not None and str(named.precision) == default:
                found.setdefault(node.name, {})[type_name] = str(named.precision)
    return found


def describe(found: dict[str, dict[str, str]]) -> str:
    return "; ".join(f"'{layer}' ({', '.join(f'{t}={p}' for t, p in types.items())})" for layer, types in found.items())


class WarnDefaultPrecision(OptimizerPass):
    def match(self, node):
        return node is next(iter(node.model.graph.values())) and not hasattr(node.model, "flow_approximations")

    def transform(self, model, node):
        found = default_precision_layers(model)
        model.flow_approximations = found
        if found:
            warnings.warn(
                f"{len(found)} layer(s) fell back to hls4ml's default precision, so C-simulation will not equal Keras "
                f"there: {describe(found)}. Quantize them (QKeras quantizers), keep them off the accelerator in a "
                "float head (flow.head.split), or set their precision in the hls config",
                DefaultPrecisionWarning,
                stacklevel=2,
            )
        return False
