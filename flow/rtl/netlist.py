"""The RTL view of a converted model: a chain of stages read from the hls4ml ModelGraph after the MSQ
backend's passes, so the Verilog uses the same exact types (``msq_types``), the same row encoding and
the same lanes / reuse factor / ROM layout (:class:`flow.hls.microarch.RowKernel`) as the HLS kernels.

Supported now: the input, MSQ/SP2/fixed Dense (``MSQDense``), MSQ/SP2/fixed Conv1D/Conv2D
(``MSQConv1D``/``MSQConv2D``: the Dense datapath on the window of a pixel scan, :mod:`flow.rtl.conv`),
max/average pooling (``Pooling1D``/``Pooling2D``, hls4ml's ``pooling*d_cl``: :mod:`flow.rtl.pool`),
quantized ReLU and linear activations (``Activation`` with a fixed-point result: QKeras' rounding and
saturation), and shape-only layers (Flatten/Reshape: channels-last frames are already in Keras' flatten
order, ``(h, w, c)``). Anything else is refused, naming the layer and its class.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from flow.hls.encode import DenseEncoding, DenseTypes, FixedSpec, exact_spec
from flow.hls.microarch import ConvScan, RowKernel

#: ``ap_fixed`` rounding modes the cast stage implements (hls4ml's names)
ROUNDINGS = ("TRN", "RND", "RND_CONV", "RND_ZERO")
#: ``ap_fixed`` saturation modes the cast stage implements
SATURATIONS = ("WRAP", "SAT", "SAT_SYM")
#: activations a cast stage implements
ACTIVATIONS = ("relu", "linear")
#: hls4ml layers that only reshape (no hardware)
SHAPE_ONLY = ("Flatten", "Reshape")
SUPPORTED = ("Input, MSQDense, MSQConv1D/MSQConv2D, Pooling1D/Pooling2D (max/average), Activation (relu/linear), "
             "Flatten/Reshape")
#: pooling operations the pool stage implements (hls4ml's ``pool_op``)
POOL_OPS = ("Max", "Average")


@dataclass(frozen=True)
class Port:
    """A model input or output as the AXI stream carries it (the manifest's type dictionary)."""

    spec: FixedSpec
    count: int
    rounding: str = "TRN"
    saturation: str = "WRAP"

    def type_dict(self) -> dict:
        return {"width": self.spec.width, "integer": self.spec.integer, "signed": self.spec.signed,
                "rounding": self.rounding, "saturation": self.saturation}


@dataclass(frozen=True)
class DenseStage:
    """One MSQ Dense layer (see ``nnet_msq_dense.h``)."""

    name: str
    in_spec: FixedSpec
    enc: DenseEncoding
    types: DenseTypes
    kernel: RowKernel
    bias_codes: np.ndarray  # (n_out,) integer codes of bias_spec
    bias_spec: FixedSpec

    @property
    def n_in(self) -> int:
        return self.kernel.n_in

    @property
    def n_out(self) -> int:
        return self.kernel.n_out

    @property
    def out_spec(self) -> FixedSpec:
        return self.types.result


@dataclass(frozen=True)
class CastStage:
    """A quantized activation: ReLU (or identity) then an ``ap_fixed`` cast with rounding/saturation."""

    name: str
    activation: str
    n: int
    in_spec: FixedSpec
    out_spec: FixedSpec
    rounding: str
    saturation: str

    @property
    def n_in(self) -> int:
        return self.n

    @property
    def n_out(self) -> int:
        return self.n


@dataclass(frozen=True)
class ConvStage:
    """One MSQ convolution (``nnet_msq_conv.h``): the padded frame scanned pixel by pixel through a line buffer;
    every padded position runs one pass of ``dense`` (the same row kernel, ``n_in = fh * fw * n_chan``) on the
    window. Conv1D is the case ``in_height = filt_height = out_height = 1``."""

    name: str
    dense: DenseStage
    scan: ConvScan
    stride_height: int
    stride_width: int
    out_height: int
    out_width: int

    # no ``kernel`` attribute on purpose: code that costs stages with a kernel as Dense layers
    # (``flow.resources.estimate.estimate_design``) must not take a convolution for one; read ``dense.kernel``

    @property
    def in_spec(self) -> FixedSpec:
        return self.dense.in_spec

    @property
    def out_spec(self) -> FixedSpec:
        return self.dense.out_spec

    @property
    def n_filt(self) -> int:
        return self.dense.n_out

    @property
    def n_in(self) -> int:
        return self.scan.frame_values

    @property
    def n_out(self) -> int:
        return self.out_height * self.out_width * self.n_filt

    @property
    def padded_height(self) -> int:
        return self.scan.in_height + self.scan.pad_top + self.scan.pad_bottom

    @property
    def padded_width(self) -> int:
        return self.scan.in_width + self.scan.pad_left + self.scan.pad_right


@dataclass(frozen=True)
class PoolStage:
    """Max or average pooling of a channels-last frame as hls4ml's ``pooling2d_cl`` / ``pooling1d_cl``
    (io_parallel): padded positions hold ``pad_val`` (the data type's MSB set for max, 0 for average), the
    average divides the sum (in ``accum_spec``) by the inside positions (``count_pad`` False) or by the pool
    size, truncating toward zero; the value is cast to ``accum_t`` and then to the result type."""

    name: str
    op: str
    in_height: int
    in_width: int
    n_filt: int
    pool_height: int
    pool_width: int
    stride_height: int
    stride_width: int
    pad_top: int
    pad_left: int
    out_height: int
    out_width: int
    count_pad: bool
    in_spec: FixedSpec
    accum_spec: FixedSpec
    accum_modes: tuple
    out_spec: FixedSpec
    out_modes: tuple

    @property
    def n_in(self) -> int:
        return self.in_height * self.in_width * self.n_filt

    @property
    def n_out(self) -> int:
        return self.out_height * self.out_width * self.n_filt


@dataclass(frozen=True)
class Netlist:
    """The chain of stages between the input and the output port."""

    name: str
    inp: Port
    stages: tuple
    out: Port


def modes(precision) -> tuple[str, str]:
    """(rounding, saturation) names of an hls4ml precision (TRN/WRAP when unset)."""
    rounding, saturation = getattr(precision, "rounding_mode", None), getattr(precision, "saturation_mode", None)
    return (rounding.name if rounding is not None else "TRN", saturation.name if saturation is not None else "WRAP")


def _spec(var, where: str) -> FixedSpec:
    from flow.hls.layers import precision_spec

    return precision_spec(var.type.precision, where)


def _values(var) -> int:
    return int(np.prod(var.shape))


def dense_stage(layer) -> DenseStage:
    enc: DenseEncoding = layer.get_attr("encoding")
    bias = np.asarray(layer.get_attr("bias_values"), dtype=np.float64)
    bias_spec = exact_spec(bias, f"layer '{layer.name}' bias")
    codes = np.round(np.ldexp(bias, bias_spec.fractional)).astype(np.int64)
    return DenseStage(layer.name, _spec(layer.get_input_variable(), f"layer '{layer.name}'"), enc,
                      layer.get_attr("msq_types"), layer.microarch(), codes, bias_spec)


def check_cast(where: str, precision, in_spec: FixedSpec, out_spec: FixedSpec) -> tuple[str, str]:
    """(rounding, saturation) of a cast into ``precision`` that the RTL cast implements; a clear error otherwise."""
    rounding, saturation = modes(precision)
    if rounding not in ROUNDINGS or saturation not in SATURATIONS:
        raise ValueError(f"{where}: type {precision} uses {rounding}/{saturation}; the RTL cast "
                         f"implements roundings {ROUNDINGS} and saturations {SATURATIONS}")
    if int(getattr(precision, "saturation_bits", 0) or 0):
        raise ValueError(f"{where}: type {precision} has saturation bits; the RTL cast implements "
                         "ap_fixed<W, I, Q, O> with N = 0 only")
    if in_spec.fractional - out_spec.fractional >= in_spec.as_signed().width:
        raise ValueError(f"{where}: the cast {in_spec.cpp()} -> {out_spec.cpp()} drops every input bit; the RTL cast "
                         "does not implement it (give the type more fractional bits)")
    return rounding, saturation


def cast_stage(layer) -> CastStage:
    act = str(layer.get_attr("activation")).lower()
    where = f"layer '{layer.name}'"
    if act not in ACTIVATIONS:
        raise ValueError(f"{where}: activation '{act}' has no RTL implementation; the RTL path supports {ACTIVATIONS}")
    out = layer.get_output_variable()
    in_spec, out_spec = _spec(layer.get_input_variable(), where), _spec(out, where)
    rounding, saturation = check_cast(f"{where}: output", out.type.precision, in_spec, out_spec)
    return CastStage(layer.name, act, _values(out), in_spec, out_spec, rounding, saturation)


def conv_stage(layer) -> ConvStage:
    """A Conv1D/Conv2D stage: the layer's row kernel (``layer.microarch()``, with its :class:`ConvScan`) as the
    per-pixel Dense datapath."""
    where = f"layer '{layer.name}' ({layer.class_name})"
    dense = dense_stage(layer)
    scan = dense.kernel.scan
    if scan is None:  # pragma: no cover - MSQConv*.conv_scan always returns one
        raise ValueError(f"{where}: no scan geometry")
    sh, sw = int(layer.get_attr("stride_height", 1) or 1), int(layer.get_attr("stride_width", 1) or 1)
    oh, ow = int(layer.get_attr("out_height", 1) or 1), int(layer.get_attr("out_width"))
    ph = scan.in_height + scan.pad_top + scan.pad_bottom
    pw = scan.in_width + scan.pad_left + scan.pad_right
    # the scan emits a window at every stride-phase-0 position at or beyond (fh - 1, fw - 1): ceil((P - f + 1) / s)
    # per axis, which must be the layer's output size (the output frame is collected by counting)
    if -(-(ph - scan.filt_height + 1) // sh) != oh or -(-(pw - scan.filt_width + 1) // sw) != ow:
        raise ValueError(f"{where}: output {oh}x{ow} does not follow from the padded input {ph}x{pw}, filter "
                         f"{scan.filt_height}x{scan.filt_width} and stride {sh}x{sw}; the RTL scan does not implement it")
    if int(layer.get_attr("dilation", 1) or 1) != 1 or int(layer.get_attr("dilation_width", 1) or 1) != 1:
        raise ValueError(f"{where}: dilated convolutions have no RTL implementation")
    return ConvStage(layer.name, dense, scan, sh, sw, oh, ow)


def pool_stage(layer) -> PoolStage:
    """A Pooling1D/Pooling2D stage (channels last)."""
    where = f"layer '{layer.name}' ({layer.class_name})"
    op = str(layer.get_attr("pool_op"))
    if op not in POOL_OPS:
        raise ValueError(f"{where}: pooling '{op}' has no RTL implementation; the RTL path supports {POOL_OPS}")
    if layer.get_attr("data_format", "channels_last") != "channels_last":
        raise ValueError(f"{where}: the RTL path reads channels_last frames only")
    two_d = layer.class_name == "Pooling2D"
    if two_d:
        geo = dict(in_height=int(layer.get_attr("in_height")), in_width=int(layer.get_attr("in_width")),
                   pool_height=int(layer.get_attr("pool_height")), pool_width=int(layer.get_attr("pool_width")),
                   stride_height=int(layer.get_attr("stride_height")), stride_width=int(layer.get_attr("stride_width")),
                   pad_top=int(layer.get_attr("pad_top")), pad_left=int(layer.get_attr("pad_left")),
                   out_height=int(layer.get_attr("out_height")), out_width=int(layer.get_attr("out_width")))
        pad_h = geo["pad_top"] + int(layer.get_attr("pad_bottom"))
    else:
        geo = dict(in_height=1, in_width=int(layer.get_attr("n_in")), pool_height=1,
                   pool_width=int(layer.get_attr("pool_width")), stride_height=1,
                   stride_width=int(layer.get_attr("stride_width")), pad_top=0, pad_left=int(layer.get_attr("pad_left")),
                   out_height=1, out_width=int(layer.get_attr("n_out")))
        pad_h = 0
    pad_w = geo["pad_left"] + int(layer.get_attr("pad_right"))
    # pooling*d_cl steps over the restricted padded frame: (P - pool) // stride + 1 windows per axis
    for axis, pad in (("height", pad_h), ("width", pad_w)):
        n = (geo[f"in_{axis}"] + pad - geo[f"pool_{axis}"]) // geo[f"stride_{axis}"] + 1
        if n != geo[f"out_{axis}"]:
            raise ValueError(f"{where}: out_{axis} {geo[f'out_{axis}']} differs from the {n} windows that hls4ml's "
                             "pooling kernel computes; the RTL pool does not implement it")
    in_spec = _spec(layer.get_input_variable(), where)
    accum_t = layer.get_attr("accum_t")
    if accum_t is None:  # pragma: no cover - hls4ml always sets it for pooling
        raise ValueError(f"{where}: no accum_t")
    accum_spec = _spec_of(accum_t.precision, where)
    out = layer.get_output_variable()
    out_spec = _spec(out, where)
    accum_modes = check_cast(f"{where}: accum_t", accum_t.precision, in_spec, accum_spec)
    out_modes = check_cast(f"{where}: output", out.type.precision, accum_spec, out_spec)
    if op == "Average":  # y += x[i] in accum_t: exact (no rounding) and wrapping, or provably without overflow
        n = geo["pool_height"] * geo["pool_width"]
        if accum_spec.fractional < in_spec.fractional or (in_spec.signed and not accum_spec.signed):
            raise ValueError(f"{where}: accum_t {accum_spec.cpp()} does not hold every input {in_spec.cpp()} exactly, so "
                             "the average's sum rounds or wraps per term; the RTL pool does not implement it")
        lo, hi = _code_range(in_spec)
        scale = 1 << (accum_spec.fractional - in_spec.fractional)
        alo, ahi = _code_range(accum_spec)
        if accum_modes[1] != "WRAP" and not (alo <= n * lo * scale and n * hi * scale <= ahi):
            raise ValueError(f"{where}: accum_t {accum_spec.cpp()} saturates and the sum of {n} inputs may overflow it; "
                             "the RTL pool implements a wrapping (or wide enough) accumulator only")
    if op == "Max" and not in_spec.signed and (pad_h or pad_w):
        warnings.warn(f"{where}: max pooling pads an unsigned input with hls4ml's pad_val (only the MSB set: "
                      f"{2.0 ** (in_spec.integer - 1)}), which beats inside values below it, where Keras ignores padding; "
                      "the RTL follows hls4ml's C-simulation, so both can differ from Keras (use padding='valid' or "
                      "an input size the pool divides)", stacklevel=2)
    return PoolStage(layer.name, op, n_filt=int(layer.get_attr("n_filt")),
                     count_pad=bool(layer.get_attr("count_pad", False)), in_spec=in_spec, accum_spec=accum_spec, accum_modes=accum_modes, out_spec=out_spec,
                     out_modes=out_modes, **geo)


def _spec_of(precision, where: str) -> FixedSpec:
    from flow.hls.layers import precision_spec

    return precision_spec(precision, where)


def _code_range(spec: FixedSpec) -> tuple[int, int]:
    return (-(1 << (spec.width - 1)), (1 << (spec.width - 1)) - 1) if spec.signed else (0, (1 << spec.width) - 1)


def netlist_from_model(hm) -> Netlist:
    """The RTL stages of a ModelGraph converted with backend ``MSQ`` (io_parallel)."""
    io_type = hm.config.get_config_value("IOType")
    if io_type != "io_parallel":
        raise ValueError(f"the RTL path reads io_parallel models (the AXI wrapper streams them); got IOType {io_type}: "
                         "convert with io_type='io_parallel'")
    layers = list(hm.get_layers())
    first = layers[0]
    in_var = first.get_output_variable()
    rounding, saturation = modes(in_var.type.precision)
    inp = Port(_spec(in_var, f"input '{first.name}'"), _values(in_var), rounding, saturation)
    stages = []
    for layer in layers[1:]:
        kind = layer.class_name
        if kind == "MSQDense":
            stages.append(dense_stage(layer))
        elif kind in ("MSQConv1D", "MSQConv2D"):
            stages.append(conv_stage(layer))
        elif kind in ("Pooling1D", "Pooling2D"):
            stages.append(pool_stage(layer))
        elif kind == "Activation":
            stages.append(cast_stage(layer))
        elif kind in SHAPE_ONLY:
            continue
        else:
            if kind == "Merge":  # hls4ml's class of Add, Multiply, Concatenate, ...: name the operation
                kind = f"Merge '{layer.get_attr('op')}'"
            raise ValueError(f"layer '{layer.name}' ({kind}) has no RTL implementation yet; the RTL path supports "
                             f"{SUPPORTED} (use the HLS route, `python -m flow build`, for this model)")
    if not stages:
        raise ValueError("the model has no layer the RTL path implements")
    last = layers[-1].get_output_variable()
    out = Port(stages[-1].out_spec, _values(last))
    return Netlist(hm.config.get_project_name() if hasattr(hm.config, "get_project_name") else "model", inp,
                   tuple(stages), out)
