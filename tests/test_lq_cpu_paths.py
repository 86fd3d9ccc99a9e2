"""The LQ CPU kernel's instruction-set paths (flow.lq.cpu.PATHS): each one this CPU runs equals the
numpy reference bit for bit, for K = 1..4 on both sides and sizes around the 64 / 256 / 512-bit
vector widths; the default is the best path; a path the CPU lacks is a clear error."""

from pathlib import Path

import numpy as np
import pytest

from flow.lq import reference as R

cpu = pytest.importorskip("flow.lq.cpu")

SHAPES = [(1, 1), (63, 3), (64, 4), (65, 5), (200, 9), (255, 4), (256, 7), (257, 8), (511, 3), (513, 6), (784, 13), (1000, 2)]


def _paths():
    return cpu.available_paths()


def _layer(rng, n, n_out, kx, kw, path, offset=0.0):
    x = rng.normal(0, 1, (5, n))
    w = rng.normal(0, 0.1, (n, n_out))
    b = rng.normal(0, 1, n_out)
    xb = R.on_grid(R.init_basis(x, kx) * rng.uniform(0.5, 1.5, kx))
    wb = R.on_grid(np.abs(rng.normal(0.05, 0.03, (kw, n_out))) + 1e-3)
    return x, cpu.LQDense.from_kernel(w, b, xb, wb, offset, path=path)


@pytest.mark.parametrize("path", cpu.PATHS)
@pytest.mark.parametrize("kx", [1, 2, 3, 4])
@pytest.mark.parametrize("kw", [1, 2, 3, 4])
def test_every_path_equals_the_reference_bit_for_bit(rng, path, kx, kw):
    if path not in _paths():
        pytest.skip(f"this CPU has no {path} path")
    for n, n_out in SHAPES:
        x, layer = _layer(rng, n, n_out, kx, kw, path)
        assert layer.path == path
        planes = R.pack_bits(R.encode(x, layer.x_basis), kx)
        expected = R.dense_reference(planes, layer.x_basis, layer.w_planes, layer.w_basis, layer.bias, n)
        assert np.array_equal(layer(x), expected), (path, n, n_out)
        assert np.array_equal(layer.dense_planes(planes), expected), (path, n, n_out)
        assert np.array_equal(layer(x[:1]), expected[:1]), (path, n, n_out)  # batch 1 == row 0 of a batch


@pytest.mark.parametrize("n", [64, 100, 257, 513])
def test_paths_agree_on_random_planes(rng, n):
    """Arbitrary bit patterns (not only encoded ones) and a larger batch: all paths give the same bits."""
    words = -(-n // 64)
    pad = np.uint64((1 << (n % 64)) - 1 if n % 64 else 2**64 - 1)  # bits past n stay zero, as pack_bits leaves them
    x_planes = rng.integers(0, 2**64 - 1, (33, 3, words), dtype=np.uint64, endpoint=True)
    w_planes = rng.integers(0, 2**64 - 1, (10, 2, words), dtype=np.uint64, endpoint=True)
    x_planes[..., -1] &= pad
    w_planes[..., -1] &= pad
    x_basis, w_basis, bias = np.array([0.25, 0.5, 1.0]), rng.uniform(0, 1, (2, 10)), rng.normal(0, 1, 10)
    ref = R.dense_reference(x_planes, x_basis, w_planes, w_basis, bias, n)
    for path in _paths():
        layer = cpu.LQDense(x_basis, w_basis, w_planes, bias, n, path=path)
        assert np.array_equal(layer.dense_planes(x_planes), ref), path


@pytest.mark.parametrize("path", cpu.PATHS)
def test_sequential_on_every_path(rng, path):
    if path not in _paths():
        pytest.skip(f"this CPU has no {path} path")
    x = rng.uniform(0, 1, (6, 300))
    w1, w2 = rng.normal(0, 0.2, (300, 70)), rng.normal(0, 0.2, (70, 10))
    a1, c1 = R.qem_fit(x, 2, offset=True)
    l1 = cpu.LQDense.from_kernel(w1, np.zeros(70), R.on_grid(a1), R.on_grid(R.qem_fit_channels(w1, 3)), c1, path=path)
    hidden = np.maximum(l1(x), 0)
    a2, c2 = R.qem_fit(hidden, 1, offset=True)
    l2 = cpu.LQDense.from_kernel(w2, np.zeros(10), R.on_grid(a2), R.on_grid(R.qem_fit_channels(w2, 4)), c2, path=path)
    net = cpu.LQSequential([l1, l2], path=path)
    assert net.path == path
    h_planes = R.pack_bits(R.encode(hidden, l2.x_basis, l2.x_offset), 1)
    expected = R.dense_reference(h_planes, l2.x_basis, l2.w_planes, l2.w_basis, l2.bias, 70)
    assert np.array_equal(net(x), expected)
    assert np.array_equal(net(x[2:3]), expected[2:3])


def test_default_is_the_best_path(monkeypatch):
    monkeypatch.delenv(cpu.PATH_ENV, raising=False)
    paths = _paths()
    assert paths[-1] == "portable" and set(paths) <= set(cpu.PATHS)
    assert paths == sorted(paths, key=cpu.PATHS.index, reverse=True)  # best first
    flags = ""
    if Path("/proc/cpuinfo").exists():
        flags = next((l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags")), "").split()
    if "avx512f" in flags and "avx512dq" in flags and "avx512_vpopcntdq" in flags:
        assert paths[0] == "avx512"
    elif "avx2" in flags:
        assert paths[0] == "avx2"
    w = np.ones((64, 4)) * 0.1
    layer = cpu.LQDense.from_kernel(w, np.zeros(4), np.array([1.0]), np.full((1, 4), 0.1))
    assert layer.path == paths[0]
    assert cpu.LQSequential([layer]).path == paths[0]


def test_env_var_forces_a_path(monkeypatch):
    w = np.ones((64, 4)) * 0.1
    monkeypatch.setenv(cpu.PATH_ENV, "portable")
    assert cpu.LQDense.from_kernel(w, np.zeros(4), np.array([1.0]), np.full((1, 4), 0.1)).path == "portable"
    monkeypatch.setenv(cpu.PATH_ENV, "sse9")
    with pytest.raises(ValueError, match=r"unknown \$MSQ_LQ_PATH 'sse9'; choose one of portable, popcnt, avx2, avx512"):
        cpu.LQDense.from_kernel(w, np.zeros(4), np.array([1.0]), np.full((1, 4), 0.1))


def test_a_path_the_cpu_lacks_is_a_clear_error(monkeypatch):
    monkeypatch.delenv(cpu.PATH_ENV, raising=False)
    monkeypatch.setattr(cpu, "_supported_mask", lambda: 0b0011)  # a CPU with POPCNT only
    assert cpu.available_paths() == ["popcnt", "portable"]
    w = np.ones((64, 4)) * 0.1
    with pytest.raises(RuntimeError, match=r"the 'avx512' path needs AVX-512 F, DQ and VPOPCNTDQ, which this CPU lacks "
                                           r"\(available here: popcnt, portable\)"):
        cpu.LQDense.from_kernel(w, np.zeros(4), np.array([1.0]), np.full((1, 4), 0.1), path="avx512")
    with pytest.raises(RuntimeError, match="'avx2' path needs AVX2"):
        cpu.LQSequential([cpu.LQDense.from_kernel(w, np.zeros(4), np.array([1.0]), np.full((1, 4), 0.1))], path="avx2")
    with pytest.raises(ValueError, match="unknown path 'neon'"):
        cpu.resolve_path("neon")


def test_the_library_refuses_a_path_index_it_lacks():
    lib = cpu.library()
    y = np.empty((1, 1))
    args = (np.zeros((1, 1, 1), np.uint64), 1, 1, np.ones(1), np.zeros((1, 1, 1), np.uint64), 1, 1, np.ones(1), np.zeros(1), 64, y)
    assert lib.lq_dense(*args, None, 0) == 0 and y[0, 0] == 64.0
    assert lib.lq_dense(*args, None, 4) == -1 and lib.lq_dense(*args, None, -1) == -1


def test_no_march_native_in_the_build():
    assert not any(f.startswith("-march") for f in cpu.FLAGS)


def test_the_avx512_path_runs_on_output_interleaved_weights():
    if "avx512" not in cpu.available_paths():
        pytest.skip("this CPU has no AVX-512 VPOPCNTDQ path")
    rng = np.random.default_rng(3)
    w_planes = rng.integers(0, 2**63, size=(13, 2, 3), dtype=np.uint64)
    inter = cpu.interleave_outputs(w_planes)
    assert inter.shape == (2, 2, 3, 8)
    for j in range(16):
        g, t = divmod(j, 8)
        expected = w_planes[j] if j < 13 else np.zeros((2, 3), np.uint64)
        assert np.array_equal(inter[g, :, :, t], expected)


def _chain(rng, path, threads, kx=2, kw=3):
    x = rng.uniform(0, 1, (37, 300))
    w1, w2 = rng.normal(0, 0.2, (300, 70)), rng.normal(0, 0.2, (70, 10))
    a1, c1 = R.qem_fit(x, kx, offset=True)
    l1 = cpu.LQDense.from_kernel(w1, rng.normal(0, 1, 70), R.on_grid(a1), R.on_grid(R.qem_fit_channels(w1, kw)), c1, path=path)
    a2, c2 = R.qem_fit(np.maximum(l1(x), 0), kx, offset=True)
    l2 = cpu.LQDense.from_kernel(w2, np.zeros(10), R.on_grid(a2), R.on_grid(R.qem_fit_channels(w2, kw)), c2, path=path)
    return x, l1, l2, cpu.LQSequential([l1, l2], path=path, threads=threads)


@pytest.mark.parametrize("path", cpu.PATHS)
def test_threads_are_bit_exact_with_one_thread(path):
    """A batch split over 2, 3 or 8 threads (more threads than samples too) gives one thread's bits,
    which are the layer-by-layer reference's."""
    if path not in _paths():
        pytest.skip(f"this CPU has no {path} path")
    rng = np.random.default_rng(5)
    x, l1, l2, one = _chain(rng, path, 1)
    hidden = np.maximum(l1(x), 0)
    expected = R.dense_reference(R.pack_bits(R.encode(hidden, l2.x_basis, l2.x_offset), len(l2.x_basis)), l2.x_basis,
                                 l2.w_planes, l2.w_basis, l2.bias, 70)
    assert np.array_equal(one(x), expected)
    for threads in (2, 3, 8):
        net = cpu.LQSequential([l1, l2], path=path, threads=threads)
        assert net.threads == threads
        for batch in (1, 2, 5, 37):
            assert np.array_equal(net(x[:batch]), expected[:batch]), (threads, batch)


def test_threads_option_and_env(monkeypatch):
    rng = np.random.default_rng(6)
    monkeypatch.delenv(cpu.THREADS_ENV, raising=False)
    x, l1, l2, net = _chain(rng, None, None)
    assert net.threads == 1
    monkeypatch.setenv(cpu.THREADS_ENV, "3")
    assert cpu.LQSequential([l1, l2]).threads == 3
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        cpu.LQSequential([l1, l2], threads=0)


def test_the_array_fast_path_equals_the_address_path():
    """LQSequential passes the arrays themselves to the library (their data pointers read in C at the
    offset found when it loads); the pointer-passing entry gives the same result, and views and
    non-contiguous inputs are copied first."""
    assert cpu._data_offset_known()
    rng = np.random.default_rng(7)
    x, l1, l2, net = _chain(rng, None, 1)
    fast = net(x)
    y = np.empty_like(fast)
    xc = np.ascontiguousarray(x)
    assert net._run(net._net_address, xc.ctypes.data, len(x), y.ctypes.data) == 0
    assert np.array_equal(fast, y)
    assert np.array_equal(net(x[3:9]), fast[3:9])  # a view with an offset data pointer
    assert np.array_equal(net(np.asfortranarray(x)), fast)
    assert np.array_equal(net(x.astype(np.float32)), net(x.astype(np.float32).astype(np.float64)))


def test_weights_are_64_byte_aligned():
    rng = np.random.default_rng(8)
    for n_out in (1, 9, 13):
        w_planes = rng.integers(0, 2**63, size=(n_out, 3, 5), dtype=np.uint64)
        layer = cpu.LQDense(np.array([0.5, 1.0]), np.ones((3, n_out)), w_planes[:, :, 1:], np.zeros(n_out), 250)
        assert layer.w_planes.ctypes.data % 64 == 0 and layer.w_planes.flags.c_contiguous
        assert np.array_equal(layer.w_planes, w_planes[:, :, 1:])
        inter = cpu.interleave_outputs(w_planes)
        assert inter.ctypes.data % 64 == 0 and inter.flags.c_contiguous


def test_one_chain_called_from_many_python_threads_is_exact():
    """ctypes releases the GIL: concurrent calls on one LQSequential (shared scratch buffers) must not mix."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(11)
    _, _, _, chain = _chain(rng, cpu.available_paths()[0], 1)
    xs = [rng.uniform(0, 1, (b, 300)) for b in (1, 3, 64, 7, 129, 2) * 4]
    expected = [chain(x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(chain, xs))
    assert all(np.array_equal(e, g) for e, g in zip(expected, got))


def test_bad_thread_count_in_the_environment_is_named(monkeypatch):
    from flow.lq.cpu import resolve_threads

    monkeypatch.setenv("MSQ_LQ_THREADS", "two")
    with pytest.raises(ValueError, match=r"\$MSQ_LQ_THREADS='two' is not a whole number"):
        resolve_threads()
