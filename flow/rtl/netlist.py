"""The RTL view of a converted model: a chain of stages read from the hls4ml ModelGraph after the MSQ
backend's passes, so the Verilog uses the same exact types (``msq_types``), the same row encoding and
the same lanes / reuse factor / ROM layout (:class:`flow.hls.microarch.RowKernel`) as the HLS kernels.

Supported now: the input, MSQ/SP2/fixed Dense (``MSQDense``), quantized ReLU and linear activations
(``Activation`` with a fixed-point result: QKeras' rounding and saturation), and shape-only layers
(Flatten/Reshape). Anything else is refused, naming the layer and its class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flow.hls.encode import DenseEncoding, DenseTypes, FixedSpec, exact_spec
from flow.hls.microarch import RowKernel

#: ``ap_fixed`` rounding modes the cast stage implements (hls4ml's names)
ROUNDINGS = ("TRN", "RND", "RND_CONV", "RND_ZERO")
#: ``ap_fixed`` saturation modes the cast stage implements
SATURATIONS = ("WRAP", "SAT", "SAT_SYM")
#: activations a cast stage implements
ACTIVATIONS = ("relu", "linear")
#: hls4ml layers that only reshape (no hardware)
SHAPE_ONLY = ("Flatten", "Reshape")
SUPPORTED = "Input, MSQDense, Activation (relu/linear), Flatten/Reshape"


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


def cast_stage(layer) -> CastStage:
    act = str(layer.get_attr("activation")).lower()
    where = f"layer '{layer.name}'"
    if act not in ACTIVATIONS:
        raise ValueError(f"{where}: activation '{act}' has no RTL implementation; the RTL path supports {ACTIVATIONS}")
    out = layer.get_output_variable()
    rounding, saturation = modes(out.type.precision)
    if rounding not in ROUNDINGS or saturation not in SATURATIONS:
        raise ValueError(f"{where}: output type {out.type.precision} uses {rounding}/{saturation}; the RTL cast "
                         f"implements roundings {ROUNDINGS} and saturations {SATURATIONS}")
    if int(getattr(out.type.precision, "saturation_bits", 0) or 0):
        raise ValueError(f"{where}: output type {out.type.precision} has saturation bits; the RTL cast implements "
                         "ap_fixed<W, I, Q, O> with N = 0 only")
    in_spec, out_spec = _spec(layer.get_input_variable(), where), _spec(out, where)
    if in_spec.fractional - out_spec.fractional >= in_spec.as_signed().width:
        raise ValueError(f"{where}: the cast {in_spec.cpp()} -> {out_spec.cpp()} drops every input bit; the RTL cast "
                         "does not implement it (give the activation more fractional bits)")
    return CastStage(layer.name, act, _values(out), in_spec, out_spec, rounding, saturation)


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
        elif kind == "Activation":
            stages.append(cast_stage(layer))
        elif kind in SHAPE_ONLY:
            continue
        else:
            raise ValueError(f"layer '{layer.name}' ({kind}) has no RTL implementation yet; the RTL path supports "
                             f"{SUPPORTED} (use the HLS route, `python -m flow build`, for this model)")
    if not stages:
        raise ValueError("the model has no layer the RTL path implements")
    last = layers[-1].get_output_variable()
    out = Port(stages[-1].out_spec, _values(last))
    return Netlist(hm.config.get_project_name() if hasattr(hm.config, "get_project_name") else "model", inp,
                   tuple(stages), out)
