"""Bad input gets a clear error naming the thing and what to do; nothing is overwritten."""

from __future__ import annotations

import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, QDepthwiseConv2D, quantized_bits

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.models import QuantSpec, mlp
from flow.quantizers import quantized_msq


def test_unfrozen_msq_rows_are_refused(project_dir):
    model = mlp(8, 3, (6,), QuantSpec("msq", 4, 0.5))
    with pytest.raises(ValueError, match=r"\['fc1', 'logits'\].*freeze_msq_rows"):
        convert(model, project_dir)


def test_existing_project_is_not_overwritten_without_force(project_dir):
    project_dir.mkdir(parents=True)
    keep = project_dir / "mine.txt"
    keep.write_text("user data")
    model = mlp(8, 3, (6,), QuantSpec("sp2", 4))
    with pytest.raises(FileExistsError, match="force"):
        convert(model, project_dir, compile=False)
    assert keep.read_text() == "user data"


@pytest.mark.parametrize(
    "kwargs, match",
    [({"strategy": "latency"}, "strategy"), ({"reuse_factor": 0}, "reuse_factor"), ({"io_type": "io_serial"}, "io_type")],
)
def test_config_typos_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvertConfig(**kwargs)


@pytest.mark.csim
def test_depthwise_conv_with_msq_kernel_is_refused_under_msq_backend(project_dir):
    inp = tf.keras.Input((6, 6, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1))(inp)
    x = QDepthwiseConv2D(3, depthwise_quantizer=quantized_msq(4, 0.5, row_scheme=[0]), name="dw")(x)
    with pytest.raises(ValueError, match=r"layer 'dw' \(DepthwiseConv2D\).*only in QDense, QConv1D, QConv2D"):
        convert(tf.keras.Model(inp, x), project_dir, compile=False)


@pytest.mark.csim
def test_dilated_conv_is_refused(project_dir):
    inp = tf.keras.Input((8, 8, 1))
    x = QActivation(quantized_bits(8, 2, alpha=1))(inp)
    q = quantized_msq(4, 0.5)
    x = QConv2D(4, 3, dilation_rate=2, kernel_quantizer=q, bias_quantizer=quantized_bits(8, 3, alpha=1), name="conv")(x)
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    with pytest.raises(ValueError, match=r"layer 'conv': dilation_rate \(2, 2\) is not supported"):
        convert(model, project_dir, compile=False)


def test_msq_as_bias_quantizer_is_refused(project_dir):
    inp = tf.keras.Input((4,))
    x = QActivation(quantized_bits(8, 2, alpha=1))(inp)
    x = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_msq(4, 0.5), name="d")(x)
    with pytest.raises(ValueError, match="kernel quantizer"):
        convert(tf.keras.Model(inp, x), project_dir, compile=False)


def test_unknown_dataset_lists_the_known_ones():
    from flow.data import load

    with pytest.raises(ValueError, match="digits, mnist1d, mnist, cifar10"):
        load("cifar100")


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="scheme"):
        QuantSpec("int4")


def test_unsupported_keras_layer_is_named_with_the_supported_list(project_dir):
    inp = tf.keras.Input((4, 4, 4, 1))
    x = tf.keras.layers.Conv3D(2, 3, name="vol")(inp)
    with pytest.raises(ValueError, match=r"layer 'vol' \(Conv3D\) cannot be converted; supported .*QConv2D"):
        convert(tf.keras.Model(inp, x), project_dir, compile=False)
    assert not project_dir.exists()
