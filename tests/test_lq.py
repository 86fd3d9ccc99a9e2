"""LQ (learned basis): levels, nearest-level encoding, QEM, bit-planes, and the compiled CPU kernel
against the numpy reference (exactly)."""

from __future__ import annotations

import numpy as np
import pytest

from flow.lq import reference as R


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_encode_is_nearest_level(rng, k):
    basis = np.sort(rng.uniform(0.1, 1.0, k))
    x = rng.normal(0, 1.5, 2000)
    vals = R.signs(k) @ basis
    brute = vals[np.argmin(np.abs(x[:, None] - vals[None, :]), axis=1)]
    np.testing.assert_allclose(R.quantize(x, basis), brute, rtol=0, atol=1e-12)
    assert set(np.unique(R.encode(x, basis))) <= set(range(2**k))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_qem_lowers_the_error(rng, k):
    x = rng.laplace(0, 0.3, 5000)
    start = R.init_basis(x, k)
    fitted = R.qem_fit(x, k, iters=10)
    err = lambda a: np.mean((R.quantize(x, a) - x) ** 2)  # noqa: E731
    assert err(fitted) < err(start)
    assert err(R.qem_fit(x, k, iters=10)) <= err(R.qem_fit(x, k, iters=1)) + 1e-12


def test_basis_on_grid(rng):
    a = R.on_grid(rng.uniform(0.01, 3.0, (3, 5)), mantissa_bits=6)
    e = np.ceil(np.log2(np.max(np.abs(a), axis=0))) - 6
    m = a / np.exp2(e)
    np.testing.assert_array_equal(m, np.round(m))


@pytest.mark.parametrize("k", [0, 5, 2.5, True])
def test_k_out_of_range(k):
    with pytest.raises(ValueError, match=r"K must be an integer in \[1, 4\]"):
        R.check_k(k)


def test_pack_bits_layout():
    codes = np.array([[0b01, 0b10, 0b11] + [0] * 62])  # 65 values: two words per plane
    planes = R.pack_bits(codes, 2)
    assert planes.shape == (1, 2, 2)
    assert planes[0, 0, 0] == 0b101 and planes[0, 1, 0] == 0b110 and planes[0, 0, 1] == 0


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [64, 100, 784])
def test_cpu_kernel_equals_reference(rng, k, n):
    from flow.lq.cpu import LQDense, encode_planes

    x = rng.normal(0, 1, (9, n))
    w = rng.normal(0, 0.1, (n, 11))
    b = rng.normal(0, 1, 11)
    xb, wb = R.on_grid(R.qem_fit(x, k)), R.on_grid(R.qem_fit_channels(w, k))
    layer = LQDense.from_kernel(w, b, xb, wb)
    planes = R.pack_bits(R.encode(x, xb), k)
    np.testing.assert_array_equal(encode_planes(x, xb), planes)
    np.testing.assert_array_equal(layer(x), R.dense_reference(planes, xb, layer.w_planes, wb, b, n))
    # and it is the LQ-quantized dense layer: LQ(x) @ LQ(W) + b (equal up to the float summation order)
    wq = np.stack([R.quantize(w[:, j], wb[:, j]) for j in range(11)], axis=1)
    np.testing.assert_allclose(layer(x), R.quantize(x, xb) @ wq + b, rtol=1e-12, atol=1e-12)


def test_cpu_kernel_shape_errors(rng):
    from flow.lq.cpu import LQDense, fp32_dense

    w = rng.normal(0, 0.1, (70, 4))
    layer = LQDense.from_kernel(w, np.zeros(4), R.qem_fit(w, 2), R.qem_fit_channels(w, 2))
    with pytest.raises(ValueError, match=r"expected inputs of shape \(batch, 70\)"):
        layer(np.zeros((3, 64)))
    with pytest.raises(ValueError, match=r"expected input planes \(batch, 2, 2\)"):
        layer.dense_planes(np.zeros((3, 1, 2), np.uint64))
    with pytest.raises(ValueError, match="w_basis has 3 columns for 4 outputs"):
        LQDense.from_kernel(w, np.zeros(4), R.qem_fit(w, 2), np.ones((2, 3)))
    with pytest.raises(ValueError, match="do not match"):
        fp32_dense(np.zeros((2, 5)), np.zeros((3, 4)), np.zeros(3))


def test_fp32_loop_matches_numpy(rng):
    from flow.lq.cpu import fp32_dense

    x = rng.normal(0, 1, (4, 300)).astype(np.float32)
    w = rng.normal(0, 0.1, (300, 20)).astype(np.float32)
    b = rng.normal(0, 1, 20).astype(np.float32)
    np.testing.assert_allclose(fp32_dense(x, w.T, b), x @ w + b, rtol=1e-4, atol=1e-5)  # float32, other order


def test_sequential_equals_layer_by_layer(rng):
    from flow.lq.cpu import LQDense, LQSequential

    x = rng.uniform(0, 1, (7, 130))
    w1, w2 = rng.normal(0, 0.2, (130, 40)), rng.normal(0, 0.2, (40, 5))
    l1 = LQDense.from_kernel(w1, rng.normal(0, 0.1, 40), *R.qem_fit(x, 2, offset=True)[:1], R.qem_fit_channels(w1, 2))
    hidden = np.maximum(l1(x), 0)
    a2, c2 = R.qem_fit(hidden, 3, offset=True)
    l2 = LQDense.from_kernel(w2, np.zeros(5), R.on_grid(a2), R.on_grid(R.qem_fit_channels(w2, 1)), c2)
    net = LQSequential([l1, l2])
    np.testing.assert_array_equal(net(x), l2(np.maximum(l1(x), 0)))
    np.testing.assert_array_equal(net(x[:1]), l2(np.maximum(l1(x[:1]), 0)))
    with pytest.raises(ValueError, match="40 outputs feeds one with 130 inputs"):
        LQSequential([l1, l1])
    with pytest.raises(ValueError, match=r"expected inputs of shape \(batch, 130\)"):
        net(np.zeros((2, 40)))
