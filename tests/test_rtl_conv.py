"""RTL route, convolutions: MSQ/SP2/fixed Conv1D/Conv2D (pixel scan through a line buffer into the Dense
datapath), max/average pooling and Flatten into a Dense head, simulated by Verilator, equal C-simulation and
Keras bit for bit; the scan's cycles per sample; what is still refused names the layer."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits, quantized_relu

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.quantizers import quantized_msq

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="verilator not installed (apt-get install verilator; .ci/run installs it)")
pytestmark = [pytest.mark.verilator, needs_verilator]

SHAPE = (8, 8, 2)


def _quant(bits: int, share: float) -> dict:
    return dict(kernel_quantizer=quantized_msq(bits, share), bias_quantizer=quantized_bits(8, 3, alpha=1))


def cnn(bits: int, share: float, convs, pool, seed: int, dims: int = 2):
    """q_in -> convs (kernel, stride, padding, filters), each with a quantized ReLU -> pooling (op, size, padding)
    -> Flatten -> QDense(5). Row magnitudes are spread so that row scales differ."""
    tf.keras.utils.set_random_seed(seed)
    shape = SHAPE if dims == 2 else (20, 2)
    inp = tf.keras.Input(shape)
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    layer = QConv2D if dims == 2 else QConv1D
    for i, (kernel, stride, padding, filters) in enumerate(convs):
        x = layer(filters, kernel, strides=stride, padding=padding, name=f"c{i + 1}", **_quant(bits, share))(x)
        x = QActivation(quantized_relu(min(8, bits + 2), 2), name=f"a{i + 1}")(x)
    if pool is not None:
        op, size, padding = pool
        kind = {("max", 2): tf.keras.layers.MaxPooling2D, ("avg", 2): tf.keras.layers.AveragePooling2D,
                ("max", 1): tf.keras.layers.MaxPooling1D, ("avg", 1): tf.keras.layers.AveragePooling1D}[op, dims]
        x = kind(size, padding=padding, name="pool")(x)
    x = tf.keras.layers.Flatten(name="flat")(x)
    x = QDense(5, name="fc", **_quant(bits, share))(x)
    model = tf.keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    for lyr in model.layers:
        if hasattr(lyr, "kernel"):
            k = lyr.kernel.numpy()
            k *= rng.uniform(0.1, 1.0, size=k.shape[-1]).astype(np.float32)
            lyr.set_weights([k, rng.normal(0, 0.5, size=k.shape[-1]).astype(np.float32)])
    freeze_msq_rows(model)
    return model


# id: (bits, share, strategy, reuse factor, convs, pooling, dims); 8x8x2 inputs (Conv1D: 20x2)
CASES = {
    # fully parallel, constant weights: 3x3 stride 1 'same', max pooling
    "b3-s0-Latency1-k3s1same-max": (3, 0.0, "Latency", 1, [(3, 1, "same", 4)], ("max", 2, "valid"), 2),
    # 2x2 stride 2 'valid' (every padded position emits), average pooling 'same' without padding
    "b8-s1-Latency1-k2s2valid-avg": (8, 1.0, "Latency", 1, [(2, 2, "valid", 3)], ("avg", 2, "same"), 2),
    # split lanes, RF 5 divides no layer (n_in 18, 12, 8): 3x3 stride 2 'same' then 2x2 stride 1 'valid';
    # average pooling 'same' over a 3x3 map (padded windows: 4, 2 and 1 inputs)
    "b4-s0.5-Resource5-k3s2same-k2s1valid-avgpad": (4, 0.5, "Resource", 5, [(3, 2, "same", 3), (2, 1, "valid", 2)],
                                                    ("avg", 2, "same"), 2),
    # RF 7 divides no layer: 3x3 stride 1 'valid', 2x2 stride 2 'same' (padding bottom/right), max pooling
    "b6-s0.5-Resource7-k3s1valid-k2s2same-max": (6, 0.5, "Resource", 7, [(3, 1, "valid", 2), (2, 2, "same", 3)],
                                                 ("max", 2, "valid"), 2),
    # folded lanes (RF = 2 x n_in of c1: two filters per lane), fixed only: DSP packing
    "b5-s0-Resource36-folded-k3s2valid": (5, 0.0, "Resource", 36, [(3, 2, "valid", 4)], None, 2),
    # Conv1D: kernel 5 stride 2 'same', kernel 3 stride 1 'valid', average pooling
    "conv1d-b4-s0.5-Resource3": (4, 0.5, "Resource", 3, [(5, 2, "same", 4), (3, 1, "valid", 3)], ("avg", 2, "valid"), 1),
}


def _inputs(seed: int, n: int, dims: int) -> np.ndarray:
    shape = SHAPE if dims == 2 else (20, 2)
    return (np.random.default_rng(seed).integers(-96, 96, (n, *shape)) / 32).astype(np.float32)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Builds shared by the tests of this module: case id -> (model, hls model, design, RTL model)."""
    from flow.rtl import RTLModel, emit

    cache = {}

    def get(case: str):
        if case not in cache:
            bits, share, strategy, rf, convs, pool, dims = CASES[case]
            model = cnn(bits, share, convs, pool, seed=bits * 10 + rf, dims=dims)
            root = tmp_path_factory.mktemp(case.replace(".", "_"))
            hm = convert(model, root / "hls", ConvertConfig(strategy=strategy, reuse_factor=rf))
            design = emit(hm, root / "rtl")
            cache[case] = (model, hm, design, RTLModel(design))
        return cache[case]

    return get


@pytest.mark.parametrize("case", list(CASES))
def test_rtl_conv_battery_bit_exact(case, builds):
    from flow.rtl.netlist import ConvStage
    from flow.rtl.sim import lint

    model, hm, design, rtl = builds(case)
    dims = CASES[case][-1]
    assert lint(design.verilog) == []
    assert any(isinstance(st, ConvStage) for st in design.netlist.stages)
    x = _inputs(len(case), 80, dims)
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y_keras.shape)
    y_rtl = rtl.predict(x.reshape(len(x), -1))
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, y_rtl), f"{np.sum(y_csim != y_rtl)} of {y_rtl.size} RTL outputs differ"
    assert len(np.unique(y_rtl, axis=0)) > 40  # distinct samples: a lost, repeated or swapped one would show


def test_conv_scan_follows_the_microarchitecture(builds):
    """The conv stage's kernel is the layer's RowKernel (same lanes, reuse factor, scan), and a frame occupies the
    scan for padded_pixels x RF cycles, as RowKernel.cycles counts (plus its pipeline depth)."""
    from flow.hls.microarch import SCAN_DEPTH
    from flow.rtl.conv import interval
    from flow.rtl.netlist import ConvStage

    _, hm, design, _ = builds("b4-s0.5-Resource5-k3s2same-k2s1valid-avgpad")
    convs = [st for st in design.netlist.stages if isinstance(st, ConvStage)]
    assert [st.name for st in convs] == ["c1", "c2"]
    for st in convs:
        k = hm.graph[st.name].microarch()
        assert st.dense.kernel == k and st.scan == k.scan
        assert not hasattr(st, "kernel")  # the estimator costs stages with a kernel as Dense layers
        assert interval(st) == k.pixels * k.reuse_factor == k.cycles - SCAN_DEPTH
    assert design.interval_cycles == max(interval(st) for st in convs)
    entry = next(e for e in design.description()["stages"] if e["name"] == "c1")
    assert entry["padded_positions"] == 9 * 9 and entry["interval_cycles"] == 81 * 5


@pytest.mark.parametrize("case", ["b4-s0.5-Resource5-k3s2same-k2s1valid-avgpad", "b3-s0-Latency1-k3s1same-max"])
def test_rtl_cycles_per_sample_are_the_scan(case, builds):
    """RTLModel.cycles: each further sample costs the slowest stage's interval (the first conv's scan)."""
    model, _, design, rtl = builds(case)
    x = _inputs(5, 12, 2).reshape(12, -1)
    counts = []
    for n in (4, 8, 12):
        rtl.predict(x[:n])
        counts.append(rtl.cycles)
    assert counts[2] - counts[1] == counts[1] - counts[0] == 4 * design.interval_cycles
    assert counts[0] < 4 * design.interval_cycles + design.sample_cycles


@pytest.mark.parametrize("stalls, seed", [((50, 0), 2), ((0, 70), 3), ((60, 60), 4)])
def test_conv_axi_stalls_lose_nothing(stalls, seed, builds):
    _, hm, _, rtl = builds("b6-s0.5-Resource7-k3s1valid-k2s2same-max")
    x = _inputs(seed, 30, 2)
    y_csim = hm.predict(x).reshape(len(x), -1)
    assert np.array_equal(y_csim, rtl.predict(x.reshape(len(x), -1), stalls=stalls, seed=seed))


@pytest.mark.yosys
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (apt-get install yosys)")
def test_yosys_conv_dsps_are_the_row_kernel(tmp_path):
    """yosys maps the convolution's Dense datapath like a Dense layer's: RowKernel.fix_dsps DSP48E1 (two fixed products
    per DSP, packed), counted in the stage (the scan module and its datapath module)."""
    from flow.rtl import emit
    from flow.rtl.synth import synthesize

    tf.keras.utils.set_random_seed(4)
    inp = tf.keras.Input((6, 6, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    model = tf.keras.Model(inp, QConv2D(4, 3, padding="same", name="c1", **_quant(4, 0.5))(x))
    freeze_msq_rows(model)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy="Resource", reuse_factor=6), compile=False)
    design = emit(hm, tmp_path / "rtl")
    k = design.netlist.stages[0].dense.kernel
    assert k.pack is not None and k.fix_dsps < k.fixed.lanes
    measured = synthesize(design)
    assert measured["stages"]["c1"]["dsp"] == measured["total"]["dsp"] == k.fix_dsps
    assert measured["stages"]["c1"]["lut"] > 0 and measured["stages"]["c1"]["bram18"] == 0


def test_signed_pooling_with_padding_equals_csim(tmp_path):
    """Pooling straight on a convolution's signed output: max 3x3 stride 2 'same' (padded with hls4ml's pad_val),
    then average 3x3 stride 1 'same' (4, 6 or 9 inputs: the truncating division toward zero, by a shift for 4).
    A 3x3 average is not exact in fixed point, so hls4ml's C-simulation (and the RTL) differ from Keras there;
    the conversion needs allow_approximate. RTL == C-simulation bit for bit."""
    from flow.rtl import RTLModel, emit
    from flow.rtl.sim import lint

    tf.keras.utils.set_random_seed(5)
    inp = tf.keras.Input(SHAPE)
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv2D(3, 3, padding="same", name="c1", **_quant(4, 0.5))(x)
    x = tf.keras.layers.MaxPooling2D(3, strides=2, padding="same", name="mpool")(x)
    x = tf.keras.layers.AveragePooling2D(3, strides=1, padding="same", name="apool")(x)
    x = QDense(4, name="fc", **_quant(4, 0.5))(tf.keras.layers.Flatten(name="flat")(x))
    model = tf.keras.Model(inp, x)
    freeze_msq_rows(model)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy="Resource", reuse_factor=4), allow_approximate=True,
                 report=lambda *a: None)
    design = emit(hm, tmp_path / "rtl")
    assert lint(design.verilog) == []
    x = _inputs(3, 60, 2)
    y_csim = hm.predict(x).reshape(len(x), -1)
    assert np.array_equal(y_csim, RTLModel(design).predict(x.reshape(len(x), -1)))


def test_unsigned_padded_max_pooling_warns(tmp_path):
    """hls4ml pads an unsigned max pool with its MSB-only pad_val (half the range), unlike Keras: the RTL follows the
    C-simulation and says so, naming the layer."""
    from flow.rtl import emit

    tf.keras.utils.set_random_seed(5)
    inp = tf.keras.Input((6, 6, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv2D(3, 2, strides=2, name="c1", **_quant(4, 0.5))(x)  # 3x3
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    x = tf.keras.layers.MaxPooling2D(2, padding="same", name="mpool")(x)  # padded to 4x4
    model = tf.keras.Model(inp, tf.keras.layers.Flatten(name="flat")(x))
    freeze_msq_rows(model)
    with pytest.raises(ValueError, match=r"'mpool': max Pooling2D pads"):  # refused at conversion, see below
        convert(model, tmp_path / "refused", compile=False)
    hm = convert(model, tmp_path / "hls", compile=False, allow_approximate=True, report=lambda *a: None)
    with pytest.warns(UserWarning, match=r"layer 'mpool' \(Pooling2D\): max pooling pads an unsigned input"):
        emit(hm, tmp_path / "rtl")


def _refused(model, tmp_path, match: str, allow_approximate: bool = False):
    from flow.rtl import emit

    freeze_msq_rows(model)
    hm = convert(model, tmp_path / "hls", compile=False, allow_approximate=allow_approximate, report=lambda *a: None)
    with pytest.raises(ValueError, match=match):
        emit(hm, tmp_path / "rtl")


def test_residual_add_of_convolutions_is_one_block(tmp_path):
    """A skip around a 1x1 convolution becomes one Add block (its simulation: tests/test_rtl_add.py, ResNet-8)."""
    from flow.rtl import emit
    from flow.rtl.netlist import AddBlock
    from flow.rtl.sim import lint

    tf.keras.utils.set_random_seed(2)
    inp = tf.keras.Input((6, 6, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    a = QConv2D(3, 3, padding="same", name="c1", **_quant(4, 0.5))(x)
    a = QActivation(quantized_relu(6, 2), name="a1")(a)
    b = QConv2D(3, 1, name="c2", **_quant(4, 0.5))(a)
    b = QActivation(quantized_relu(6, 2), name="a2")(b)
    y = tf.keras.layers.Add(name="res_add")([a, b])
    y = QDense(3, name="fc", **_quant(4, 0.5))(tf.keras.layers.Flatten(name="flat")(y))
    model = tf.keras.Model(inp, y)
    freeze_msq_rows(model)
    design = emit(convert(model, tmp_path / "hls", compile=False), tmp_path / "rtl")
    block = next(st for st in design.netlist.stages if isinstance(st, AddBlock))
    assert (block.name, [s.name for s in block.branch_a], [s.name for s in block.branch_b]) == ("res_add", [], ["c2", "a2"])
    assert lint(design.verilog) == []


def test_global_pooling_is_refused_by_name(tmp_path):
    tf.keras.utils.set_random_seed(2)
    inp = tf.keras.Input((6, 6, 2))
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv2D(4, 3, name="c1", **_quant(4, 0.5))(x)
    x = QActivation(quantized_relu(6, 2), name="a1")(x)
    x = tf.keras.layers.GlobalMaxPooling2D(name="gpool")(x)
    y = QDense(3, name="fc", **_quant(4, 0.5))(x)
    _refused(tf.keras.Model(inp, y), tmp_path, r"layer 'gpool' \(GlobalPooling2D\) has no RTL implementation yet",
             allow_approximate=True)  # hls4ml's default types for the global pool


@pytest.mark.slow
def test_zoo_vgg_on_digits_rtl_equals_csim_and_keras(tmp_path):
    """The zoo's VGG (3 blocks of 3x3 'same' convolutions and 2x2 max pooling, Flatten, Dense) on the whole digits
    test split: RTL == C-simulation == Keras."""
    from flow.data import IMAGE_SHAPES, load_digits
    from flow.models import QuantSpec, vgg
    from flow.rtl import RTLModel, emit
    from flow.rtl.sim import lint

    d = load_digits().with_shape(IMAGE_SHAPES["digits"])
    tf.keras.utils.set_random_seed(3)
    model = vgg(d.x_test.shape[1:], 10, width=0.0625, spec=QuantSpec("msq", 4, 0.6, in_bits=6, in_integer=1))
    freeze_msq_rows(model)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy="Resource", reuse_factor=16))
    design = emit(hm, tmp_path / "rtl")
    assert lint(design.verilog) == []
    x = np.ascontiguousarray(d.x_test)
    y_keras = model.predict(x, verbose=0)
    y_csim = hm.predict(x).reshape(y_keras.shape)
    y_rtl = RTLModel(design).predict(x.reshape(len(x), -1))
    assert np.array_equal(y_keras, y_csim)
    assert np.array_equal(y_csim, y_rtl), f"{np.sum(y_csim != y_rtl)} of {y_rtl.size} RTL outputs differ"
