"""Model zoo: shapes for every input size, and C-sim bit-exact on the digits test split."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.data import IMAGE_SHAPES, load_digits
from flow.models import QuantSpec, cnn1d, resnet8, thesis_mlp, vgg
from tests.kernel_checks import assert_our_kernels


@pytest.mark.parametrize("shape, blocks", [((8, 8, 1), 3), ((28, 28, 1), 4), ((32, 32, 3), 5)])
def test_vgg_blocks_follow_the_input_size(shape, blocks):
    model = vgg(shape, 10, width=0.0625, spec=QuantSpec("float"))
    assert len([l for l in model.layers if l.name.endswith("_pool")]) == blocks
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_resnet8_and_mlp_build_for_every_input(shape):
    assert resnet8(shape, 10, spec=QuantSpec("msq")).output_shape == (None, 10)
    assert thesis_mlp(shape, 10, spec=QuantSpec("sp2")).output_shape == (None, 10)
    n_convs = sum(1 for l in resnet8(shape, 10).layers if "conv" in l.name or "shortcut" in l.name or l.name == "stem")
    assert n_convs == 9  # stem + 3 x 2 convs + 2 shortcuts


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match=r"vgg: input shape must be \(H, W, C\)"):
        vgg((64,), 10)
    with pytest.raises(ValueError, match=r"cnn1d: input shape must be \(L, C\)"):
        cnn1d((8, 8, 1), 10)


@pytest.fixture(scope="module")
def digits_images():
    return load_digits().with_shape(IMAGE_SHAPES["digits"])


@pytest.mark.csim
@pytest.mark.slow
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("arch", ["vgg", "resnet8"])
def test_zoo_cnn_msq4_bit_exact_on_digits(arch, io_type, digits_images, project_dir):
    tf.keras.utils.set_random_seed(3)
    d = digits_images
    spec = QuantSpec("msq", 4, 0.6, in_bits=6, in_integer=1)
    model = vgg(d.x_test.shape[1:], 10, width=0.125, spec=spec) if arch == "vgg" else resnet8(d.x_test.shape[1:], 10, width=8, spec=spec)
    freeze_msq_rows(model)
    hm = convert(model, project_dir, ConvertConfig(io_type=io_type))
    assert_our_kernels(hm, model)
    y = model.predict(d.x_test, verbose=0)
    y_csim = hm.predict(np.ascontiguousarray(d.x_test)).reshape(y.shape)
    assert np.array_equal(y, y_csim), f"{np.sum(y != y_csim)} of {y.size} outputs differ"
