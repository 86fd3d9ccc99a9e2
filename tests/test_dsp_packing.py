"""Two fixed-point products per DSP48E1 (issue 15): the packing conditions, the packed kernel bit-exact
at the extremes of its widths, the ``DSPPacking`` config key, and the estimator's count.

Three levels:

* numpy: the DSP48E1 arithmetic (25-bit AD, 18-bit B, 48-bit wrapping P) on the most negative weights
  and data, at the boundary of every condition; the correction constant is what makes it exact.
* g++: the header itself (``nnet_msq_dense.h``) on hand-written configs from :mod:`flow.hls.microarch`,
  with weights at the ends of their type (-2^(b-1) included, which the quantizer never makes),
  Latency and Resource, io_parallel and io_stream, split and folded, P-accumulated and fabric sums.
* hls4ml C-simulation: QKeras models with extreme rows and inputs, packed, bit-exact against Keras.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flow.hls import microarch
from flow.hls.microarch import DSPPack, RowKernel, integer_range, plan_dsp_packing, product_range
from flow.package_data import TEMPLATES

P_MOD = 1 << 48


def dsp_packed_sums(wa, wb, x, pack: DSPPack, correction: bool = True):
    """The DSP48E1 on integer vectors (Python ints, exact): returns (sum wa*x, sum wb*x) as the kernel
    splits P; ``correction=False`` is the plain WP521 recipe (P starts at 0, P >> k taken as is)."""
    k = pack.shift
    ad = [(int(a) << k) + int(b) for a, b in zip(wa, wb)]
    assert all(-(1 << 24) <= v < (1 << 24) for v in ad), "AD left the 25-bit A port"
    assert all(-(1 << 17) <= int(v) < (1 << 17) for v in x), "x left the 18-bit B port"
    p = (1 << (k - 1)) if correction else 0
    for a, v in zip(ad, x):
        p = (p + a * int(v)) % P_MOD  # the post-adder wraps at 48 bits
    high = p >> k
    high = high - (1 << (48 - k)) if high >= 1 << (47 - k) else high
    low = p & ((1 << k) - 1)
    if correction:
        low ^= 1 << (k - 1)
    low = low - (1 << k) if low >= 1 << (k - 1) else low
    return high, low


EXTREME_CASES = [  # (weight bits, data width, data signed, terms)
    (4, 8, True, 1), (4, 8, True, 16), (4, 8, True, 511), (4, 8, False, 64), (4, 6, False, 9), (3, 8, True, 100),
    (8, 8, True, 1), (8, 8, False, 1), (4, 16, True, 1), (6, 10, True, 8), (2, 12, True, 30), (4, 18, False, 1),
]


@pytest.mark.parametrize("wbits, dwidth, signed, terms", EXTREME_CASES)
def test_packed_dsp_arithmetic_is_exact_at_the_extremes(wbits, dwidth, signed, terms):
    pack, why = plan_dsp_packing(wbits, dwidth, signed, terms)
    if pack is None:
        assert (wbits, dwidth, signed) == (4, 18, False) and "condition (B)" in why
        return
    n = pack.terms
    w_lo, w_hi = integer_range(wbits, True)
    x_lo, x_hi = integer_range(dwidth, signed)
    rng = np.random.default_rng(wbits * 1000 + dwidth + n)
    vectors = [  # every corner of the product range, summed n times, in both fields; then random
        (np.full(n, w_lo), np.full(n, w_lo), np.full(n, x_lo)),
        (np.full(n, w_lo), np.full(n, w_hi), np.full(n, x_hi)),
        (np.full(n, w_hi), np.full(n, w_lo), np.full(n, x_hi)),
        (np.full(n, w_hi), np.full(n, w_hi), np.full(n, x_lo)),
        (np.full(n, w_lo), np.full(n, w_lo), np.full(n, x_hi)),
        (np.full(n, w_hi), np.full(n, w_lo), np.full(n, x_lo)),
    ] + [(rng.integers(w_lo, w_hi + 1, n), rng.integers(w_lo, w_hi + 1, n), rng.integers(x_lo, x_hi + 1, n)) for _ in range(50)]
    for wa, wb, x in vectors:
        expected = (sum(int(a) * int(v) for a, v in zip(wa, x)), sum(int(b) * int(v) for b, v in zip(wb, x)))
        assert dsp_packed_sums(wa, wb, x, pack) == expected


def test_without_the_correction_the_high_product_is_one_too_small_when_the_low_one_is_negative():
    pack, _ = plan_dsp_packing(4, 8, True, 1)
    k = pack.shift
    wa, wb, x = [3], [-2], [5]  # low product -10 < 0
    p = ((3 << k) + -2) * 5
    assert p >> k == 3 * 5 - 1  # the plain WP521 split
    assert dsp_packed_sums(wa, wb, x, pack) == (15, -10)


@pytest.mark.parametrize("wbits, dwidth, signed, terms", [(4, 8, True, 1), (4, 8, True, 16), (4, 6, False, 9), (8, 8, True, 1)])
def test_the_chosen_shift_is_the_smallest_one_condition_l_allows(wbits, dwidth, signed, terms):
    """With k - 1 the sum of n extreme products (most negative weight x most negative or largest data)
    leaves the low field: condition (L) is tight, not just sufficient."""
    pack, _ = plan_dsp_packing(wbits, dwidth, signed, terms)
    p_lo, p_hi = product_range(wbits, dwidth, signed)
    k = pack.shift - 1
    assert pack.terms * p_hi > (1 << (k - 1)) - 1 or pack.terms * p_lo < -(1 << (k - 1))
    narrow = DSPPack(k, pack.terms, wbits, pack.data_bits)
    w_lo, _ = integer_range(wbits, True)
    x_lo, x_hi = integer_range(dwidth, signed)
    x = x_lo if signed else x_hi  # the largest positive product (signed) / most negative (unsigned)
    n = pack.terms
    exact = (n * w_lo * x, n * w_lo * x)
    assert dsp_packed_sums([w_lo] * n, [w_lo] * n, [x] * n, pack) == exact
    assert dsp_packed_sums([w_lo] * n, [w_lo] * n, [x] * n, narrow) != exact


def test_conditions_name_the_one_that_fails():
    assert plan_dsp_packing(4, 8, True, 16)[0] == DSPPack(16, 16, 4, 8)  # P accumulates 16 products
    assert plan_dsp_packing(4, 8, True, 4608)[0] == DSPPack(12, 1, 4, 8)  # too many: split every cycle
    assert plan_dsp_packing(8, 8, True, 2)[0] == DSPPack(16, 1, 8, 8)  # INT8: one product per field only
    pack, why = plan_dsp_packing(4, 18, False, 1)
    assert pack is None and why.startswith("condition (B)") and "18-bit B port" in why
    pack, why = plan_dsp_packing(8, 16, True, 1)
    assert pack is None and why.startswith("condition (A)") and "25-bit A port" in why and "k = 24" in why
    assert plan_dsp_packing(4, 16, True, 1)[0] == DSPPack(20, 1, 4, 16)  # (A) at its limit: 4 + 20 = 24


def test_row_kernel_packs_by_default_and_dsp_packing_false_turns_it_off():
    auto = RowKernel("l", 16, 9, 2, 4, 4, "resource")  # 7 fixed rows, 4 chunks
    assert auto.pack == DSPPack(14, 4, 4, 8)
    assert auto.fix_pairs == 4 and auto.fix_dsps == 4 * 4 and auto.fixed.lanes == 7 * 4
    off = RowKernel("l", 16, 9, 2, 4, 4, "resource", dsp_packing=False)
    assert off.pack is None and off.fix_dsps == off.fixed.lanes == 28
    folded = RowKernel("l", 6, 7, 0, 18, 4, "resource")  # 3 rows per lane: 3 lanes, 2 DSPs
    assert folded.fixed.lanes == 3 and folded.fix_pairs == 2 and folded.fix_dsps == 2 and folded.pack.terms == 6
    lone = RowKernel("l", 16, 3, 2, 4, 4, "resource", dsp_packing=True)  # one fixed row: nothing to pair
    assert lone.pack is None and lone.fix_dsps == 4


def test_asking_for_packing_where_it_cannot_is_an_error_naming_the_condition():
    with pytest.raises(ValueError, match=r"layer 'fc': DSPPacking is True, but .*condition \(A\)"):
        RowKernel("fc", 16, 4, 0, 4, 8, "resource", data_width=16, dsp_packing=True)
    with pytest.raises(ValueError, match=r"layer 'fc': DSPPacking is True, but .*condition \(B\): the data \(unsigned 18"):
        RowKernel("fc", 16, 4, 0, 4, 4, "resource", data_width=18, data_signed=False, dsp_packing=True)
    assert RowKernel("fc", 16, 4, 0, 4, 8, "resource", data_width=16).pack is None  # auto: silently unpacked


# ---------------------------------------------------------------------------------------------------------
# g++: the header on hand-written configs

def _hls4ml_templates() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado"


# (name, n_in, n_fix, rf, weight bits, data type (width, integer, signed), strategy, io, weights, data)
HARNESS = [
    ("split_rf16_in_dsp_odd", 16, 5, 16, 4, (8, 8, True), "latency", "parallel", "min", "min"),
    ("split_rf5_padded", 16, 6, 5, 4, (8, 3, True), "resource", "parallel", "random", "random"),
    ("split_rf1_latency", 12, 4, 1, 4, (8, 4, False), "latency", "stream", "max", "max"),
    ("folded_in_dsp", 6, 7, 18, 4, (8, 2, True), "resource", "stream", "min", "min"),
    ("folded_fabric_int8", 40, 5, 120, 8, (8, 8, True), "resource", "parallel", "min", "min"),
    ("split_fabric_int8", 40, 4, 40, 8, (8, 1, True), "latency", "stream", "mixed", "mixed"),
    ("split_fabric_data16", 24, 3, 8, 4, (16, 6, True), "resource", "parallel", "min", "min"),
    ("split_in_dsp_boundary", 511, 2, 511, 4, (8, 8, True), "resource", "parallel", "min", "min"),
]


def _weights(kind, rng, n_fix, n_in, bits):
    lo, hi = integer_range(bits, True)
    if kind == "min":  # every weight the most negative of its type
        return np.full((n_fix, n_in), lo)
    if kind == "max":  # all-ones rows: every weight the largest positive
        return np.full((n_fix, n_in), hi)
    if kind == "mixed":  # rows alternately most negative / largest, so the fields have opposite signs
        return np.where(np.arange(n_fix)[:, None] % 2 == 0, lo, hi) * np.ones((1, n_in), dtype=np.int64)
    return rng.integers(lo, hi + 1, (n_fix, n_in))


def _data(kind, rng, n_samples, n_in, width, signed):
    lo, hi = integer_range(width, signed)
    raw = rng.integers(lo, hi + 1, (n_samples, n_in))
    if kind in ("min", "max", "mixed"):  # the first samples at the ends of the type
        raw[0], raw[1] = lo, hi
        raw[2] = np.where(np.arange(n_in) % 2 == 0, lo, hi)
    return raw


def _cpp_case(index, case, rng):
    name, n_in, n_fix, rf, bits, (width, integer, signed), strategy, io, wkind, dkind = case
    kernel = RowKernel(name, n_in, n_fix, 0, rf, bits, strategy, None, width, signed)
    assert kernel.pack is not None, f"{name}: not packed"
    values = kernel.config_values()
    w = _weights(wkind, rng, n_fix, n_in, bits)
    x = _data(dkind, rng, 4, n_in, width, signed)
    frac = width - integer
    flat = kernel.fixed.layout(w)
    dtype = f"ap_{'' if signed else 'u'}fixed<{width},{integer}>"
    acc = f"ap_fixed<{64},{64 - frac}>"
    members = "\n".join(
        f"    static const {'bool' if isinstance(v, bool) else 'unsigned'} {k} = {str(v).lower() if isinstance(v, bool) else v};"
        for k, v in values.items()
    )
    cfg = f"""
struct cfg{index} : nnet::msq_dense_config {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_fix};
    static const unsigned n_fix = {n_fix};
    static const unsigned n_sp2 = 0;
    static const unsigned n_fix_alloc = {n_fix};
    static const unsigned n_sp2_alloc = 1;
{members}
    static const int data_frac = {frac};
    typedef ap_int<{bits}> fix_weight_t;
    typedef ap_fixed<8, 8> bias_t;
    typedef {acc} fix_accum_t;
    typedef {acc} sp2_accum_t;
    typedef {acc} out_accum_t;
    static unsigned fix_row(unsigned r) {{ return r; }}
    static unsigned sp2_row(unsigned r) {{ return 0; }}
    static int row_shift(unsigned j) {{ return 0; }}
}};
"""
    wdecl = f"static cfg{index}::fix_weight_t w{index}[{flat.size}] = {{{', '.join(str(int(v)) for v in flat)}}};"
    call_args = f"w{index}, ws{index}, b{index}"
    body = [f"    {{ // {name}", f"        cfg{index}::sp2_weight_t ws{index}[1 * {rf}];",
            f"        cfg{index}::bias_t b{index}[{n_fix}];",  # ap_fixed's default constructor leaves garbage
            f"        for (unsigned j = 0; j < {n_fix}; j++) b{index}[j] = 0;",
            f"        for (unsigned j = 0; j < {rf}; j++) ws{index}[j] = 0;"]
    for s in range(x.shape[0]):
        raw = ", ".join(str(int(v)) for v in x[s])
        body.append(f"        {{ long long raw[{n_in}] = {{{raw}}}; {dtype} in[{n_in}]; {acc} out[{n_fix}];")
        body.append(f"          for (unsigned i = 0; i < {n_in}; i++) in[i] = double(raw[i]) / {float(2**frac)!r};")
        if io == "parallel":
            body.append(f"          nnet::msq_dense_{strategy}<{dtype}, {acc}, cfg{index}>(in, out, {call_args});")
        else:
            body.append(f"          hls::stream<nnet::array<{dtype}, {n_in}> > si; hls::stream<nnet::array<{acc}, {n_fix}> > so;")
            body.append(f"          nnet::array<{dtype}, {n_in}> pi; for (unsigned i = 0; i < {n_in}; i++) pi[i] = in[i]; si.write(pi);")
            body.append(f"          nnet::msq_dense_{strategy}<nnet::array<{dtype}, {n_in}>, nnet::array<{acc}, {n_fix}>, cfg{index}>(si, so, {call_args});")
            body.append(f"          nnet::array<{acc}, {n_fix}> po = so.read(); for (unsigned j = 0; j < {n_fix}; j++) out[j] = po[j];")
        body.append(f'          std::printf("{name}");')
        body.append(f'          for (unsigned j = 0; j < {n_fix}; j++) std::printf(" %lld", (long long)out[j].range(63, 0).to_int64());')
        body.append('          std::printf("\\n"); }')
    body.append("    }")
    expected = [(w @ x[s]).tolist() for s in range(x.shape[0])]
    return cfg + wdecl + "\n", "\n".join(body), expected


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_packed_header_is_bit_exact_at_the_extremes_with_gxx(tmp_path):
    rng = np.random.default_rng(15)
    decls, bodies, expected = [], [], {}
    for i, case in enumerate(HARNESS):
        decl, body, exp = _cpp_case(i, case, rng)
        decls.append(decl)
        bodies.append(body)
        expected[case[0]] = exp
    source = (
        '#include <cstdio>\n#include "nnet_utils/nnet_msq_dense.h"\n' + "\n".join(decls)
        + "\nint main() {\n" + "\n".join(bodies) + "\n    return 0;\n}\n"
    )
    (tmp_path / "harness.cpp").write_text(source)
    hls = _hls4ml_templates()
    include = tmp_path / "inc" / "nnet_utils"
    include.mkdir(parents=True)
    for header in list((hls / "nnet_utils").glob("*.h")) + list((TEMPLATES / "nnet_utils").glob("*.h")):
        shutil.copy(header, include / header.name)
    exe = tmp_path / "harness"
    subprocess.run(
        ["g++", "-std=c++14", "-O3", f"-I{tmp_path / 'inc'}", f"-I{hls / 'ap_types'}", str(tmp_path / "harness.cpp"), "-o", str(exe)],
        check=True, capture_output=True, text=True,
    )
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    got: dict[str, list] = {}
    for line in lines:
        name, *values = line.split()
        got.setdefault(name, []).append([int(v) for v in values])
    assert set(got) == set(expected)
    wrong = [name for name, exp in expected.items() if got[name] != exp]
    assert not wrong, f"packed kernel differs from x @ W in {wrong}: " + "; ".join(f"{got[n]} != {expected[n]}" for n in wrong)


def test_a_config_that_breaks_a_condition_does_not_compile(tmp_path):
    """The header's static_assert re-checks the generator: k one bit too small is refused by g++."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    kernel = RowKernel("l", 16, 4, 0, 16, 4, "resource")
    values = {**kernel.config_values(), "pack_shift": kernel.pack.shift - 1}
    members = "\n".join(
        f"    static const {'bool' if isinstance(v, bool) else 'unsigned'} {k} = {str(v).lower() if isinstance(v, bool) else v};"
        for k, v in values.items()
    )
    source = f"""#include "nnet_utils/nnet_msq_dense.h"
struct cfg : nnet::msq_dense_config {{
    static const unsigned n_in = 16, n_out = 4, n_fix = 4, n_sp2 = 0, n_fix_alloc = 4, n_sp2_alloc = 1;
{members}
}};
int main() {{ return sizeof(nnet::msq_dsp_pack_check<cfg>) > 0 ? 0 : 1; }}
"""
    (tmp_path / "bad.cpp").write_text(source)
    hls = _hls4ml_templates()
    include = tmp_path / "inc" / "nnet_utils"
    include.mkdir(parents=True)
    for header in list((hls / "nnet_utils").glob("*.h")) + list((TEMPLATES / "nnet_utils").glob("*.h")):
        shutil.copy(header, include / header.name)
    proc = subprocess.run(
        ["g++", "-std=c++14", "-fsyntax-only", f"-I{tmp_path / 'inc'}", f"-I{hls / 'ap_types'}", str(tmp_path / "bad.cpp")],
        capture_output=True, text=True,
    )
    assert proc.returncode != 0 and "DSP packing (L)" in proc.stderr


# ---------------------------------------------------------------------------------------------------------
# hls4ml: the DSPPacking key and C-simulation of packed models

EXTREME_ROW = 0.875  # mantissa 7 of 8 at scale 1: the largest 4-bit fixed code the quantizer makes


def _extreme_kernel(shape, rng):
    """Rows (last axis) that are all +max, all -max, alternating, and random codes."""
    n_out = shape[-1]
    k = rng.integers(-7, 8, size=shape).astype(np.float32) / 8
    for j in range(n_out):
        kind = j % 4
        if kind == 0:
            k[..., j] = EXTREME_ROW
        elif kind == 1:
            k[..., j] = -EXTREME_ROW
        elif kind == 2:
            k[..., j] = np.where(np.arange(int(np.prod(shape[:-1]))).reshape(shape[:-1]) % 2 == 0, EXTREME_ROW, -EXTREME_ROW)
    return k


def _extreme_inputs(rng, shape):
    """Inputs of quantized_bits(8, 2): the first samples all -4 (most negative), all max, alternating."""
    raw = rng.integers(-128, 128, size=shape)
    raw[0], raw[1] = -128, 127
    raw[2] = np.where(np.arange(raw[2].size).reshape(raw[2].shape) % 2 == 0, -128, 127)
    return (raw / 32).astype(np.float32)


def _dense_model(seed, n_in=16, hidden=7, n_out=5):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    from flow.convert import freeze_msq_rows
    from flow.quantizers import quantized_msq

    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((n_in,))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QDense(hidden, kernel_quantizer=quantized_msq(4, 0.0), bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc1")(x)
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    x = QDense(n_out, kernel_quantizer=quantized_msq(4, 0.4), bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc2")(x)
    model = tf.keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    layer = model.get_layer("fc1")
    layer.set_weights([_extreme_kernel(layer.kernel.shape, rng), np.zeros(hidden, np.float32)])
    freeze_msq_rows(model)
    return model


def _conv_model(seed):
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

    from flow.convert import freeze_msq_rows
    from flow.quantizers import quantized_msq

    tf.keras.utils.set_random_seed(seed)
    q = dict(bias_quantizer=quantized_bits(8, 3, alpha=1))
    inp = tf.keras.Input((6, 5, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv2D(5, 3, padding="same", kernel_quantizer=quantized_msq(4, 0.0), name="c1", **q)(x)
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    x = QConv2D(4, 3, strides=2, kernel_quantizer=quantized_msq(4, 0.25), name="c2", **q)(x)
    x = QActivation(quantized_relu(6, 2), name="a2")(x)
    x = tf.keras.layers.Flatten(name="flat")(x)
    x = QDense(3, kernel_quantizer=quantized_msq(4, 0.0), name="fc", **q)(x)
    model = tf.keras.Model(inp, x)
    layer = model.get_layer("c1")
    layer.set_weights([_extreme_kernel(layer.kernel.shape, np.random.default_rng(seed)), np.zeros(5, np.float32)])
    freeze_msq_rows(model)
    return model


PACKED_CSIM = [  # (model, io type, strategy, reuse factor): split and folded, P-accumulated and fabric sums
    ("dense", "io_parallel", "Latency", 1),
    ("dense", "io_stream", "Resource", 4),
    ("dense", "io_parallel", "Resource", 48),  # folded: 3 rows per lane on fc1 (n_in 16)
    ("conv", "io_stream", "Resource", 3),
    ("conv", "io_parallel", "Latency", 1),
]


@pytest.mark.csim
@pytest.mark.parametrize("kind, io_type, strategy, rf", PACKED_CSIM)
def test_packed_model_is_bit_exact_at_the_extremes(kind, io_type, strategy, rf, project_dir):
    from flow.convert import ConvertConfig, convert
    from tests.kernel_checks import assert_estimate_matches_config, assert_our_kernels, config_structs

    rng = np.random.default_rng(rf)
    model = _dense_model(3) if kind == "dense" else _conv_model(4)
    x = _extreme_inputs(rng, (60, 16) if kind == "dense" else (40, 6, 5, 2))
    hm = convert(model, project_dir, ConvertConfig(io_type=io_type, strategy=strategy, reuse_factor=rf, dsp_packing=True))
    assert_our_kernels(hm, model)
    assert_estimate_matches_config(hm, model, rf, strategy)
    first = hm.graph["fc1" if kind == "dense" else "c1"]
    kernel = first.microarch()
    assert kernel.pack is not None and kernel.fix_dsps < kernel.fixed.lanes
    structs = config_structs(hm)
    rows = structs[f"config{first.index}" if kind == "dense" else f"config{first.index}_mult"]
    assert rows["dsp_packed"] == 1 and rows["fix_dsps"] == kernel.fix_dsps
    y = model.predict(x, verbose=0)
    y_csim = hm.predict(np.ascontiguousarray(x)).reshape(y.shape)
    assert np.array_equal(y, y_csim), f"{np.sum(y != y_csim)} of {y.size} outputs differ"


def _converted(model, project_dir, edit, io_type="io_parallel"):
    import hls4ml

    from flow.convert import ConvertConfig, hls_config

    config = hls_config(model, ConvertConfig(strategy="Resource", reuse_factor=4))
    edit(config)
    return hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, output_dir=str(project_dir), backend="MSQ", io_type=io_type
    )


def test_dsp_packing_false_turns_packing_off_per_model_and_per_layer(project_dir):
    model = _dense_model(5)
    auto = _converted(model, project_dir / "auto", lambda c: None)
    assert auto.graph["fc1"].microarch().pack is not None and auto.graph["fc2"].microarch().pack is not None
    off = _converted(model, project_dir / "off", lambda c: c["Model"].update(DSPPacking=False))
    assert off.graph["fc1"].microarch().pack is None and off.graph["fc2"].microarch().pack is None
    one = _converted(model, project_dir / "one", lambda c: c["LayerName"]["fc2"].update(DSPPacking=False))
    assert one.graph["fc1"].microarch().pack is not None and one.graph["fc2"].microarch().pack is None


def test_misspelt_dsp_packing_keys_and_values_are_errors_naming_the_key(project_dir):
    model = _dense_model(5)
    with pytest.raises(ValueError, match=r"hls config Model: unknown config key 'DSPPackng'; did you mean 'DSPPacking'"):
        _converted(model, project_dir / "a", lambda c: c["Model"].update(DSPPackng=False))
    with pytest.raises(ValueError, match=r"LayerName 'fc1': unknown config key 'dsp_packing'; did you mean 'DSPPacking'"):
        _converted(model, project_dir / "b", lambda c: c["LayerName"]["fc1"].update(dsp_packing=False))
    with pytest.raises(ValueError, match=r"LayerName 'fc1': DSPPacking must be True .* got 'no'"):
        _converted(model, project_dir / "c", lambda c: c["LayerName"]["fc1"].update(DSPPacking="no"))


def test_asking_for_packing_where_the_widths_do_not_fit_names_the_condition(project_dir):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    from flow.convert import freeze_msq_rows
    from flow.quantizers import quantized_msq

    tf.keras.utils.set_random_seed(2)
    inp = tf.keras.Input((8,))
    x = QActivation(quantized_bits(16, 4, alpha=1), name="q_in")(inp)
    x = QDense(4, kernel_quantizer=quantized_msq(8, 0.0), bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc")(x)
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    auto = _converted(model, project_dir / "auto", lambda c: None)  # 8-bit weights x 16-bit data: silently unpacked
    assert auto.graph["fc"].microarch().pack is None
    with pytest.raises(ValueError, match=r"layer 'fc': DSPPacking is True, but two products do not fit one DSP48E1: "
                                         r"condition \(A\)"):
        _converted(model, project_dir / "on", lambda c: c["LayerName"]["fc"].update(DSPPacking=True))


# ---------------------------------------------------------------------------------------------------------
# yosys and the estimator


@pytest.mark.yosys
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (apt-get install yosys)")
@pytest.mark.parametrize("module, terms", [("packed_mul", 1), ("packed_mac", 64)])
def test_yosys_maps_a_packed_block_to_one_dsp48e1_for_two_products(module, terms, tmp_path):
    from flow.resources import calibrate

    pack, _ = plan_dsp_packing(4, 8, True, terms)
    run = {"block": module, "module": module, "params": {"A": 8, "K": 4, "S": pack.shift}, "nodsp": False}
    cost = calibrate.synthesize(run, calibrate.require_yosys(), tmp_path)
    assert cost["dsp"] == 1 and cost["lut"] == 0 and cost["inv"] <= 1 and cost["carry4"] == 0, cost
    stored = [b for b in calibrate.load_calibration()["blocks"] if b["block"] in ("packed_mul_dsp", "packed_mac_dsp")]
    assert stored and all(b["dsp"] == 1 and b["lut"] + b["inv"] <= 1 for b in stored)


def test_the_estimator_counts_two_products_per_packed_dsp():
    from flow.resources.estimate import Costs, LayerWork, estimate_layer

    costs = Costs()
    work = LayerWork("l", 64, 32, 8, reuse_factor=4, strategy="resource")  # 24 fixed rows, 16 chunks
    packed, plain = estimate_layer(work, costs), estimate_layer(LayerWork(**{**work.__dict__, "dsp_packing": False}), costs)
    assert packed["dsp_packed"] and not plain["dsp_packed"]
    assert packed["dsp_lanes"] == plain["dsp_lanes"] == 24 * 16  # fixed products per cycle
    assert plain["dsp"] == 24 * 16 and packed["dsp"] == 12 * 16 == packed["fix_dsps"]
    assert packed["cycles"] == plain["cycles"]
    # P accumulates the 4 products of a lane, packed or not (yosys maps P <= (first ? C : P) + M into the DSP48E1
    # either way: tests/test_estimate_vs_yosys.py, flow/resources/layer_model.json), so packing halves the DSPs
    # at the same fabric cost
    assert plain["lut"] == packed["lut"] > 0 and plain["ff"] == packed["ff"] > 0


@pytest.mark.parametrize("board, goal", [("pynq-z2", 3.5), ("zc706", 4.0)])
def test_peak_msq_with_packing_meets_the_gain_goal(board, goal):
    from flow.boards import get_board
    from flow.resources.estimate import best_share, pe_array, resnet18_workload

    b = get_board(board)
    plain, packed = pe_array(b), pe_array(b, packed=True)
    assert packed["dsp"] == plain["dsp"] == b.dsp and packed["dsp_lanes"] == 2 * plain["dsp_lanes"]
    assert packed["peak_gops_fixed"] == 2 * plain["peak_gops_fixed"]
    assert packed["lut_lanes"] < plain["lut_lanes"]  # the extra products' accumulators take LUTs
    assert packed["peak_gops_msq"] / plain["peak_gops_fixed"] >= goal
    works = resnet18_workload(4, 8)
    share_plain, _ = best_share(works, plain, b.clock_mhz)
    share_packed, _ = best_share(works, packed, b.clock_mhz)
    assert share_packed < share_plain  # more DSP throughput: fewer rows go to SP2
    with pytest.raises(ValueError, match=r"condition \(A\)"):
        pe_array(b, data_bits=16, weight_bits=8, packed=True)
