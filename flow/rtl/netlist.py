"""The RTL view of a converted model: a chain of stages read from the hls4ml ModelGraph after the MSQ
backend's passes, so the Verilog uses the same exact types (``msq_types``), the same row encoding and
the same lanes / reuse factor / ROM layout (:class:`flow.hls.microarch.RowKernel`) as the HLS kernels.

Supported now: the input, MSQ/SP2/fixed Dense (``MSQDense``), MSQ/SP2/fixed Conv1D/Conv2D
(``MSQConv1D``/``MSQConv2D``: the Dense datapath on the window of a pixel scan, :mod:`flow.rtl.conv`),
max/average pooling (``Pooling1D``/``Pooling2D``, hls4ml's ``pooling*d_cl``: :mod:`flow.rtl.pool`),
quantized ReLU and linear activations (``Activation`` with a fixed-point result: QKeras' rounding and
saturation), LQ / binary Dense (``LQDense``: XNOR-popcount on bit-planes, :mod:`flow.rtl.lq`, with the
lanes / ROM layout of :class:`flow.hls.lq_microarch.LQRows`) and the LQ activation (``LQActivation``: the
nearest level by midpoint comparisons), the real-scale row multipliers (``ApplyAlpha`` named ``<layer>_scale``,
:mod:`flow.rtl.scale`), Add of two branches from one fork (``Merge`` op ``add``: one :class:`AddBlock` whose
branches are chains of stages, :mod:`flow.rtl.add`), and shape-only layers (Flatten/Reshape: channels-last
frames are already in Keras' flatten order, ``(h, w, c)``). Anything else is refused, naming the layer and its class.
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
SUPPORTED = ("Input, MSQDense, MSQConv1D/MSQConv2D, LQDense, LQActivation, Pooling1D/Pooling2D (max/average), "
             "Activation (relu/linear), Flatten/Reshape, Merge 'add' (one fork, two branches), real-scale ApplyAlpha "
             "('<layer>_scale')")
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
class LQActStage:
    """``QActivation(quantized_lq)`` (``nnet_lq_activation.h``): each value becomes the level after the last
    midpoint at or below it. ``thresholds[l]`` is midpoint ``l`` as the smallest input code at or above it
    (``x >= m`` iff ``code >= ceil(m * 2^F)``: exact), ``levels`` the output codes of the sorted levels."""

    name: str
    n: int
    in_spec: FixedSpec
    out_spec: FixedSpec
    thresholds: tuple
    levels: tuple

    @property
    def n_in(self) -> int:
        return self.n

    @property
    def n_out(self) -> int:
        return self.n


@dataclass(frozen=True)
class LQDenseStage:
    """One LQ / binary Dense layer (``nnet_lq_dense.h``): the input encoder (midpoints of an LQ input, or a
    fixed-point input's own bits), XNOR-popcount per plane pair, constant multiples by the input mantissas,
    the products with the row's folded mantissas, the integer bias; ``rows`` (:class:`flow.hls.lq_microarch.LQRows`)
    gives the lanes, reuse factor and ROM layout, and ``wc`` / ``aw`` / ``bias`` are the layer's own weight arrays
    in that lane order (what the C-simulation reads)."""

    name: str
    in_spec: FixedSpec
    rows: object  # flow.hls.lq_microarch.LQRows (no ``kernel`` attribute: the estimator must not take it for MSQ)
    lq_input: bool
    offset_plane: bool
    in_mantissa: tuple  # mx_p, one per plane (kx)
    thresholds: tuple  # LQ input: midpoints as input-code thresholds (see LQActStage)
    level_codes: tuple  # LQ input: the kx-bit code of each sorted level
    wc: tuple
    aw: tuple
    bias: tuple
    count_bits: int
    inner_bits: int
    accum_bits: int
    scaled: FixedSpec
    out_spec: FixedSpec

    @property
    def n_in(self) -> int:
        return self.rows.n_in

    @property
    def n_out(self) -> int:
        return self.rows.n_out


@dataclass(frozen=True)
class ScaleStage:
    """A real-scale row multiplier (``<layer>_scale``, hls4ml's ``ApplyAlpha`` inserted by
    :mod:`flow.hls.row_scale`; ``nnet::normalize``): value ``i`` is ``data[i] * scale[i % n_filt] + bias[i % n_filt]``,
    the exact product (``mult``) plus the bias in full precision (``sum_spec``), cast into the result type
    (``cast``: a linear cast stage with its rounding and saturation)."""

    name: str
    in_spec: FixedSpec
    scale_spec: FixedSpec
    scales: tuple  # integer codes of scale_spec, one per filter
    bias_spec: FixedSpec
    biases: tuple  # integer codes of bias_spec, one per filter
    cast: CastStage

    @property
    def n_filt(self) -> int:
        return len(self.scales)

    @property
    def n_in(self) -> int:
        return self.cast.n

    @property
    def n_out(self) -> int:
        return self.cast.n

    @property
    def out_spec(self) -> FixedSpec:
        return self.cast.out_spec


@dataclass(frozen=True)
class AddBlock:
    """A fork and its join by hls4ml's ``add`` (``Merge`` op ``add``, a ResNet-style skip): the fork's output goes to
    both branches (chains of stages; an empty branch is the skip itself), and ``res[i] = data1[i] + data2[i]``: the
    exact sum of the two inputs (``sum_spec``) cast into the Merge's result type (``add``, a linear cast stage with
    its rounding and saturation). ``branch_a`` ends in the Merge's first input, ``branch_b`` in its second."""

    name: str
    in_spec: FixedSpec
    n_in: int
    branch_a: tuple
    branch_b: tuple
    a_spec: FixedSpec
    b_spec: FixedSpec
    add: CastStage

    @property
    def n_out(self) -> int:
        return self.add.n

    @property
    def out_spec(self) -> FixedSpec:
        return self.add.out_spec


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


def _thresholds(midpoints, in_spec: FixedSpec) -> tuple:
    """Midpoints as input-code thresholds: ``x >= m`` iff ``code(x) >= ceil(m * 2^F)`` (exact integers)."""
    from fractions import Fraction

    out = []
    for m in np.asarray(midpoints, dtype=np.float64).reshape(-1):
        q = Fraction(float(m)) * (Fraction(2) ** in_spec.fractional)
        out.append(-((-q.numerator) // q.denominator))  # ceil
    return tuple(int(t) for t in out)


def _level_codes(values, spec: FixedSpec, where: str) -> tuple:
    codes = np.ldexp(np.asarray(values, dtype=np.float64), spec.fractional)
    lo, hi = _code_range(spec)
    if not np.array_equal(codes, np.round(codes)) or codes.min() < lo or codes.max() > hi:
        raise ValueError(f"{where}: the LQ levels are not exact in the output type {spec.cpp()} (internal error)")
    return tuple(int(c) for c in codes)


def _codes(values, spec: FixedSpec, where: str) -> tuple:
    codes = np.ldexp(np.asarray(values, dtype=np.float64).reshape(-1), spec.fractional)
    lo, hi = _code_range(spec)
    if not np.array_equal(codes, np.round(codes)) or (codes.size and (codes.min() < lo or codes.max() > hi)):
        raise ValueError(f"{where}: constants not exact in {spec.cpp()}; the RTL does not implement it")
    return tuple(int(c) for c in codes)


def scale_stage(layer) -> ScaleStage:
    """The row multipliers of a real scale (``ApplyAlpha`` named ``<layer>_scale``, :mod:`flow.hls.row_scale`)."""
    from flow.hls.row_scale import SUFFIX

    where = f"layer '{layer.name}' (ApplyAlpha)"
    if not layer.name.endswith(SUFFIX):
        raise ValueError(f"{where}: only the real-scale row multipliers that flow.hls.row_scale inserts "
                         f"('<layer>{SUFFIX}') have an RTL implementation; QKeras alpha scales do not yet")
    n = _values(layer.get_output_variable())
    n_filt = int(layer.get_attr("n_filt", -1))
    scale_w, bias_w = layer.get_weights("scale"), layer.get_weights("bias")
    count = n if n_filt == -1 else n_filt
    if n % count or len(np.ravel(scale_w.data)) != count or len(np.ravel(bias_w.data)) != count:
        raise ValueError(f"{where}: {len(np.ravel(scale_w.data))} scales for {n} values with n_filt {n_filt}; "
                         "the RTL row multipliers do not implement it")
    in_spec = _spec(layer.get_input_variable(), where)
    scale_spec = _spec_of(scale_w.type.precision, f"{where} scale")
    bias_spec = _spec_of(bias_w.type.precision, f"{where} bias")
    scales, biases = _codes(scale_w.data, scale_spec, where), _codes(bias_w.data, bias_spec, where)
    if scale_spec.width < 2:  # hls4ml takes a 1-bit unsigned weight for a binary one (0 as -1): not this product
        raise ValueError(f"{where}: a 1-bit scale type selects hls4ml's binary product; the RTL does not implement it")
    # data * scale (exact, ``product::mult``) + bias (exact): the full-precision sum, then the cast into res_T
    ps = FixedSpec(in_spec.as_signed().width + scale_spec.as_signed().width,
                   in_spec.as_signed().integer + scale_spec.as_signed().integer)
    bs = bias_spec.as_signed()
    frac = max(ps.fractional, bs.fractional)
    integer = max(ps.integer, bs.integer) + 1
    sum_spec = FixedSpec(integer + frac, integer)
    out = layer.get_output_variable()
    out_spec = _spec(out, where)
    rounding, saturation = check_cast(f"{where}: output", out.type.precision, sum_spec, out_spec)
    return ScaleStage(layer.name, in_spec, scale_spec, scales, bias_spec, biases,
                      CastStage(layer.name, "linear", n, sum_spec, out_spec, rounding, saturation))


def lq_act_stage(layer) -> LQActStage:
    where = f"layer '{layer.name}' ({layer.class_name})"
    levels = layer.levels()
    in_spec, out_spec = _spec(layer.get_input_variable(), where), _spec(layer.get_output_variable(), where)
    return LQActStage(layer.name, _values(layer.get_output_variable()), in_spec, out_spec,
                      _thresholds(levels.midpoints, in_spec), _level_codes(levels.level_values, out_spec, where))


def _int_bits(cpp: str, where: str) -> int:
    import re

    m = re.fullmatch(r"ap_int<(\d+)>", cpp.strip())
    if m is None:  # pragma: no cover - size_types writes ap_int<N>
        raise ValueError(f"{where}: unexpected LQ type {cpp}")
    return int(m.group(1))


def lq_dense_stage(layer) -> LQDenseStage:
    """An LQDense stage: the layer's ``lq_input`` / ``lq_types`` / ``microarch()`` and its weight arrays."""
    where = f"layer '{layer.name}' ({layer.class_name})"
    rows = layer.microarch()
    inp = layer.get_attr("lq_input")
    types = layer.get_attr("lq_types")
    from flow.hls.layers import precision_spec
    from flow.hls.lq_layers import source_precision

    # the type the kernel really reads (an io_parallel Flatten is an alias of its input: its own type may be stale)
    in_spec = precision_spec(source_precision(layer), where)
    if inp.is_lq:
        thresholds, level_codes = _thresholds(inp.midpoints, in_spec), tuple(int(c) for c in inp.level_codes)
    else:
        data_planes = inp.kx - 1 if inp.offset_plane else inp.kx
        if data_planes != in_spec.width:
            raise ValueError(f"{where}: the kernel reads {data_planes} input bit-planes but its input is "
                             f"{in_spec.cpp()}; the RTL LQ encoder does not implement it")
        thresholds, level_codes = (), ()

    def ints(name):
        return tuple(int(v) for v in np.asarray(layer.get_weights(name).data).reshape(-1))

    return LQDenseStage(layer.name, in_spec, rows, bool(inp.is_lq), bool(inp.offset_plane),
                        tuple(int(m) for m in inp.mantissa), thresholds, level_codes,
                        ints("wc"), ints("aw"), ints("bias"),
                        _int_bits(types.count, where), _int_bits(types.inner, where), _int_bits(types.accum, where),
                        types.scaled, _spec(layer.get_output_variable(), where))


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


def _producer(node):
    """The node whose output a layer really reads: shape-only layers are wires."""
    while node is not None and node.class_name in SHAPE_ONLY:
        node = node.get_input_node()
    return node


def _chain_back(node, stop_names: set | None = None) -> list:
    """``node`` and its producers back to the input (single-input layers), shape-only layers skipped."""
    out = []
    node = _producer(node)
    while node is not None:
        out.append(node)
        if stop_names is not None and node.name in stop_names:
            break
        if node.class_name in ("Merge", "Input"):  # an earlier block's join (a stage) or the input: no further back
            break
        node = _producer(node.get_input_node())
    return out


def _add_block(layer, first, inp: Port, stages: list) -> list:
    """Replace the trailing stages of both branches of an Add (back to their common fork) by one :class:`AddBlock`."""
    where = f"layer '{layer.name}' (Merge 'add')"
    if len(layer.inputs) != 2:
        raise ValueError(f"{where}: the RTL add joins two branches; it has {len(layer.inputs)} inputs")
    src = [_producer(layer.get_input_node(name)) for name in layer.inputs]
    chain_a = _chain_back(src[0])
    names_a = {n.name for n in chain_a}
    chain_b = _chain_back(src[1], names_a)
    fork = chain_b[-1]
    if fork.name not in names_a:  # the branches meet beyond an earlier merge: one skip inside another
        raise ValueError(f"{where}: its branches fork before the merge '{fork.name}' (a skip around another skip); "
                         "nested skips have no RTL implementation yet, the RTL path joins one fork per Add")
    branch_a = [n.name for n in chain_a[:[n.name for n in chain_a].index(fork.name)]][::-1]
    branch_b = [n.name for n in chain_b[:-1]][::-1]
    index = {st.name: k for k, st in enumerate(stages)}
    start = index[fork.name] + 1 if fork.name in index else 0
    if fork.name not in index and fork is not first:  # pragma: no cover - every non-input producer is a stage
        raise ValueError(f"{where}: its fork '{fork.name}' is not a stage")
    tail = [st.name for st in stages[start:]]
    if sorted(tail) != sorted(branch_a + branch_b):
        raise ValueError(f"{where}: the layers after its fork '{fork.name}' ({', '.join(tail)}) are not exactly its two "
                         "branches; the RTL path implements a fork whose every output feeds this Add")
    by_name = {st.name: st for st in stages[start:]}
    in_spec = stages[start - 1].out_spec if start else inp.spec
    n_in = stages[start - 1].n_out if start else inp.count
    a_spec = _spec(layer.get_input_variable(layer.inputs[0]), where)
    b_spec = _spec(layer.get_input_variable(layer.inputs[1]), where)
    sa, sb = a_spec.as_signed(), b_spec.as_signed()
    frac = max(sa.fractional, sb.fractional)
    integer = max(sa.integer, sb.integer) + 1  # data1 + data2 in full precision (ap_fixed's sum type): exact
    sum_spec = FixedSpec(integer + frac, integer)
    out = layer.get_output_variable()
    out_spec = _spec(out, where)
    rounding, saturation = check_cast(f"{where}: output", out.type.precision, sum_spec, out_spec)
    n = _values(out)
    for spec, branch, what in ((a_spec, branch_a, "first"), (b_spec, branch_b, "second")):
        end = by_name[branch[-1]] if branch else None
        got_spec, got_n = (end.out_spec, end.n_out) if end is not None else (in_spec, n_in)
        if got_spec != spec or got_n != n:
            raise ValueError(f"{where}: its {what} input ({spec.cpp()} x {n}) is not what its branch delivers "
                             f"({got_spec.cpp()} x {got_n}); the RTL add does not implement it")
    block = AddBlock(layer.name, in_spec, n_in, tuple(by_name[k] for k in branch_a), tuple(by_name[k] for k in branch_b),
                     a_spec, b_spec, CastStage(layer.name, "linear", n, sum_spec, out_spec, rounding, saturation))
    return stages[:start] + [block]


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
        if kind == "Merge" and str(layer.get_attr("op")).lower() == "add":
            stages = _add_block(layer, first, inp, stages)
        elif kind == "MSQDense":
            stages.append(dense_stage(layer))
        elif kind in ("MSQConv1D", "MSQConv2D"):
            stages.append(conv_stage(layer))
        elif kind in ("Pooling1D", "Pooling2D"):
            stages.append(pool_stage(layer))
        elif kind == "ApplyAlpha":
            stages.append(scale_stage(layer))
        elif kind == "LQDense":
            stages.append(lq_dense_stage(layer))
        elif kind == "LQActivation":
            stages.append(lq_act_stage(layer))
        elif kind in ("LQConv1D", "LQConv2D"):
            raise ValueError(f"layer '{layer.name}' ({kind}): LQ/binary convolutions have no RTL implementation yet "
                             "(LQ/binary Dense has); use the HLS route, `python -m flow build`, for this model")
        elif kind == "Activation":
            stages.append(cast_stage(layer))
        elif kind in SHAPE_ONLY:
            continue
        else:
            if kind == "Merge":  # hls4ml's class of Add, Multiply, Concatenate, ...: name the operation (Add has RTL)
                kind = f"Merge '{layer.get_attr('op')}'"
            raise ValueError(f"layer '{layer.name}' ({kind}) has no RTL implementation yet; the RTL path supports "
                             f"{SUPPORTED} (use the HLS route, `python -m flow build`, for this model)")
    if not stages:
        raise ValueError("the model has no layer the RTL path implements")
    last = layers[-1].get_output_variable()
    out = Port(stages[-1].out_spec, _values(last))
    return Netlist(hm.config.get_project_name() if hasattr(hm.config, "get_project_name") else "model", inp,
                   tuple(stages), out)
