"""The 'MSQ' hls4ml backend: Vitis HLS plus per-row fixed-point (DSP) / SP2 (LUT) kernels.

It subclasses ``VitisBackend`` (extended, not forked): everything stock layers need comes from
Vitis/Vivado. Our flows: ``msq:convert``/``msq:optimize`` are hls4ml's ``convert``/``optimize``
with a first pass that gives the input its first quantizer's exact type (``passes/derive_input_precision.py``,
so raw floats are quantized once, like Keras), a pass that keeps QKeras output rounding (``passes/keep_quantizing_linear_activation.py``)
and exact average pooling (``passes/infer_exact_precision_types.py``);
``msq:row_kernels`` runs before ``vivado:init_layers``: it swaps row-quantized Dense/Conv layers for
``MSQDense``/``MSQConv*``, LQ/binary ones for ``LQDense``/``LQConv*`` (bit-plane kernels), and
refuses 'distributed_arithmetic' on binary kernels; our templates run after ``vivado:apply_templates``.
The C++ kernels are the headers in ``flow/hls_templates/nnet_utils`` copied into every project.
"""

from __future__ import annotations

import re
from pathlib import Path

from hls4ml.backends import VitisBackend
from hls4ml.backends.fpga.fpga_backend import FPGABackend
from hls4ml.model.flow import get_flow, register_flow
from hls4ml.writer import VitisWriter

from flow.hls import NAME, hls4ml_hooks
from flow.hls.lq_templates import LQ_TEMPLATES
from flow.hls.templates import TEMPLATES
from flow.package_data import check_templates

#: Default part: PYNQ-Z1 / PYNQ-Z2.
DEFAULT_PART = "xc7z020clg400-1"


#: hls4ml's bridge line converting float64 inputs: ``nnet::convert_data<double, input_t, N>(x, x_ap);``
_DOUBLE_INPUT = re.compile(r"^(\s*)nnet::convert_data<double, (\w+), ([^>]+)>\((\w+), (\w+)\);$", re.MULTILINE)


def float32_first(bridge: str) -> tuple[str, int]:
    """Bridge source whose float64 entry point casts every input to float32 before quantizing it.

    Keras casts float64 inputs to float32 and then quantizes; converting the double directly can
    round the other way where the float32 cast lands exactly on a rounding midpoint.
    Returns the new source and the number of inputs rewritten.
    """

    def cast(m: re.Match) -> str:
        indent, ctype, size, src, dst = m.groups()
        return (
            f"{indent}float {src}_f32[{size}]; // Keras casts float64 inputs to float32 before quantizing\n"
            f"{indent}for (unsigned i_ = 0; i_ < {size}; i_++) {src}_f32[i_] = float({src}[i_]);\n"
            f"{indent}nnet::convert_data<float, {ctype}, {size}>({src}_f32, {dst});"
        )

    return _DOUBLE_INPUT.subn(cast, bridge)


class MSQWriter(VitisWriter):
    """The Vitis writer (our headers arrive through ``register_source``); its float64 C-simulation
    entry point quantizes inputs as Keras does, through float32."""

    def write_bridge(self, model):
        super().write_bridge(model)
        path = Path(model.config.get_output_dir()) / f"{model.config.get_project_name()}_bridge.cpp"
        text, count = float32_first(path.read_text())
        if count != len(model.get_input_variables()):
            raise RuntimeError(
                f"{path}: found {count} float64 input conversions to rewrite, expected {len(model.get_input_variables())} "
                "(hls4ml's bridge template changed?); float64 C-simulation inputs would not go through float32 like Keras"
            )
        path.write_text(text)


class MSQBackend(VitisBackend):
    def __init__(self):
        templates = check_templates()  # before any registration: a broken install fails here, naming the files
        FPGABackend.__init__(self, NAME)  # not VivadoBackend.__init__, which hard-codes 'Vivado'
        self._register_layer_attributes()
        self._register_flows()
        for template in (*TEMPLATES, *LQ_TEMPLATES):
            self.register_template(template)
        for header in sorted((templates / "nnet_utils").glob("*.h")):
            self.register_source(header.resolve(), destination_dir="nnet_utils")

    def _register_flows(self):
        prefix = self.name.lower()
        convert_passes = [f"{prefix}:derive_input_precision", *get_flow("convert").optimizers]
        convert_passes.insert(
            convert_passes.index("eliminate_linear_activation"), f"{prefix}:keep_quantizing_linear_activation"
        )
        convert_passes.insert(
            convert_passes.index("fuse_batch_normalization"), f"{prefix}:reject_batchnorm_after_row_layers"
        )
        exact_infer = f"{prefix}:infer_exact_precision_types"
        convert_passes = [exact_infer if p == "infer_precision_types" else p for p in convert_passes]
        optimize_passes = [exact_infer if p == "infer_precision_types" else p for p in get_flow("optimize").optimizers]
        convert_flow = register_flow("convert", convert_passes, requires=["parse_qonnx"], backend=self.name)
        optimize_flow = register_flow("optimize", optimize_passes, requires=[convert_flow], backend=self.name)
        row_flow = register_flow(
            "row_kernels",
            [
                f"{prefix}:reject_binary_distributed_arithmetic",
                f"{prefix}:reject_unsupported_row_layers",
                f"{prefix}:replace_row_quantized_layers",
                f"{prefix}:replace_lq_layers",
                f"{prefix}:set_row_conv_pipeline_style",
                f"{prefix}:warn_default_precision",
            ],
            requires=[optimize_flow],
            backend=self.name,
        )
        template_flow = register_flow(
            "apply_templates", self._get_layer_templates, requires=["vivado:init_layers"], backend=self.name
        )
        requires = get_flow("vitis:ip").requires.copy()
        requires[requires.index("optimize")] = optimize_flow
        requires.insert(1, row_flow)  # before vitis:validation, which pulls in vivado:init_layers
        requires.append(template_flow)  # after vivado:apply_templates, so ours are the last word
        fifo_flow = register_flow(
            "stream_fifos", [f"{prefix}:size_stream_fifos"], requires=["vivado:specific_types"], backend=self.name
        )
        requires.append(fifo_flow)  # after vivado:transform_types made the stream variables
        self._default_flow = register_flow("ip", None, requires=requires, backend=self.name)
        self._writer_flow = register_flow(
            "write", ["make_stamp", f"{prefix}:write_hls"], requires=[f"{prefix}:ip"], backend=self.name
        )

    def create_initial_config(self, part=DEFAULT_PART, clock_period=10, **kwargs):
        """Vitis defaults, but for the PYNQ-Z1/Z2 part at 100 MHz.

        hls4ml calls this first in ``convert_from_keras_model``, just before it parses the model: our
        QKeras parser hooks go on for that parse (:func:`flow.hls.hls4ml_hooks.begin_conversion`).
        """
        hls4ml_hooks.begin_conversion()
        return super().create_initial_config(part=part, clock_period=clock_period, **kwargs)

    def create_layer_class(self, layer_class):
        """hls4ml's, once parsing is done: the first backend call that builds the graph ends the hooks
        opened by :meth:`create_initial_config` (:func:`flow.hls.hls4ml_hooks.end_conversion`)."""
        hls4ml_hooks.end_conversion()
        return super().create_layer_class(layer_class)
