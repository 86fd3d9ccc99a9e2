"""IR layers of the MSQ backend: Dense and Conv1D/Conv2D with per-row fixed/SP2 kernels.

They are created by the ``replace_row_quantized_layers`` pass from stock nodes whose kernel
quantizer is one of ours. Each owns three weight arrays (fixed mantissas ``wf``, SP2 codes
``ws``, bias ``b``) and sizes all its C++ types from its input type (see ``encode``).
A convolution is the same row kernel applied to every receptive field: its rows are the
output filters and its ``n_in`` is ``filt_height * filt_width * n_chan``.
"""

from __future__ import annotations

import warnings

import numpy as np
from hls4ml.model.attributes import Attribute
from hls4ml.model.layers import Layer, register_layer
from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType, UnspecifiedPrecisionType

from flow.hls.encode import DenseEncoding, FixedSpec, exact_spec, size_types
from flow.hls.microarch import MAX_PARALLEL_FRAME, MAX_STREAM_WORD_BITS, ConvScan, RowKernel

FLOAT32_MANTISSA = 24


def precision_spec(precision, where: str) -> FixedSpec:
    """Our view of an hls4ml fixed/integer precision; clear error for anything else."""
    if isinstance(precision, FixedPrecisionType):
        return FixedSpec(precision.width, precision.integer, precision.signed)
    if isinstance(precision, IntegerPrecisionType):
        return FixedSpec(precision.width, precision.width, precision.signed)
    if isinstance(precision, UnspecifiedPrecisionType):
        raise ValueError(
            f"{where}: the input precision is 'auto' when the MSQ kernel is sized; give the previous layer "
            "(or the input layer) an explicit precision in the hls config, e.g. 'fixed<16,6>'"
        )
    raise ValueError(f"{where}: MSQ kernels need a fixed-point or integer input, got {precision}")


def add_exact_result(layer: Layer, result: FixedSpec, shape: list[int], hint: str = "") -> None:
    """The layer's output variable of exact type ``result``; warns where Keras' float32 may round."""
    if result.width > FLOAT32_MANTISSA:
        warnings.warn(
            f"layer '{layer.name}': exact outputs need {result.width} bits; Keras computes this layer in "
            f"float32 ({FLOAT32_MANTISSA}-bit mantissa), so Keras may round where the C++ does not{hint}",
            stacklevel=3,
        )
    layer.add_output_variable(shape, precision=FixedPrecisionType(result.width, result.integer, signed=True))


def check_stream_packets(layer: Layer, packets: dict[str, tuple[int, int]]) -> None:
    """Refuse stream packets wider than Vitis HLS allows (``{what: (values, bits per value)}``)."""
    for what, (values, bits) in packets.items():
        if values * bits > MAX_STREAM_WORD_BITS:
            raise ValueError(
                f"layer '{layer.name}': its {what} packet is {values} values x {bits} bits = {values * bits} bits, above "
                f"the {MAX_STREAM_WORD_BITS}-bit stream word Vitis HLS allows; use fewer filters/units in this layer or "
                "narrower types (fewer weight/activation bits)"
            )


def layer_packets(layer: Layer, out_bits: int, conv: bool) -> dict[str, tuple[int, int]]:
    """The stream packets a layer writes (io_stream) or streams inside itself (convolutions)."""
    packets = {}
    io_stream = layer.model.config.get_config_value("IOType") == "io_stream"
    if conv or io_stream:
        packets["output"] = (int(layer.get_output_variable().shape[-1]), out_bits)
    if conv:
        precision = layer.get_input_variable().type.precision
        packets["input pixel"] = (int(layer.get_attr("n_chan")), int(precision.width))
    return packets


def add_bias(layer: Layer, bias: np.ndarray, bias_spec: FixedSpec) -> None:
    """The bias weights ``b<index>`` in their exact type."""
    layer.add_weights_variable(
        name="bias", var_name="b{index}", type_name="bias{index}_t",
        precision=FixedPrecisionType(bias_spec.width, bias_spec.integer, signed=True), data=bias,
    )


class MSQRowLayer(Layer):
    """Shared part: exact types, weight arrays; subclasses give the output shape."""

    _expected_attributes = [
        Attribute("n_in"),
        Attribute("n_out"),
        Attribute("strategy", value_type=str, default="latency"),
    ]

    def output_shape(self) -> list[int]:
        raise NotImplementedError

    def conv_scan(self) -> ConvScan | None:
        """The streaming geometry of a convolution (None for Dense)."""
        return None

    def data_spec(self) -> FixedSpec:
        """The exact type of the layer input (what the lanes multiply)."""
        return precision_spec(self.get_input_variable().type.precision, f"layer '{self.name}'")

    def microarch(self) -> RowKernel:
        """This layer's lanes, DSP packing, reuse factor, ROM shape and cycles (:mod:`flow.hls.microarch`)."""
        enc: DenseEncoding = self.get_attr("encoding")
        data = self.data_spec()
        kernel = RowKernel(
            self.name, enc.n_in, enc.n_out, len(enc.sp2_rows), int(self.get_attr("row_reuse_factor")), enc.bits,
            str(self.get_attr("strategy")).lower(), self.conv_scan(), data.width, data.signed,
            self.get_attr("dsp_packing", None),
        )
        kernel.check_rom_words()
        return kernel

    def initialize(self):
        enc: DenseEncoding = self.get_attr("encoding")
        self.set_attr("reuse_factor", self.get_attr("row_reuse_factor"))  # hls4ml set the configured one
        bias = np.asarray(self.get_attr("bias_values"), dtype=np.float64)
        data = self.data_spec()
        bias_spec = exact_spec(bias, f"layer '{self.name}' bias")
        types = size_types(enc, data, bias, bias_spec)
        self.set_attr("msq_types", types)
        add_exact_result(self, types.result, self.output_shape())
        check_stream_packets(self, layer_packets(self, types.result.width, self.conv_scan() is not None))
        self._add_row_weights(enc, bias, bias_spec)

    def _add_row_weights(self, enc: DenseEncoding, bias: np.ndarray, bias_spec: FixedSpec):
        """``wf``/``ws`` in lane order: element ``l * RF + c`` is lane ``l``'s weight at cycle ``c``.

        DSP packing keeps this layout: the packed DSP of lanes ``l`` and ``l'`` (rows ``2p``, ``2p+1`` of one
        chunk, or lanes ``2p``, ``2p+1`` folded) reads both weights from the same ROM word ``c`` and forms
        ``w_a * 2^k + w_b`` in the DSP's pre-adder, so the ROM stays ``lanes x bits`` wide."""
        kernel = self.microarch()
        wf = kernel.fixed.layout(enc.fix_weights)
        ws = kernel.sp2.layout(enc.sp2_codes)
        self.add_weights_variable(
            name="wf", var_name="wf{index}", type_name="wf{index}_t",
            precision=IntegerPrecisionType(enc.bits, signed=True), data=wf,
        )
        self.add_weights_variable(
            name="ws", var_name="ws{index}", type_name="ws{index}_t",
            precision=IntegerPrecisionType(enc.bits, signed=False), data=ws,
        )
        add_bias(self, bias, bias_spec)


class MSQDense(MSQRowLayer):
    def output_shape(self) -> list[int]:
        shape = list(self.get_input_variable().shape)
        shape[-1] = self.get_attr("n_out")
        return shape


def conv_scan_of(layer: Layer) -> ConvScan:
    """The :class:`ConvScan` of a Conv1D/Conv2D-like node (Conv1D: height 1); io_parallel frames above
    ``MAX_PARALLEL_FRAME`` values are refused (they would be registers) with the advice to stream."""
    scan = ConvScan(
        int(layer.get_attr("in_height", 1)), int(layer.get_attr("in_width")), int(layer.get_attr("n_chan")),
        int(layer.get_attr("filt_height", 1)), int(layer.get_attr("filt_width")),
        int(layer.get_attr("pad_top", 0) or 0), int(layer.get_attr("pad_bottom", 0) or 0),
        int(layer.get_attr("pad_left", 0) or 0), int(layer.get_attr("pad_right", 0) or 0),
    )
    io_type = layer.model.config.get_config_value("IOType")
    if io_type == "io_parallel" and scan.frame_values > MAX_PARALLEL_FRAME:
        raise ValueError(
            f"layer '{layer.name}': an io_parallel convolution on a {scan.frame_values}-value input frame would "
            f"hold its frames in registers (limit {MAX_PARALLEL_FRAME} values); convert with io_type='io_stream' "
            "(python -m flow convert/build --io-type io_stream)"
        )
    return scan


class MSQConv2D(MSQRowLayer):
    """Geometry attributes as hls4ml's Conv2D (in/out height/width, n_chan, filt_*, stride_*, pad_*)."""

    def conv_scan(self) -> ConvScan:
        return conv_scan_of(self)

    def output_shape(self) -> list[int]:
        return [self.get_attr("out_height"), self.get_attr("out_width"), self.get_attr("n_filt")]


class MSQConv1D(MSQRowLayer):
    """Geometry attributes as hls4ml's Conv1D (in_width, out_width, n_chan, filt_width, ...)."""

    def conv_scan(self) -> ConvScan:
        return conv_scan_of(self)

    def output_shape(self) -> list[int]:
        return [self.get_attr("out_width"), self.get_attr("n_filt")]


ROW_LAYERS = {"MSQDense": MSQDense, "MSQConv1D": MSQConv1D, "MSQConv2D": MSQConv2D}


def register_layers() -> None:
    for name, cls in ROW_LAYERS.items():
        register_layer(name, cls)
