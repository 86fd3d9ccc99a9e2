"""The real scale of a row-quantized layer: one constant multiplication per output, after the accumulator.

A fixed-point row with a real scale (``quantized_symmetric(scale='real')``) is
``W[:, j] = k[:, j] * c_j * 2**shift_j`` (:func:`flow.hls.encode.encode_dense`). The MSQ kernel
computes the row without ``c_j``: ``bits``-bit mantissas ``k`` on the DSPs, the power of two as a
shift after the accumulator, no bias. :func:`insert_row_scale` then puts hls4ml's own ``ApplyAlpha``
layer (``nnet::normalize``: ``y_j = acc_j * c_j + b_j``, the layer QKeras' ``alpha`` scales use) right
after it, with exact types: ``c`` as ``ap_uint`` constants, the bias in its exact type and a result
type that holds every ``acc_j * c_j + b_j`` without rounding, so C-simulation stays bit-exact. In
hardware that is ``n_out`` constant multiplications (LUTs or DSPs, as HLS binds a multiply by a
constant) per input, against ``n_in * n_out`` mantissa products in the kernel.
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.layers import ApplyAlpha

from flow.hls.encode import DenseEncoding, FixedSpec, exact_spec, signed_integer_bits

#: Suffix of the scale layer's name: ``<layer>_scale``.
SUFFIX = "_scale"


def row_bounds(enc: DenseEncoding, xmax: float) -> np.ndarray:
    """Per output, an upper bound of ``|x @ W[:, j]|`` without the multiplier (``|x| <= xmax``)."""
    bound = np.zeros(enc.n_out)
    bound[enc.fix_rows] = np.sum(np.abs(enc.fix_weights), axis=1) * np.exp2(enc.shift[enc.fix_rows])
    bound[enc.sp2_rows] = np.sum(enc.sp2_mags, axis=1) * np.exp2(enc.shift[enc.sp2_rows])
    return bound * xmax


def scale_types(enc: DenseEncoding, multiplier: np.ndarray, data: FixedSpec, acc: FixedSpec, bias: np.ndarray):
    """``(scale width, bias spec, result spec)`` of the scale layer after a kernel with input ``data``
    and exact output ``acc`` (the kernel's result type)."""
    multiplier = np.asarray(multiplier, np.int64)
    bias_spec = exact_spec(bias, "row-scale bias")
    bound = float(np.max(row_bounds(enc, data.max_abs()) * multiplier + np.abs(bias), initial=0.0))
    frac = max(acc.fractional, bias_spec.fractional, 0)
    integer = signed_integer_bits(bound)
    return int(np.max(multiplier)).bit_length(), bias_spec, FixedSpec(integer + frac, integer)


def insert_row_scale(model, node, multiplier: np.ndarray, bias: np.ndarray):
    """Insert ``<node>_scale`` (``ApplyAlpha``: ``y = acc * multiplier + bias`` per output) after the
    MSQ node ``node``, which must have been created without its bias. Returns the new node."""
    from flow.hls.layers import FLOAT32_MANTISSA, precision_spec

    enc: DenseEncoding = node.get_attr("encoding")
    acc = node.get_attr("msq_types").result
    data = precision_spec(node.get_input_variable().type.precision, f"layer '{node.name}'")
    bias = np.asarray(bias, np.float64).reshape(-1)
    width, bias_spec, result = scale_types(enc, multiplier, data, acc, bias)
    name = node.name + SUFFIX
    if name in model.graph:
        raise ValueError(f"layer '{node.name}': its real scale needs a node '{name}', but the model has a layer of that name")
    precision = {
        "result": result.cpp().removeprefix("ap_"), "scale": f"uint<{width}>", "bias": bias_spec.cpp().removeprefix("ap_")
    }
    reuse = int(min(int(node.get_attr("row_reuse_factor", 1)), enc.n_out))
    layer_cfg = {"Precision": precision, "ReuseFactor": reuse}
    model.config.set_name_config(name, layer_cfg)
    model.config.parse_name_config(name, layer_cfg)
    if result.width > FLOAT32_MANTISSA:
        import warnings

        warnings.warn(
            f"layer '{node.name}': with its real scale, exact outputs need {result.width} bits; Keras computes this "
            f"layer in float32 ({FLOAT32_MANTISSA}-bit mantissa), so Keras may round where the C++ does not (fewer "
            "scale_bits, or scale='po2', keep it exact)",
            stacklevel=3,
        )
    attrs = {
        "n_in": int(np.prod(node.get_output_variable().shape)),
        "n_filt": enc.n_out,
        "reuse_factor": reuse,
        "scale_data": np.asarray(multiplier, np.float64),
        "scale_quantizer": None,
        "bias_data": bias,
        "bias_quantizer": None,
        "trace": node.get_attr("trace", False),
    }
    scale = model.make_node(ApplyAlpha, name, attrs, node.outputs.copy())
    model.insert_node(scale)
    return scale
