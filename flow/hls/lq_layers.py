"""IR layers of the LQ / binary bit-plane kernels and of the LQ activation (backend 'MSQ' only).

``LQDense`` / ``LQConv1D`` / ``LQConv2D`` are made by the ``replace_lq_layers`` pass from stock
nodes whose kernel quantizer is ``quantized_lq``. Their input planes come from the nearest LQ
activation upstream (through Reshape/Flatten and max pooling, which keep values on its levels)
or else from the input's own fixed-point bits (see :mod:`flow.hls.lq_encode`). Their lanes, ROM
layout and cycles are :meth:`LQRowLayer.microarch` (:mod:`flow.hls.lq_microarch`).
"""

from __future__ import annotations

import numpy as np
from hls4ml.model.attributes import Attribute
from hls4ml.model.layers import Layer, register_layer
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

from flow.hls.encode import exact_spec
from flow.hls.microarch import check_rom_word
from flow.hls.layers import add_exact_result, check_stream_packets, conv_scan_of, layer_packets, precision_spec
from flow.hls.lq_encode import LQInput, LQKernel, LQTypes, fixed_planes, fold_offset_plane, lq_levels, size_types
from flow.hls.lq_handler import LQ_ACTIVATION
from flow.hls.lq_microarch import LQRows
from flow.hls.microarch import ConvScan

#: Layers between an LQ activation and a kernel that keep every value on the activation's levels.
LEVEL_PRESERVING = ("Reshape", "Flatten", "Transpose")


def _require_msq_backend(layer: Layer, what: str) -> None:
    backend = layer.model.config.backend.name
    if backend != "MSQ":
        raise ValueError(
            f"layer '{layer.name}': {what} has an HLS kernel only in backend 'MSQ' (this conversion uses "
            f"'{backend}'); convert with backend='MSQ'"
        )


class LQActivation(Layer):
    """Nearest level of ``c + <e, a>``; the output type holds every level exactly."""

    _expected_attributes = [
        Attribute("lq_bits"),
        Attribute("lq_basis", value_type=list),
        Attribute("lq_offset", value_type=float),
    ]

    def levels(self) -> LQInput:
        return lq_levels(self.get_attr("lq_basis"), self.get_attr("lq_offset"), f"layer '{self.name}'")

    def initialize(self):
        _require_msq_backend(self, "QActivation(quantized_lq)")
        levels = self.levels().level_values
        if not np.array_equal(levels, levels.astype(np.float32)):
            raise ValueError(f"layer '{self.name}': LQ levels are not exact in float32 (Keras would round them)")
        spec = exact_spec(levels, f"layer '{self.name}' levels")
        shape = list(self.get_input_variable().shape)
        self.set_attr("n_in", int(np.prod(shape)))
        self.add_output_variable(shape, precision=FixedPrecisionType(spec.width, spec.integer, signed=True))


def _is_max_pool(node) -> bool:
    return "Pooling" in node.class_name and str(node.get_attr("pool_op", "")).lower() == "max"


def upstream_levels(node: Layer) -> LQInput | None:
    """The LQ activation feeding ``node`` (through level-preserving layers), or None."""
    current = node.get_input_node()
    while current is not None:
        if current.class_name == LQ_ACTIVATION:
            return current.levels()
        if current.class_name not in LEVEL_PRESERVING and not _is_max_pool(current):
            return None
        current = current.get_input_node()
    return None


def source_precision(node: Layer):
    """The precision the kernel really receives: in io_parallel a Reshape/Flatten is an alias of its
    input (its own type may be stale), in io_stream it is a real copy into its own type."""
    current = node.get_input_node()
    parallel = node.model.config.get_config_value("IOType") == "io_parallel"
    while parallel and current is not None and current.class_name == "Reshape":
        current = current.get_input_node()
    variable = current.get_output_variable() if current is not None else node.get_input_variable()
    return variable.type.precision


class LQRowLayer(Layer):
    """Shared part: input planes, exact types, weight arrays; subclasses give the output shape."""

    _expected_attributes = [
        Attribute("n_in"),
        Attribute("n_out"),
        Attribute("strategy", value_type=str, default="latency"),
    ]

    def output_shape(self) -> list[int]:
        raise NotImplementedError

    def never_padded(self) -> bool:
        """True when every input position of every output is real (Dense, 'valid' convolutions)."""
        pads = ("pad_top", "pad_bottom", "pad_left", "pad_right")
        return all(int(self.get_attr(p, 0) or 0) == 0 for p in pads)

    def input_planes(self) -> LQInput:
        levels = upstream_levels(self)
        if levels is not None:
            return levels
        data = precision_spec(source_precision(self), f"layer '{self.name}'")
        return fixed_planes(data, f"layer '{self.name}'")

    def conv_scan(self) -> ConvScan | None:
        """The streaming geometry of a convolution (None for Dense)."""
        return None

    def microarch(self) -> LQRows:
        """This layer's lanes, reuse factor, ROM shapes and cycles (:mod:`flow.hls.lq_microarch`)."""
        kernel: LQKernel = self.get_attr("lq_kernel")
        inp: LQInput = self.get_attr("lq_input")
        types: LQTypes = self.get_attr("lq_types")
        rows = LQRows(
            self.name, kernel.n_in, kernel.n_out, inp.kx, kernel.kw, int(self.get_attr("lq_reuse_factor")),
            str(self.get_attr("strategy")).lower(), self.conv_scan(), types.basis_bits, types.bias_bits,
        )
        if rows.rom:
            check_rom_word(rows.rom_shape[0], rows.reuse_factor, f"layer '{self.name}'")
        return rows

    def initialize(self):
        _require_msq_backend(self, "an LQ/binary kernel")
        self.set_attr("reuse_factor", self.get_attr("lq_reuse_factor"))  # hls4ml set the configured one
        kernel: LQKernel = self.get_attr("lq_kernel")
        bias = np.asarray(self.get_attr("bias_values"), dtype=np.float64)
        inp = self.input_planes()
        if self.never_padded():
            inp, bias = fold_offset_plane(kernel, inp, bias)
        bias_spec = exact_spec(bias, f"layer '{self.name}' bias")
        types = size_types(kernel, inp, bias, bias_spec)
        self.set_attr("lq_input", inp)
        self.set_attr("lq_types", types)
        add_exact_result(self, types.result, self.output_shape(), " (fewer mantissa_bits in quantized_lq keep it exact)")
        check_stream_packets(self, layer_packets(self, types.result.width, "Conv" in self.class_name))
        arch = self.microarch()
        # Lane order (flow.hls.lq_microarch): element (l * k + i) * RF + c belongs to row l * RF + c.
        self.add_weights_variable(
            name="wc", var_name="wc{index}", type_name="wc{index}_t",
            precision=IntegerPrecisionType(arch.segment_bits, signed=False), data=arch.code_layout(kernel.codes),
        )
        self.add_weights_variable(
            name="aw", var_name="aw{index}", type_name="aw{index}_t",
            precision=IntegerPrecisionType(types.basis_bits, signed=True), data=arch.basis_layout(types.scales.basis),
        )
        self.add_weights_variable(
            name="bias", var_name="b{index}", type_name="bias{index}_t",
            precision=IntegerPrecisionType(types.bias_bits, signed=True), data=arch.bias_layout(types.scales.bias),
        )


class LQDense(LQRowLayer):
    def output_shape(self) -> list[int]:
        shape = list(self.get_input_variable().shape)
        shape[-1] = self.get_attr("n_out")
        return shape


class LQConv2D(LQRowLayer):
    def conv_scan(self) -> ConvScan:
        return conv_scan_of(self)

    def output_shape(self) -> list[int]:
        return [self.get_attr("out_height"), self.get_attr("out_width"), self.get_attr("n_filt")]


class LQConv1D(LQRowLayer):
    def conv_scan(self) -> ConvScan:
        return conv_scan_of(self)

    def output_shape(self) -> list[int]:
        return [self.get_attr("out_width"), self.get_attr("n_filt")]


LQ_LAYERS = {"LQDense": LQDense, "LQConv1D": LQConv1D, "LQConv2D": LQConv2D, LQ_ACTIVATION: LQActivation}


def register_lq_layers() -> None:
    for name, cls in LQ_LAYERS.items():
        register_layer(name, cls)
