"""Having our package installed, imported and used leaves hls4ml's stock backends alone.

Each test runs this file as a script in fresh Python processes (``python tests/test_hls4ml_isolation.py
worker ...``) and converts the same stock QKeras models with backend 'Vitis' (io_parallel, ``write()``
only) into the same output path:

- ``without``: our package cannot be imported at all. The editable install declares the entry point
  ``hls4ml.backends: MSQ = flow.hls.plugin:register`` in the venv's ``msq_flow-*.dist-info``; rather than
  filtering ``importlib.metadata`` (whose API differs between Python versions), the worker puts a finder
  first on ``sys.meta_path`` that raises ``ModuleNotFoundError`` for ``flow`` and ``flow.*`` before it
  imports anything. hls4ml's plugin loader then catches the failed ``ep.load()``, prints its
  "failed to load backend plugin" warning (checked) and registers nothing: hls4ml exactly as if our package
  were not installed. ``HLS4ML_BACKEND_PLUGINS`` is removed from the environment too.
- ``with``: plain ``import hls4ml`` (the entry point registers 'MSQ'); the worker checks hls4ml's own
  objects right after the import, converts our models with backend 'MSQ' through the plain hls4ml API
  (and checks again), then through ``flow.convert`` (which opts in to the parser hooks for the
  process, see ``flow/hls/hls4ml_hooks.py``), and only then converts the stock models.

The written projects must be byte-identical. Two things in them are not functions of the model and are
made equal instead of being ignored: hls4ml stamps every project with ``uuid.uuid4()``
(``hls4ml/model/optimizer/passes/stamp.py``), which the worker fixes for the ``write()`` call; and
hls4ml's YAML writer saves the Keras model as ``keras_model.keras``, a zip whose members carry zip
timestamps, whose ``metadata.json`` holds ``date_saved`` and whose ``config.json`` numbers shared objects by
their memory address (``shared_object_id``): it is compared member by member, without ``date_saved`` and with
those ids renumbered by first appearance (sharing kept); everything else must match byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
OUR_LAYERS = {"MSQDense", "MSQConv1D", "MSQConv2D", "LQDense", "LQConv1D", "LQConv2D", "LQActivation"}


# --- worker side (runs in a fresh process; imports nothing of ours before the blocker) ---------------------


class _BlockOurPackage:
    """A meta-path finder that makes ``flow`` unimportable (the 'without' run)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "flow" or fullname.startswith("flow."):
            raise ModuleNotFoundError(f"No module named '{fullname}' (blocked by the isolation test)", name=fullname)
        return None


def _stock_models():
    """Stock QKeras models with explicit names and weights (independent of anything run before)."""
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, QDense, binary, quantized_bits, quantized_po2, quantized_relu, ternary

    def q6():
        return quantized_bits(6, 0, alpha=1)

    models = {}
    inp = tf.keras.Input((16,), name="x")
    h = QDense(10, kernel_quantizer=q6(), bias_quantizer=q6(), name="d1")(inp)
    h = QActivation(quantized_relu(6, 2), name="a1")(h)
    h = QDense(4, kernel_quantizer=q6(), bias_quantizer=q6(), name="d2")(h)
    models["stock_mlp"] = tf.keras.Model(inp, h, name="stock_mlp")

    inp = tf.keras.Input((6, 6, 2), name="img")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    h = QConv2D(3, (3, 3), kernel_quantizer=q6(), bias_quantizer=q6(), name="c1")(h)
    h = QActivation(quantized_relu(6, 2), name="a1")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = QDense(3, kernel_quantizer=q6(), bias_quantizer=q6(), name="d1")(h)
    models["stock_cnn"] = tf.keras.Model(inp, h, name="stock_cnn")

    inp = tf.keras.Input((12,), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    h = QDense(8, kernel_quantizer=quantized_po2(4), bias_quantizer=quantized_bits(8, 3, alpha=1), name="po2")(h)
    h = QActivation(quantized_bits(8, 3, alpha=1), name="a1")(h)
    h = QDense(6, kernel_quantizer=binary(alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="bin")(h)
    h = QActivation(quantized_relu(6, 2), name="a2")(h)
    h = QDense(3, kernel_quantizer=ternary(alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="ter")(h)
    models["stock_po2_binary_ternary"] = tf.keras.Model(inp, h, name="stock_po2_binary_ternary")

    rs = np.random.RandomState(7)
    for model in models.values():
        model.set_weights([rs.uniform(-1, 1, w.shape).astype(np.float32) for w in model.get_weights()])
    return models


def _write_vitis(model, out_dir: Path):
    import uuid
    from unittest import mock

    import hls4ml

    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vitis")
    hm = hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, backend="Vitis", output_dir=str(out_dir), io_type="io_parallel"
    )
    with mock.patch("uuid.uuid4", return_value=uuid.UUID(int=0x5EED)):
        hm.write()


def _msq_models():
    """Our models: MSQ rows, an LQ kernel with an LQ activation (the parser hooks' two cases)."""
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    from flow.convert import freeze_msq_rows
    from flow.quantizers import quantized_lq, quantized_msq

    inp = tf.keras.Input((12,), name="x")
    h = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    h = QDense(8, kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1), name="m1")(h)
    h = QActivation(quantized_relu(6, 2), name="a1")(h)
    h = QDense(3, kernel_quantizer=quantized_msq(4, 0.5), bias_quantizer=quantized_bits(8, 3, alpha=1), name="m2")(h)
    msq = tf.keras.Model(inp, h, name="ours_msq")
    freeze_msq_rows(msq)

    inp = tf.keras.Input((8,), name="x")
    h = QActivation(quantized_lq(2, per_channel=False, basis=[0.25, 0.5]), name="a0")(inp)
    h = QDense(4, kernel_quantizer=quantized_lq(2, mantissa_bits=4), bias_quantizer=quantized_bits(8, 2, alpha=1),
               name="d1")(h)
    lq = tf.keras.Model(inp, h, name="ours_lq")
    rs = np.random.RandomState(3)
    for model in (msq, lq):
        model.set_weights([rs.uniform(-1, 1, w.shape).astype(np.float32) for w in model.get_weights()])
    return msq, lq


def _hls4ml_state() -> dict:
    """A picture of hls4ml's registries and of the objects our old plugin used to replace."""
    import hls4ml
    import hls4ml.converters.keras.qkeras as qk
    import hls4ml.model.quantizers as hq
    from hls4ml.backends.backend import backend_map
    from hls4ml.converters.keras_v2_to_hls import layer_handlers
    from hls4ml.model.flow.flow import flow_map
    from hls4ml.model.layers import layer_map
    from hls4ml.model.optimizer.optimizer import optimizer_map
    from hls4ml.writer.writers import writer_map

    def name(obj):
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"

    def flow_picture(flow):
        optimizers = flow.optimizers
        return {
            "type": type(flow).__qualname__,
            "optimizers": sorted(optimizers) if isinstance(optimizers, (set, frozenset)) else list(optimizers)
            if isinstance(optimizers, (list, tuple)) else name(optimizers),
            "requires": list(flow.requires),
        }

    def backend_picture(backend):
        picture = {"default": backend.get_default_flow()}
        if hasattr(backend, "_get_layer_templates"):  # the FPGA backends
            picture.update(writer=backend.get_writer_flow(), templates=sorted(backend._get_layer_templates()))
        return picture

    stock_backends = {k: v for k, v in backend_map.items() if k != "msq"}
    return {
        "handler_table_type": name(type(layer_handlers)),
        "handlers": {k: name(v) for k, v in layer_handlers.items()},
        "handlers_are_hls4ml_functions": all(v.__module__.startswith("hls4ml.") for v in layer_handlers.values()),
        "qkeras_handler_globals": {
            "QKerasQuantizer_is_stock": qk.QKerasQuantizer is hq.QKerasQuantizer,
            "QKerasQuantizer": name(qk.QKerasQuantizer),
            "get_activation_quantizer": name(qk.get_activation_quantizer),
            "get_quantizer_from_config": name(qk.get_quantizer_from_config),
            "QActivation_handler_is_stock": layer_handlers.get("QActivation") is qk.parse_qactivation_layer,
        },
        "model_quantizers": {k: name(getattr(hq, k)) for k in dir(hq) if k.endswith("Quantizer")},
        "meta_path": [name(type(f)) for f in sys.meta_path],
        "layer_map": {k: name(v) for k, v in layer_map.items() if k not in OUR_LAYERS},
        "optimizers": {k: name(type(v)) for k, v in optimizer_map.items() if not k.startswith("msq:")},
        "flows": {k: flow_picture(v) for k, v in flow_map.items() if not k.startswith("msq:")},
        "backends": {k: name(type(v)) for k, v in stock_backends.items()},
        "backend_flows": {k: backend_picture(v) for k, v in stock_backends.items()},
        "writers": {k: name(v) for k, v in writer_map.items() if k.lower() != "msq"},
        "version": hls4ml.__version__,
    }


def _pristine_problems(state: dict) -> list[str]:
    """What in ``state`` says that hls4ml's own objects were replaced."""
    problems = []
    if state["handler_table_type"] != "builtins.dict":
        problems.append(f"layer handler table is a {state['handler_table_type']}")
    if not state["handlers_are_hls4ml_functions"]:
        problems.append("a layer handler is not hls4ml's own function")
    for key, value in state["qkeras_handler_globals"].items():
        if value is False or (isinstance(value, str) and not value.startswith("hls4ml.")):
            problems.append(f"hls4ml.converters.keras.qkeras: {key} = {value}")
    for key, value in state["model_quantizers"].items():
        if not value.startswith("hls4ml."):
            problems.append(f"hls4ml.model.quantizers.{key} = {value}")
    for finder in state["meta_path"]:
        if finder.startswith("flow."):
            problems.append(f"finder of ours on sys.meta_path: {finder}")
    return problems


def worker(mode: str, out_dir: str, report_path: str) -> None:
    os.environ.pop("HLS4ML_BACKEND_PLUGINS", None)
    if mode == "without":
        sys.meta_path.insert(0, _BlockOurPackage())
    import tensorflow as tf  # noqa: F401
    import hls4ml
    from hls4ml.backends.backend import backend_map

    report = {"mode": mode, "checks": {}}
    if mode == "without":
        assert "msq" not in backend_map and not any(m == "flow" or m.startswith("flow.") for m in sys.modules)
    else:
        assert "msq" in backend_map, "the entry point did not register backend 'MSQ'"
        report["checks"]["after_import"] = _pristine_problems(_hls4ml_state())
        msq, lq = _msq_models()
        scratch = Path(out_dir).parent / "msq_scratch"
        # the plain hls4ml API, backend 'MSQ' (parser hooks only while parsing this conversion)
        config = hls4ml.utils.config_from_keras_model(msq, granularity="name", backend="MSQ")
        hm = hls4ml.converters.convert_from_keras_model(
            msq, hls_config=config, backend="MSQ", output_dir=str(scratch / "plain"), io_type="io_parallel"
        )
        assert hm.graph["m1"].class_name == "MSQDense", hm.graph["m1"].class_name
        hm.write()
        report["checks"]["after_plain_msq_conversion"] = _pristine_problems(_hls4ml_state())
        # the flow's own API (opts in to the hooks for the process), LQ activation included
        from flow.convert import ConvertConfig, convert

        hm = convert(lq, scratch / "lq", compile=False)
        assert hm.graph["a0"].class_name == "LQActivation" and hm.graph["d1"].class_name == "LQDense"
        hm.write()
        hm = convert(msq, scratch / "vitis", ConvertConfig(backend="Vitis"), compile=False)
        assert hm.graph["m1"].class_name == "Dense"
        # hooks on now: a stock config still gives hls4ml's own wrapper class
        import hls4ml.converters.keras.qkeras as qk
        import hls4ml.model.quantizers as hq

        stock = {"class_name": "quantized_bits", "config": {"bits": 6, "integer": 0, "alpha": 1}}
        report["checks"]["stock_quantizer_with_hooks_on"] = type(qk.QKerasQuantizer(stock)).__qualname__
        assert type(qk.QKerasQuantizer(stock)) is hq.QKerasQuantizer
    for name, model in _stock_models().items():
        _write_vitis(model, Path(out_dir) / name)
    report["state"] = _hls4ml_state()
    Path(report_path).write_text(json.dumps(report, indent=1, sort_keys=True))


# --- test side ----------------------------------------------------------------------------------------------


def _run_worker(mode: str, out_dir: Path, report: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "HLS4ML_BACKEND_PLUGINS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONHASHSEED"] = "0"
    proc = subprocess.run(
        [PYTHON, str(Path(__file__).resolve()), "worker", mode, str(out_dir), str(report)],
        cwd=str(out_dir.parent), env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, f"worker '{mode}' failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    if mode == "without":
        assert 'failed to load backend plugin entry "MSQ"' in proc.stdout, "the entry point was not even tried"
    return json.loads(report.read_text())


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def _renumber_shared_objects(node, ids: dict):
    """Keras writes ``shared_object_id: id(obj)`` (a memory address); number them by first appearance."""
    if isinstance(node, dict):
        return {
            k: ids.setdefault(v, len(ids)) if k == "shared_object_id" else _renumber_shared_objects(v, ids)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_objects(v, ids) for v in node]
    return node


def _keras_archive(path: Path) -> dict[str, bytes]:
    """The members of a ``.keras`` zip without what is not a function of the model: ``metadata.json``'s
    ``date_saved``, ``config.json``'s ``shared_object_id`` addresses (the zip's own timestamps are not read)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    meta = json.loads(members["metadata.json"])
    meta.pop("date_saved")
    members["metadata.json"] = json.dumps(meta, sort_keys=True).encode()
    config = _renumber_shared_objects(json.loads(members["config.json"]), {})
    members["config.json"] = json.dumps(config, sort_keys=True).encode()
    return members


def _differences(a: Path, b: Path) -> list[str]:
    fa, fb = _files(a), _files(b)
    problems = [f"only without our package: {k}" for k in sorted(set(fa) - set(fb))]
    problems += [f"only with our package: {k}" for k in sorted(set(fb) - set(fa))]
    for key in sorted(set(fa) & set(fb)):
        da, db = fa[key].read_bytes(), fb[key].read_bytes()
        if da == db:
            continue
        if key.endswith("keras_model.keras") and _keras_archive(fa[key]) == _keras_archive(fb[key]):
            continue  # differs only in a save date, zip timestamps and object addresses
        problems.append(f"differs: {key}")
    return problems


def test_stock_vitis_projects_are_byte_identical_with_and_without_our_package(tmp_path):
    reports, trees = {}, {}
    for mode in ("without", "with"):
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        out = run_dir / "prj"  # the same absolute path in both runs
        reports[mode] = _run_worker(mode, out, tmp_path / f"{mode}.json")
        trees[mode] = tmp_path / mode
        run_dir.rename(trees[mode])
    without, with_ours = (trees[m] / "prj" for m in ("without", "with"))
    assert len(_files(without)) > 30
    assert _differences(without, with_ours) == []
    # hls4ml's own objects, right after `import hls4ml` and after a plain-API MSQ conversion
    assert reports["with"]["checks"] == {
        "after_import": [], "after_plain_msq_conversion": [], "stock_quantizer_with_hooks_on": "QKerasQuantizer"
    }
    # registries: ours only adds (backend 'MSQ', its writer, 'msq:' passes and flows, our IR layers)
    state_without, state_with = reports["without"]["state"], reports["with"]["state"]
    assert _pristine_problems(state_without) == []
    for key in state_without:
        if key in ("meta_path", "qkeras_handler_globals"):
            continue  # the flow.convert call opted in to the parser hooks (content-scoped, see above)
        assert state_with[key] == state_without[key], key
    # ... so the stock projects compared above were converted with those hooks on
    assert state_with["qkeras_handler_globals"]["QKerasQuantizer"].startswith("flow.hls.hls4ml_hooks.")


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "worker":
    worker(*sys.argv[2:])
