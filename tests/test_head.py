"""Float head: split, numpy inference, save/load, errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from flow.head import FloatHead, split
from flow.models import QuantSpec, mlp, vgg


@pytest.fixture(scope="module")
def models():
    tf.keras.utils.set_random_seed(5)
    return {"mlp": mlp(64, 10, (32, 16), QuantSpec("float")), "vgg": vgg((8, 8, 1), 10, width=0.0625, spec=QuantSpec("float"))}


@pytest.mark.parametrize("name,cut,shape", [("mlp", "act2", (64,)), ("mlp", "fc2", (64,)), ("vgg", "flatten", (8, 8, 1)), ("vgg", "b3_pool", (8, 8, 1))])
def test_backbone_plus_head_equals_model(models, rng, name, cut, shape, tmp_path):
    model = models[name]
    x = rng.uniform(0, 1, (64, *shape)).astype(np.float32)
    backbone, head = split(model, cut)
    assert backbone.output.shape[1:] == model.get_layer(cut).output.shape[1:]
    ref = model.predict(x, verbose=0)
    out = head.predict(backbone.predict(x, verbose=0))
    # float32 on both sides, different summation order (numpy vs Eigen): equal up to float32 rounding
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out.argmax(1), ref.argmax(1))
    back = FloatHead.load(head.save(tmp_path / "head.npz"))
    np.testing.assert_array_equal(back.predict(backbone.predict(x, verbose=0)), out)


def test_head_errors(models, tmp_path):
    with pytest.raises(ValueError, match="cut layer 'pool9' is not in model"):
        split(models["vgg"], "pool9")
    with pytest.raises(ValueError, match="last layer"):
        split(models["mlp"], "logits")
    inp = tf.keras.Input((4,))
    a = tf.keras.layers.Dense(4, name="a")(inp)
    b = tf.keras.layers.Dense(4, name="b")(a)
    c = tf.keras.layers.Add(name="c")([a, b])
    with pytest.raises(ValueError, match="must be a chain"):
        split(tf.keras.Model(inp, c), "a")
    _, head = split(models["mlp"], "act2")
    with pytest.raises(ValueError, match=r"expected inputs of shape \(batch, 16\)"):
        head.predict(np.zeros((2, 15), np.float32))
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        FloatHead.load(tmp_path / "missing.npz")
