"""Config-struct and call templates of the MSQ layers: Python writes only these strings, the
kernels are the headers ``flow/hls_templates/nnet_utils/nnet_msq_{dense,conv}.h``."""

from __future__ import annotations

from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

from flow.hls.encode import DenseEncoding, DenseTypes
from flow.hls.layers import MSQConv1D, MSQConv2D, MSQDense

DENSE_HEADER = "nnet_utils/nnet_msq_dense.h"
CONV_HEADER = "nnet_utils/nnet_msq_conv.h"

ROWS_TEMPLATE = """struct {name} : nnet::msq_dense_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned n_fix = {n_fix};
    static const unsigned n_sp2 = {n_sp2};
    static const unsigned n_fix_alloc = {n_fix_alloc};
    static const unsigned n_sp2_alloc = {n_sp2_alloc};
    static const unsigned reuse_factor = {reuse_factor};
    static const unsigned chunks = {chunks};
    static const unsigned last_chunk = {last_chunk};
    static const unsigned rows_per_lane = {rows_per_lane};
    static const bool rom_lutram = {rom_lutram};
    static const unsigned fix_lanes = {fix_lanes};
    static const unsigned sp2_lanes = {sp2_lanes};
    static const unsigned fix_lanes_alloc = {fix_lanes_alloc};
    static const unsigned sp2_lanes_alloc = {sp2_lanes_alloc};
    static const unsigned fix_parts_alloc = {fix_parts_alloc};
    static const unsigned sp2_parts_alloc = {sp2_parts_alloc};
    static const bool dsp_packed = {dsp_packed};
    static const unsigned fix_pairs = {fix_pairs};
    static const unsigned fix_dsps = {fix_dsps};
    static const unsigned fix_dsps_alloc = {fix_dsps_alloc};
    static const unsigned pack_shift = {pack_shift};
    static const unsigned pack_terms = {pack_terms};
    static const bool pack_in_dsp = {pack_in_dsp};
    static const unsigned fix_weight_bits = {fix_weight_bits};
    static const unsigned data_width = {data_width};
    static const bool data_signed = {data_signed};
    static const int data_frac = {data_frac};
    static const unsigned m1 = {m1};
    static const unsigned m2 = {m2};
    typedef {fix_weight_t} fix_weight_t;
    typedef {sp2_weight_t} sp2_weight_t;
    typedef {bias_t} bias_t;
    typedef {fix_prod_t} fix_prod_t;
    typedef {fix_accum_t} fix_accum_t;
    typedef {sp2_data_t} sp2_data_t;
    typedef {sp2_term_t} sp2_term_t;
    typedef {sp2_accum_t} sp2_accum_t;
    typedef {out_accum_t} out_accum_t;
    // Rows on DSP (fixed point): {fix_rows_comment}
    static unsigned fix_row(unsigned r) {{
        static const unsigned table[n_fix_alloc] = {{{fix_rows}}};
        return table[r];
    }}
    // Rows on LUT (SP2): {sp2_rows_comment}
    static unsigned sp2_row(unsigned r) {{
        static const unsigned table[n_sp2_alloc] = {{{sp2_rows}}};
        return table[r];
    }}
    static int row_shift(unsigned j) {{
        static const int table[n_out] = {{{shifts}}};
        return table[j];
    }}
}};
"""

CONV_TEMPLATE = """struct config{index} : nnet::{base} {{
    static const unsigned in_height = {in_height};
    static const unsigned in_width = {in_width};
    static const unsigned n_chan = {n_chan};
    static const unsigned filt_height = {filt_height};
    static const unsigned filt_width = {filt_width};
    static const unsigned n_filt = {n_filt};
    static const unsigned stride_height = {stride_height};
    static const unsigned stride_width = {stride_width};
    static const unsigned pad_top = {pad_top};
    static const unsigned pad_bottom = {pad_bottom};
    static const unsigned pad_left = {pad_left};
    static const unsigned pad_right = {pad_right};
    static const int line_storage = {line_storage};
    static const unsigned out_height = {out_height};
    static const unsigned out_width = {out_width};
    typedef config{index}_mult mult_config;
}};
"""

DENSE_CALL = "nnet::msq_dense_{strategy}<{input_t}, {output_t}, {config}>({input}, {output}, {wf}, {ws}, {b});"
CONV_CALL = "nnet::msq_conv_{strategy}<{input_t}, {output_t}, {config}>({input}, {output}, {wf}, {ws}, {b});"


def _ints(values) -> str:
    values = [int(v) for v in values]
    return ", ".join(str(v) for v in values) if values else "0"


def rows_config(node, name: str) -> str:
    """The ``msq_dense_config`` struct of a layer's row kernel."""
    enc: DenseEncoding = node.get_attr("encoding")
    types: DenseTypes = node.get_attr("msq_types")
    n_in, n_fix, n_sp2 = enc.n_in, len(enc.fix_rows), len(enc.sp2_rows)
    params = {
        "name": name,
        "n_in": n_in,
        "n_out": enc.n_out,
        "n_fix": n_fix,
        "n_sp2": n_sp2,
        "n_fix_alloc": max(1, n_fix),
        "n_sp2_alloc": max(1, n_sp2),
        **{k: (str(v).lower() if isinstance(v, bool) else v) for k, v in node.microarch().config_values().items()},
        "m1": enc.m1,
        "m2": enc.m2,
        "fix_weight_t": node.get_weights("wf").type.name,
        "sp2_weight_t": node.get_weights("ws").type.name,
        "bias_t": node.get_weights("bias").type.name,
        "fix_rows": _ints(enc.fix_rows),
        "sp2_rows": _ints(enc.sp2_rows),
        "fix_rows_comment": _ints(enc.fix_rows) if n_fix else "none",
        "sp2_rows_comment": _ints(enc.sp2_rows) if n_sp2 else "none",
        "shifts": _ints(enc.shift),
        "data_frac": node.data_spec().fractional,
    }
    for typename in ("fix_prod", "fix_accum", "sp2_data", "sp2_term", "sp2_accum", "out_accum"):
        params[f"{typename}_t"] = getattr(types, typename).cpp()
    return ROWS_TEMPLATE.format(**params)


def _call_params(template: FunctionCallTemplate, node) -> dict:
    params = template._default_function_params(node)
    params["strategy"] = str(node.get_attr("strategy")).lower()
    params["wf"] = node.get_weights("wf").name
    params["ws"] = node.get_weights("ws").name
    params["b"] = node.get_weights("bias").name
    return params


class MSQDenseConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(MSQDense)

    def format(self, node):
        return rows_config(node, f"config{node.index}")


class MSQDenseFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(MSQDense, include_header=[DENSE_HEADER])

    def format(self, node):
        return DENSE_CALL.format(**_call_params(self, node))


def conv_config(node, base: str) -> str:
    """The geometry struct ``config<index>`` of a Conv1D/Conv2D node (Conv1D: height 1), derived from ``base``."""
    geometry = {
        "index": node.index,
        "base": base,
        "in_height": node.get_attr("in_height", 1),
        "filt_height": node.get_attr("filt_height", 1),
        "stride_height": node.get_attr("stride_height", 1),
        "pad_top": node.get_attr("pad_top", 0),
        "pad_bottom": node.get_attr("pad_bottom", 0),
        "out_height": node.get_attr("out_height", 1),
    }
    geometry["line_storage"] = node.conv_scan().line_storage
    for name in ("in_width", "n_chan", "filt_width", "n_filt", "stride_width", "pad_left", "pad_right", "out_width"):
        geometry[name] = node.get_attr(name)
    return CONV_TEMPLATE.format(**geometry)


class MSQConvConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__((MSQConv1D, MSQConv2D))

    def format(self, node):
        return rows_config(node, f"config{node.index}_mult") + "\n" + conv_config(node, "msq_conv_config")


class MSQConvFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__((MSQConv1D, MSQConv2D), include_header=[CONV_HEADER])

    def format(self, node):
        return CONV_CALL.format(**_call_params(self, node))


TEMPLATES = (MSQDenseConfigTemplate, MSQDenseFunctionTemplate, MSQConvConfigTemplate, MSQConvFunctionTemplate)
