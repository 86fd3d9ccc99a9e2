"""The compiled bitwise LQ kernel (``lq_kernel.cpp``) through ctypes, and an LQ dense layer on it.

The library is built with g++ on first use into a per-user cache (:func:`cache_dir`:
``$MSQ_FLOW_CACHE``, else ``$XDG_CACHE_HOME/msq-flow``, else ``~/.cache/msq-flow``), never into
the installed package. Its name hashes the source, the flags, this CPU's feature flags and the
compiler's version, so an edited kernel, another CPU or another compiler gets its own build;
``build_library()`` does it explicitly. No Python loop runs on the hot path: encoding to bit-planes
and the XNOR-popcount products are both in C++.

The library is built without ``-march``: its XNOR-popcount loop exists once per instruction set
(:data:`PATHS`: ``portable`` ``__builtin_popcountll``, ``popcnt`` the same with the POPCNT
instruction, ``avx2`` a nibble-table popcount, ``avx512`` VPOPCNTDQ), each compiled with its own
target attribute, and the path runs that this CPU supports (:func:`available_paths`, best first).
``path=`` on :class:`LQDense` / :class:`LQSequential` or ``$MSQ_LQ_PATH`` forces one; a path this
CPU lacks is a clear error. Every path gives the same bits (same summation order).

:class:`LQSequential` runs a whole chain in one call; ``threads=`` (or ``$MSQ_LQ_THREADS``) splits a
batch over ``std::thread``s, bit-identical to one thread. Its batch-1 hot path passes the numpy
arrays themselves (``ctypes.py_object``) and the library reads their data pointers at the offset
found and checked when it loads: ``__array_interface__`` / ``.ctypes.data`` cost 1.3-1.6 us each,
more than the int1 network itself. Weights are stored 64-byte aligned (:func:`aligned`).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.lq import reference

SOURCE = Path(__file__).with_name("lq_kernel.cpp")
FLAGS = ["-O3", "-ffp-contract=off", "-fPIC", "-shared", "-std=c++14", "-pthread"]  # no -march: paths dispatch at run time
PATHS = ("portable", "popcnt", "avx2", "avx512")  # the kernel's path indices, worst to best
_NEEDS = {"portable": "nothing", "popcnt": "POPCNT", "avx2": "AVX2", "avx512": "AVX-512 F, DQ and VPOPCNTDQ"}
PATH_ENV = "MSQ_LQ_PATH"
_LIB = None


def cache_dir() -> Path:
    """Where compiled CPU kernels live for this user (created on demand)."""
    root = os.environ.get("MSQ_FLOW_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "msq-flow"
    return Path(root) / "lq_kernel"


def _cpu_features() -> str:
    """This CPU's identity (machine and /proc/cpuinfo's flags line), part of the build's cache key."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return platform.machine() + line
    except OSError:
        pass
    return platform.machine() + platform.processor()


def _compiler() -> tuple[str | None, str]:
    """g++ and its version line, or (None, '') where there is none."""
    compiler = shutil.which("g++")
    if compiler is None:
        return None, ""
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    return compiler, "".join(version)


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:12]


def build_library() -> Path:
    """Compile the kernel (if this source / flags / CPU / compiler has no build yet); its path.

    Builds are named ``liblq_kernel-<source, flags, CPU>-<compiler>.so``: without a compiler, a
    build for this source, flags and CPU made by any compiler is used.
    """
    stem = f"liblq_kernel-{_digest(SOURCE.read_bytes() + ' '.join(FLAGS).encode() + _cpu_features().encode())}"
    compiler, version = _compiler()
    if compiler is None:
        cached = sorted(cache_dir().glob(f"{stem}-*.so"), key=lambda p: p.stat().st_mtime)
        if cached:
            return cached[-1]
        raise RuntimeError("the LQ CPU kernel needs a C++ compiler (g++) to build; install one "
                           "(Debian/Ubuntu: apt-get install g++) and try again")
    lib = cache_dir() / f"{stem}-{_digest(version.encode())}.so"
    if lib.exists():
        return lib
    try:
        lib.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(f"cannot create the kernel cache {lib.parent} ({exc.strerror}); set MSQ_FLOW_CACHE "
                           "to a writable directory") from None
    tmp = lib.with_name(f"{lib.stem}.{os.getpid()}.tmp")  # concurrent builds never see a half-written file
    proc = subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(tmp)], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"building {SOURCE.name} failed:\n{proc.stderr}")
    tmp.replace(lib)
    return lib


def library():
    global _LIB
    if _LIB is None:
        lib = ctypes.CDLL(str(build_library()))
        p = np.ctypeslib.ndpointer
        lib.lq_encode.argtypes = [p(np.float32, flags="C"), ctypes.c_int, ctypes.c_int, p(np.float64, flags="C"),
                                  p(np.int32, flags="C"), ctypes.c_int, ctypes.c_int, p(np.uint64, flags="C")]
        lib.lq_paths.argtypes = []
        lib.lq_paths.restype = ctypes.c_int
        lib.lq_dense.argtypes = [p(np.uint64, flags="C"), ctypes.c_int, ctypes.c_int, p(np.float64, flags="C"),
                                 p(np.uint64, flags="C"), ctypes.c_int, ctypes.c_int, p(np.float64, flags="C"),
                                 p(np.float64, flags="C"), ctypes.c_int, p(np.float64, flags="C"), ctypes.c_void_p,
                                 ctypes.c_int]
        lib.lq_dense.restype = ctypes.c_int
        lib.fp32_dense.argtypes = [p(np.float32, flags="C"), ctypes.c_int, ctypes.c_int, p(np.float32, flags="C"),
                                   ctypes.c_int, p(np.float32, flags="C"), p(np.float32, flags="C")]
        # the hot path: raw pointers, no per-call array checks (LQDense validates once)
        vp, ci = ctypes.c_void_p, ctypes.c_int
        lib.lq_layer.argtypes = [vp, ci, ci, vp, vp, ci, ci, vp, vp, ci, ci, vp, vp, vp, vp, vp, ci]
        lib.lq_layer.restype = ci
        lib.lq_chain.argtypes = [vp, ci, ci, vp, vp, vp, vp, vp, ci]
        lib.lq_chain.restype = ci
        lib.lq_run.argtypes = [vp, vp, ci, vp]
        lib.lq_run.restype = ci
        # the batch-1 hot path: the arrays themselves (their data pointers read in C, see _set_data_offset)
        lib.lq_run_arrays.argtypes = [vp, ctypes.py_object, ci, ctypes.py_object]
        lib.lq_run_arrays.restype = ci
        lib.lq_find_data_offset.argtypes = [ctypes.py_object, vp]
        lib.lq_find_data_offset.restype = ci
        lib.lq_set_data_offset.argtypes = [ci]
        _set_data_offset(lib)
        _LIB = lib
    return _LIB


def _supported_mask() -> int:
    """Bit i set: this CPU runs ``PATHS[i]`` (asked of the compiled library: ``__builtin_cpu_supports``)."""
    return int(library().lq_paths())


def available_paths() -> list[str]:
    """The kernel paths this CPU runs, best first (the first is the default)."""
    mask = _supported_mask()
    return [name for i, name in reversed(list(enumerate(PATHS))) if (mask >> i) & 1]


def resolve_path(path: str | None = None) -> int:
    """The kernel index of ``path`` (else ``$MSQ_LQ_PATH``, else the best this CPU runs).

    An unknown name is a ``ValueError``; a path this CPU lacks is a ``RuntimeError`` naming it.
    """
    source = "path"
    if path is None and os.environ.get(PATH_ENV):
        path, source = os.environ[PATH_ENV], f"${PATH_ENV}"
    available = available_paths()
    if path is None:
        return PATHS.index(available[0])
    if path not in PATHS:
        raise ValueError(f"LQ CPU kernel: unknown {source} {path!r}; choose one of {', '.join(PATHS)}")
    if path not in available:
        raise RuntimeError(f"LQ CPU kernel: the {path!r} path needs {_NEEDS[path]}, which this CPU lacks "
                           f"(available here: {', '.join(available)})")
    return PATHS.index(path)


def encoder_tables(basis: np.ndarray, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds between the sorted levels and the levels' codes, ready for ``lq_encode``."""
    vals, codes = reference.levels(basis, offset)
    return np.ascontiguousarray((vals[1:] + vals[:-1]) / 2), np.ascontiguousarray(codes, dtype=np.int32)


def encode_planes(x: np.ndarray, basis: np.ndarray, tables=None, offset: float = 0.0) -> np.ndarray:
    """Float inputs ``(batch, n)`` -> bit-planes ``(batch, K, words)`` (compiled)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"LQ encode: expected inputs of shape (batch, n), got {x.shape}")
    thresholds, codes = tables if tables is not None else encoder_tables(basis, offset)
    k = len(basis)
    out = np.empty((x.shape[0], k, -(-x.shape[1] // 64)), dtype=np.uint64)
    library().lq_encode(x, x.shape[0], x.shape[1], thresholds, codes, len(codes), k, out)
    return out


@dataclass
class LQDense:
    """A dense layer ``y = LQ(x) @ LQ(W) + b`` on bit-planes.

    ``x_basis (Kx,)``: the input's basis; ``w_basis (Kw, n_out)``: a basis per output;
    ``w_planes (n_out, Kw, words)``: the kernel's codes as bit-planes; ``n``: inputs;
    ``x_offset``: the input levels' offset (``c + <e, a>``), folded into ``bias`` as
    ``c * sum_i W_q[i, j]`` by :meth:`from_kernel`. ``path``: the kernel path (see :data:`PATHS`;
    ``None``: ``$MSQ_LQ_PATH``, else the best this CPU runs), resolved once, at construction.
    """

    x_basis: np.ndarray
    w_basis: np.ndarray
    w_planes: np.ndarray
    bias: np.ndarray
    n: int
    x_offset: float = 0.0
    path: str | None = None

    @classmethod
    def from_kernel(cls, kernel: np.ndarray, bias, x_basis, w_basis, x_offset: float = 0.0,
                    path: str | None = None) -> "LQDense":
        """Encode a float kernel ``(n, n_out)`` with a per-output basis ``(Kw, n_out)``."""
        kernel = np.asarray(kernel, dtype=np.float64)
        n, n_out = kernel.shape
        w_basis = np.asarray(w_basis, dtype=np.float64)
        if w_basis.shape[1] != n_out:
            raise ValueError(f"LQDense: w_basis has {w_basis.shape[1]} columns for {n_out} outputs")
        codes = np.stack([reference.encode(kernel[:, j], w_basis[:, j]) for j in range(n_out)])  # (n_out, n)
        planes = reference.pack_bits(codes, w_basis.shape[0])
        bias = np.asarray(bias, np.float64)
        if x_offset:
            wq = np.stack([reference.decode(codes[j], w_basis[:, j]) for j in range(n_out)], axis=1)
            bias = bias + x_offset * wq.sum(axis=0)
        return cls(np.asarray(x_basis, np.float64), w_basis, planes, bias, n, float(x_offset), path)

    def __post_init__(self):
        self._path = resolve_path(self.path)
        self.path = PATHS[self._path]
        self._tables = encoder_tables(self.x_basis, self.x_offset)
        self.x_basis = np.ascontiguousarray(self.x_basis, dtype=np.float64)
        self.w_basis = np.ascontiguousarray(self.w_basis, dtype=np.float64)
        self.w_planes = aligned(np.asarray(self.w_planes, dtype=np.uint64))
        self.bias = np.ascontiguousarray(self.bias, dtype=np.float64)
        if self.w_basis.shape != (self.w_planes.shape[1], self.w_planes.shape[0]) or self.bias.shape != (self.w_planes.shape[0],):
            raise ValueError(
                f"LQDense: w_basis {self.w_basis.shape}, w_planes {self.w_planes.shape} and bias {self.bias.shape} do not agree"
            )
        # the AVX-512 path reads an output-interleaved copy: eight outputs per 512-bit word (lq_kernel.cpp)
        self._w_inter = interleave_outputs(self.w_planes) if self.path == "avx512" else None
        self.w_inter_address = self._w_inter.ctypes.data if self._w_inter is not None else None
        # constant arguments of the hot path, as raw pointers (the arrays above keep them alive)
        t, c = self._tables
        self._const = (t.ctypes.data, c.ctypes.data, len(c), len(self.x_basis), self.x_basis.ctypes.data,
                       self.w_planes.ctypes.data, self.n_out, self.w_planes.shape[1], self.w_basis.ctypes.data,
                       self.bias.ctypes.data)
        self._scratch = np.empty(0, dtype=np.uint64)

    @property
    def n_out(self) -> int:
        return self.w_planes.shape[0]

    def weight_bytes(self) -> int:
        """Bit-planes plus the bases and bias as float32."""
        return self.w_planes.nbytes + 4 * (self.w_basis.size + self.x_basis.size + self.bias.size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(batch, n)`` floats -> ``(batch, n_out)`` float64, one compiled call (encode + products)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(f"LQDense: expected inputs of shape (batch, {self.n}), got {x.shape}")
        batch = x.shape[0]
        need = batch * len(self.x_basis) * self.w_planes.shape[2]
        if self._scratch.size < need:
            self._scratch = np.empty(need, dtype=np.uint64)
        y = np.empty((batch, self.n_out))
        t, c, n_levels, kx, xb, wp, n_out, kw, wb, b = self._const
        library().lq_layer(x.ctypes.data, batch, self.n, t, c, n_levels, kx, xb, wp, n_out, kw, wb, b,
                           self._scratch.ctypes.data, y.ctypes.data, self.w_inter_address, self._path)
        return y

    def dense_planes(self, x_planes: np.ndarray) -> np.ndarray:
        kx = len(self.x_basis)
        if x_planes.ndim != 3 or x_planes.shape[1:] != (kx, self.w_planes.shape[2]):
            raise ValueError(f"LQDense: expected input planes (batch, {kx}, {self.w_planes.shape[2]}), got {x_planes.shape}")
        y = np.empty((x_planes.shape[0], self.n_out))
        library().lq_dense(np.ascontiguousarray(x_planes), x_planes.shape[0], kx, self.x_basis, self.w_planes,
                           self.n_out, self.w_planes.shape[1], self.w_basis, self.bias, self.n, y,
                           self.w_inter_address, self._path)
        return y


class _LayerDesc(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in ("n", "n_levels", "kx", "n_out", "kw", "relu")] + [
        (name, ctypes.c_void_p) for name in ("thresholds", "codes", "x_basis", "w_planes", "w_basis", "bias", "w_inter")
    ]


class _Net(ctypes.Structure):  # lq_kernel.cpp's LQNet
    _fields_ = [(name, ctypes.c_int) for name in ("n_layers", "path", "threads", "capacity", "width",
                                                  "scratch_per_sample")] + [
        (name, ctypes.c_void_p) for name in ("layers", "scratch", "buf_a", "buf_b")
    ]


def _set_data_offset(lib) -> None:
    """Tell the library where a numpy array object keeps its data pointer (``PyArrayObject.data``),
    found on live arrays and checked on several; if it cannot be found, ``lq_run_arrays`` stays off
    and :class:`LQSequential` passes addresses (slower at batch 1, same results)."""
    probes = [np.empty((n, 3)) for n in (1, 2, 5)] + [np.empty(7)[2:]]
    global _DATA_OFFSET
    offsets = {lib.lq_find_data_offset(a, a.__array_interface__["data"][0]) for a in probes}
    _DATA_OFFSET = offsets.pop() if len(offsets) == 1 and -1 not in offsets else -1
    lib.lq_set_data_offset(_DATA_OFFSET)


_DATA_OFFSET = -1


def _data_offset_known() -> bool:
    library()
    return _DATA_OFFSET >= 0


THREADS_ENV = "MSQ_LQ_THREADS"


def resolve_threads(threads: int | None = None) -> int:
    """``threads`` (else ``$MSQ_LQ_THREADS``, else 1); at least 1."""
    if threads is None:
        text = os.environ.get(THREADS_ENV) or "1"
        try:
            threads = int(text)
        except ValueError:
            raise ValueError(f"${THREADS_ENV}={text!r} is not a whole number of threads") from None
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"LQ CPU kernel: threads must be at least 1, got {threads}")
    return threads


class LQSequential:
    """``LQDense`` layers with a ReLU after every layer but the last, run in one compiled call.

    ``path``: the kernel path for the whole chain (``None``: ``$MSQ_LQ_PATH``, else the best this CPU runs).
    ``threads``: a batch is split into this many slices of samples, each run on its own thread
    (``std::thread``, started per call, so it pays off on batches, not at batch 1); ``None``:
    ``$MSQ_LQ_THREADS``, else 1. The output is bit-identical whatever the thread count.
    """

    def __init__(self, layers: list[LQDense], path: str | None = None, threads: int | None = None):
        if not layers:
            raise ValueError("LQSequential needs at least one layer")
        self._path = resolve_path(path)
        self.path = PATHS[self._path]
        self.threads = resolve_threads(threads)
        for a, b in zip(layers, layers[1:]):
            if a.n_out != b.n:
                raise ValueError(f"LQSequential: a layer with {a.n_out} outputs feeds one with {b.n} inputs")
        self.layers = list(layers)
        descs = []
        for i, layer in enumerate(self.layers):
            t, c, n_levels, kx, xb, wp, n_out, kw, wb, b = layer._const
            w_inter = layer.w_inter_address if self._path == layer._path else None
            descs.append(_LayerDesc(layer.n, n_levels, kx, n_out, kw, int(i < len(layers) - 1), t, c, xb, wp, wb, b,
                                    w_inter))
        self._descs = (_LayerDesc * len(descs))(*descs)
        self._width = max(layer.n_out for layer in self.layers)
        self._scratch_per_sample = max(len(l.x_basis) * l.w_planes.shape[2] for l in self.layers)
        self._n_in, self._n_out = self.layers[0].n, self.layers[-1].n_out
        lib = library()
        self._run_arrays = lib.lq_run_arrays if _data_offset_known() else None
        self._run = lib.lq_run
        self._net = _Net(len(self.layers), self._path, self.threads, 0, self._width, self._scratch_per_sample,
                         ctypes.addressof(self._descs), None, None, None)
        self._net_address = ctypes.addressof(self._net)
        self._capacity = 0
        self._lock = threading.Lock()
        self._grow(1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self._n_in:
            raise ValueError(f"LQSequential: expected inputs of shape (batch, {self._n_in}), got {x.shape}")
        batch = x.shape[0]
        y = np.empty((batch, self._n_out))
        with self._lock:
            if batch > self._capacity:
                self._grow(batch)
            if self._run_arrays is not None:
                rc = self._run_arrays(self._net_address, x, batch, y)
            else:
                rc = self._run(self._net_address, _address(x), batch, _address(y))
        if rc:
            raise RuntimeError(f"LQ CPU kernel: lq_run failed ({rc})")
        return y

    def _grow(self, batch: int) -> None:
        """Scratch buffers for ``batch`` samples, kept between calls (their addresses in the net struct)."""
        a, b = np.empty(batch * self._width), np.empty(batch * self._width)
        scratch = np.empty(batch * self._scratch_per_sample, dtype=np.uint64)
        self._bufs = (a, b, scratch)
        self._net.scratch, self._net.buf_a, self._net.buf_b = _address(scratch), _address(a), _address(b)
        self._net.capacity = self._capacity = batch


def interleave_outputs(w_planes: np.ndarray) -> np.ndarray:
    """``(n_out, kw, words)`` planes -> ``(groups, kw, words, 8)``: word i of plane q of output 8 g + t at
    ``[g, q, i, t]``, outputs past ``n_out`` zero (the AVX-512 path's layout)."""
    n_out, kw, words = w_planes.shape
    groups = -(-n_out // 8)
    padded = np.zeros((groups * 8, kw, words), dtype=np.uint64)
    padded[:n_out] = w_planes
    return aligned(padded.reshape(groups, 8, kw, words).transpose(0, 2, 3, 1))


ALIGN = 64  # bytes: a 512-bit load of an aligned word group never splits over two cache lines


def aligned(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``array`` whose data starts on a :data:`ALIGN`-byte boundary (the
    weights' vector loads: about 15-25 % faster on the AVX-512 path than numpy's 16-byte alignment)."""
    buf = np.empty(array.nbytes + ALIGN, dtype=np.uint8)
    start = -buf.ctypes.data % ALIGN
    out = buf[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def _address(array: np.ndarray) -> int:
    """Data pointer of a numpy array (cheaper than ``array.ctypes.data`` on the batch-1 hot path)."""
    return array.__array_interface__["data"][0]


def fp32_dense(x: np.ndarray, w_t: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The plain compiled fp32 loop: ``x (batch, n) @ w_t (n_out, n).T + bias``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    w_t = np.ascontiguousarray(w_t, dtype=np.float32)
    if x.ndim != 2 or w_t.ndim != 2 or x.shape[1] != w_t.shape[1]:
        raise ValueError(f"fp32_dense: shapes {x.shape} and {w_t.shape} do not match")
    y = np.empty((x.shape[0], w_t.shape[0]), dtype=np.float32)
    library().fp32_dense(x, x.shape[0], x.shape[1], w_t, w_t.shape[0], np.ascontiguousarray(bias, dtype=np.float32), y)
    return y
