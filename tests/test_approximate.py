"""No silent approximation: layers with no exact type are named (flow.convert refuses them, the plain
hls4ml API warns), float models are not presented as exact, bad files are one-line errors."""

from __future__ import annotations

import warnings

import hls4ml
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from flow import golden
from flow.cli import main
from flow.convert import approximate_layers, convert, freeze_msq_rows
from flow.hls.passes.warn_default_precision import DefaultPrecisionWarning
from flow.quantizers import quantized_msq


def _q():
    return dict(kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1))


def _stock():
    return dict(kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1))


def _model(kind):
    """A partly quantized model and the layers that have no exact type."""
    tf.keras.utils.set_random_seed(1)
    if kind == "conv":
        inp = tf.keras.Input((6, 6, 1), name="x")
        x = QActivation(quantized_bits(6, 1, alpha=1), name="q_in")(inp)
        x = tf.keras.layers.Conv2D(2, 3, name="plain_conv")(x)
        x = QActivation(quantized_relu(6, 2), name="a1")(x)
        x = tf.keras.layers.Flatten(name="flat")(x)
        out = QDense(3, name="fc", **_q())(x)
        bad = {"plain_conv"}
    else:
        inp = tf.keras.Input((8,), name="x")
        x = QActivation(quantized_bits(6, 1, alpha=1), name="q_in")(inp)
        if kind == "dense":
            x = QDense(6, name="fc1", **_q())(x)
            x = QActivation(quantized_relu(6, 2), name="a1")(x)
            out = tf.keras.layers.Dense(3, name="plain_dense")(x)
            bad = {"plain_dense"}
        elif kind == "batchnorm":
            x = QDense(6, name="fc1", **_stock())(x)
            out = tf.keras.layers.BatchNormalization(name="bn")(x)
            bad = {"bn"}
        else:  # sigmoid
            x = QDense(6, name="fc1", **_q())(x)
            out = tf.keras.layers.Activation("sigmoid", name="sig")(x)
            bad = {"sig"}
    model = tf.keras.Model(inp, out, name=f"partly_{kind}")
    freeze_msq_rows(model)
    return model, bad


KINDS = ["dense", "conv", "batchnorm", "sigmoid"]


def test_average_pools_that_round_are_flagged():
    inp = tf.keras.Input((6, 6, 2))
    a = tf.keras.layers.AveragePooling2D(3, name="avg3")(inp)  # 9 values: not exact
    b = tf.keras.layers.AveragePooling2D(2, name="avg2")(inp)  # 4 values: exact
    g = tf.keras.layers.GlobalAveragePooling2D(name="gap")(b)  # 9 positions: not exact
    m = tf.keras.layers.Average(name="mean")([tf.keras.layers.Flatten()(a), tf.keras.layers.Flatten()(a)])
    model = tf.keras.Model(inp, [m, g])
    assert set(approximate_layers(model)) == {"avg3", "gap", "mean"}


@pytest.mark.parametrize("kind", KINDS)
def test_keras_side_check_names_exactly_the_layers(kind):
    model, bad = _model(kind)
    assert set(approximate_layers(model)) == bad


@pytest.mark.parametrize("kind", KINDS)
def test_convert_refuses_and_names_them(kind, project_dir):
    model, bad = _model(kind)
    with pytest.raises(ValueError, match="no exact fixed-point type") as err:
        convert(model, project_dir, compile=False)
    for name in bad:
        assert f"'{name}'" in str(err.value)
    assert "allow_approximate=True" in str(err.value) and "flow.head.split" in str(err.value)
    assert not project_dir.exists()  # refused before anything was written


@pytest.mark.parametrize("kind", KINDS)
def test_allow_approximate_reports_the_types(kind, project_dir):
    model, bad = _model(kind)
    lines = []
    hm = convert(model, project_dir, compile=False, allow_approximate=True, report=lines.append)
    assert set(hm.flow_approximations) == bad
    assert len(lines) == 1 and all(f"'{name}'" in lines[0] for name in bad) and "fixed<16,6" in lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_plain_api_warns_with_exactly_the_fallback_layers(kind, project_dir):
    model, bad = _model(kind)
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="MSQ")
    with pytest.warns(DefaultPrecisionWarning) as record:
        hm = hls4ml.converters.convert_from_keras_model(
            model, hls_config=cfg, backend="MSQ", output_dir=str(project_dir), part="xc7z020clg400-1"
        )
    ours = [w for w in record if issubclass(w.category, DefaultPrecisionWarning)]
    assert len(ours) == 1, "one warning per conversion"
    assert set(hm.flow_approximations) == bad
    for name in bad:
        assert f"'{name}'" in str(ours[0].message)


def test_plain_api_no_warning_when_everything_is_exact(project_dir):
    import flow

    model = flow.load_model(golden.GOLDEN_DIR / "digits_msq4.h5")
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="MSQ")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultPrecisionWarning)
        hm = hls4ml.converters.convert_from_keras_model(
            model, hls_config=cfg, backend="MSQ", output_dir=str(project_dir), part="xc7z020clg400-1"
        )
    assert hm.flow_approximations == {}


# --- the command line: exit code 2, one line, no traceback ----------------------------------------


@pytest.fixture(scope="module")
def float_model_file(tmp_path_factory):
    from flow.models import QuantSpec, mlp

    tf.keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("float") / "digits_float.h5"
    mlp(64, 10, (16,), QuantSpec("float")).save(path)
    return path


def _cli(capsys, args):
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured


def test_cli_convert_of_a_float_model_is_refused(float_model_file, tmp_path, capsys):
    code, captured = _cli(capsys, ["convert", str(float_model_file), str(tmp_path / "prj"), "--no-compile"])
    assert code == 2 and "no exact fixed-point type" in captured.err and "--allow-approximate" in captured.err
    assert "HLS project written" not in captured.out


def test_cli_convert_allow_approximate_lists_the_types(float_model_file, tmp_path, capsys):
    code, captured = _cli(
        capsys, ["convert", str(float_model_file), str(tmp_path / "prj"), "--no-compile", "--allow-approximate"]
    )
    assert code == 0 and "approximate" in captured.out and "fixed<16,6" in captured.out


def test_cli_estimate_costs_approximate_layers_and_says_so(float_model_file, capsys):
    code, captured = _cli(capsys, ["estimate", str(float_model_file), "--board", "pynq-z2"])
    assert code in (0, 1) and "approximate" in captured.out and "16-bit" in captured.out


@pytest.mark.parametrize("kind", ["directory", "savedmodel", "corrupt", "text", "missing"])
def test_cli_bad_model_paths_are_one_line_errors(kind, tmp_path, capsys):
    path = tmp_path / "m"
    expected = {"directory": "is a directory", "savedmodel": "SavedModel", "corrupt": "not a readable Keras model",
                "text": "neither an HDF5 nor a .keras", "missing": "does not exist"}[kind]
    if kind in ("directory", "savedmodel"):
        path.mkdir()
        if kind == "savedmodel":
            (path / "saved_model.pb").write_bytes(b"x")
    elif kind == "corrupt":
        path = tmp_path / "m.h5"
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    elif kind == "text":
        path.write_text("not a model")
    for args in (["convert", str(path), str(tmp_path / "prj")], ["estimate", str(path)]):
        code, captured = _cli(capsys, args)
        assert code == 2 and expected in captured.err and len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text, where",
    [("model: vgg\ncost_weight: [0.1\n", ":3:1"), ("model: vgg\n  bad: : x\n", ":2:"), ("- a\n- b\n", "expected a mapping")],
)
def test_cli_malformed_yaml_names_file_line_and_column(text, where, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    code, captured = _cli(capsys, ["learn-widths", "--config", str(config), "--out", str(tmp_path / "o")])
    assert code == 2 and str(config) in captured.err and where in captured.err
    assert len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize("precision", ["fixed<99", "fixed<6;2>", "float", "fixed<100,2>", "int<8>", "fixed<8,3,RND_ZERO,SAT>",
                                       "fixed<8,3,RND_CONV,SAT_ZERO>"])
def test_cli_malformed_input_precision(precision, tmp_path, capsys):
    model = golden.GOLDEN_DIR / "digits_msq4.h5"
    for args in (["convert", str(model), str(tmp_path / "prj"), "--input-precision", precision],
                 ["build", str(model), "--out", str(tmp_path / "b"), "--input-precision", precision]):
        code, captured = _cli(capsys, args)
        assert code == 2 and "input_precision" in captured.err and repr(precision) in captured.err, captured.err
        assert not (tmp_path / "prj").exists() and not (tmp_path / "b").exists()
