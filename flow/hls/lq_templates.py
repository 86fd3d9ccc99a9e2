"""Config-struct and call templates of the LQ layers: Python writes only these strings, the kernels
are the headers ``flow/hls_templates/nnet_utils/nnet_lq_{dense,conv,activation}.h``."""

from __future__ import annotations

import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

from flow.hls.encode import exact_spec
from flow.hls.lq_encode import LQInput, LQKernel, LQTypes
from flow.hls.lq_layers import LQActivation, LQConv1D, LQConv2D, LQDense
from flow.hls.templates import conv_config

DENSE_HEADER = "nnet_utils/nnet_lq_dense.h"
CONV_HEADER = "nnet_utils/nnet_lq_conv.h"
ACTIVATION_HEADER = "nnet_utils/nnet_lq_activation.h"

PLANES_TEMPLATE = """struct {name} : nnet::lq_dense_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned kx = {kx};
    static const unsigned kw = {kw};
    // Lanes fold rows: lane l computes row l * reuse_factor + cycle (flow/hls/lq_microarch.py).
    static const unsigned reuse_factor = {reuse_factor};
    static const unsigned lanes = {lanes};
    static const unsigned seg_inputs = {seg_inputs};
    static const unsigned segments = {segments};
    static const unsigned code_words = {code_words};
    static const unsigned basis_words = {basis_words};
    // Code ROM (Resource): {rom_width} bits x {rom_depth} words.
    static const unsigned rom_width = {rom_width};
    static const unsigned rom_depth = {rom_depth};
    static const bool lq_input = {lq_input};
    static const bool offset_plane = {offset_plane};
    static const unsigned n_levels = {n_levels};
    static const unsigned n_mid_alloc = {n_mid_alloc};
    static const int out_exponent = {out_exponent};
    typedef {weight_t} weight_t;
    typedef {basis_t} basis_t;
    typedef {bias_t} bias_t;
    typedef {count_t} count_t;
    typedef {inner_t} inner_t;
    typedef {accum_t} accum_t;
    typedef {scaled_t} scaled_t;
    typedef {mid_t} mid_t;
    // Input planes: x = 2^({in_exp}) * sum_p mx_p e_p ({offset_comment}).
    static int in_mantissa(unsigned p) {{
        static const int table[kx] = {{{in_mantissa}}};
        return table[p];
    }}
    static mid_t midpoint(unsigned l) {{
        static const mid_t table[n_mid_alloc] = {{{midpoints}}};
        return table[l];
    }}
    static unsigned level_code(unsigned l) {{
        static const unsigned table[n_levels] = {{{level_codes}}};
        return table[l];
    }}
}};
"""

ACTIVATION_TEMPLATE = """struct config{index} : nnet::lq_activation_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_levels = {n_levels};
    typedef {mid_t} mid_t;
    typedef {level_t} level_t;
    static mid_t midpoint(unsigned l) {{
        static const mid_t table[n_levels - 1] = {{{midpoints}}};
        return table[l];
    }}
    static level_t level(unsigned l) {{
        static const level_t table[n_levels] = {{{levels}}};
        return table[l];
    }}
}};
"""

LAYER_CALL = "nnet::{kernel}_{strategy}<{input_t}, {output_t}, {config}>({input}, {output}, {wc}, {aw}, {b});"
ACTIVATION_CALL = "nnet::lq_activation<{input_t}, {output_t}, {config}>({input}, {output});"


def _ints(values) -> str:
    values = [int(v) for v in np.ravel(values)]
    return ", ".join(str(v) for v in values) if values else "0"


def _exact(values) -> str:
    """Decimal literals that are exact binary fractions (repr of a float64 round-trips)."""
    values = [float(v) for v in np.ravel(values)]
    return ", ".join(repr(v) for v in values) if values else "0"


def planes_config(node, name: str) -> str:
    """The ``lq_dense_config`` struct of a layer's bit-plane rows."""
    kernel: LQKernel = node.get_attr("lq_kernel")
    inp: LQInput = node.get_attr("lq_input")
    types: LQTypes = node.get_attr("lq_types")
    n_levels = len(inp.level_codes) if inp.is_lq else 2
    params = {
        "name": name,
        "n_in": kernel.n_in,
        "n_out": kernel.n_out,
        "kx": inp.kx,
        "kw": kernel.kw,
        **node.microarch().config_values(),
        "lq_input": "true" if inp.is_lq else "false",
        "offset_plane": "true" if inp.offset_plane else "false",
        "offset_comment": "the offset plane last" if inp.offset_plane else "offset folded into the bias",
        "n_levels": n_levels,
        "n_mid_alloc": max(1, n_levels - 1),
        "out_exponent": types.scales.exponent,
        "weight_t": node.get_weights("wc").type.name,
        "basis_t": node.get_weights("aw").type.name,
        "bias_t": node.get_weights("bias").type.name,
        "count_t": types.count,
        "inner_t": types.inner,
        "accum_t": types.accum,
        "scaled_t": types.scaled.cpp(),
        "mid_t": types.midpoint.cpp() if types.midpoint else "ap_fixed<2,2>",
        "in_exp": inp.exponent,
        "in_mantissa": _ints(inp.mantissa),
        "midpoints": _exact(inp.midpoints) if inp.is_lq else "0",
        "level_codes": _ints(inp.level_codes) if inp.is_lq else "0, 1",
    }
    return PLANES_TEMPLATE.format(**params)


def _call(template: FunctionCallTemplate, node, kernel: str) -> str:
    params = template._default_function_params(node)
    params["kernel"] = kernel
    params["strategy"] = str(node.get_attr("strategy")).lower()
    params["wc"] = node.get_weights("wc").name
    params["aw"] = node.get_weights("aw").name
    params["b"] = node.get_weights("bias").name
    return LAYER_CALL.format(**params)


class LQDenseConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(LQDense)

    def format(self, node):
        return planes_config(node, f"config{node.index}")


class LQDenseFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(LQDense, include_header=[DENSE_HEADER])

    def format(self, node):
        return _call(self, node, "lq_dense")


class LQConvConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__((LQConv1D, LQConv2D))

    def format(self, node):
        return planes_config(node, f"config{node.index}_mult") + "\n" + conv_config(node, "lq_conv_config")


class LQConvFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__((LQConv1D, LQConv2D), include_header=[CONV_HEADER])

    def format(self, node):
        return _call(self, node, "lq_conv")


class LQActivationConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(LQActivation)

    def format(self, node):
        levels = node.levels()
        mids = levels.midpoints
        return ACTIVATION_TEMPLATE.format(
            index=node.index,
            n_in=node.get_attr("n_in"),
            n_levels=len(levels.level_values),
            mid_t=exact_spec(mids, f"layer '{node.name}' midpoints").cpp(),
            level_t=node.get_output_variable().type.precision.definition_cpp(),
            midpoints=_exact(mids),
            levels=_exact(levels.level_values),
        )


class LQActivationFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(LQActivation, include_header=[ACTIVATION_HEADER])

    def format(self, node):
        return ACTIVATION_CALL.format(**self._default_function_params(node))


LQ_TEMPLATES = (
    LQDenseConfigTemplate,
    LQDenseFunctionTemplate,
    LQConvConfigTemplate,
    LQConvFunctionTemplate,
    LQActivationConfigTemplate,
    LQActivationFunctionTemplate,
)
