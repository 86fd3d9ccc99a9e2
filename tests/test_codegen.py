"""Generated-project checks: per-row binding (DSP on fixed rows, no multiplier on SP2 rows)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from flow.convert import ConvertConfig, convert, freeze_msq_rows
from flow.models import QuantSpec, mlp


def _function_body(source: str, name: str) -> str:
    start = source.index(name + "(")
    start = source.index("{", start)
    depth = 0
    for i in range(start, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            return source[start : i + 1]
    raise AssertionError(f"unterminated function {name}")


def _config_table(params: str, index: int, func: str) -> list[int]:
    struct = params[params.index(f"struct config{index} : nnet::msq_dense_config") :]
    body = _function_body(struct, f"static {'int' if func == 'row_shift' else 'unsigned'} {func}")
    return [int(v) for v in re.search(r"=\s*\{([^}]*)\}", body).group(1).split(",")]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(7)
    model = mlp(16, 6, (12,), QuantSpec(scheme="msq", bits=4, sp2_share=0.5))
    freeze_msq_rows(model)
    out = tmp_path_factory.mktemp("codegen") / "prj"
    hm = convert(model, out, ConvertConfig(strategy="Resource", reuse_factor=4), compile=False)
    hm.write()
    return model, hm, out


@pytest.mark.csim
def test_fixed_rows_multiply_on_dsp_sp2_rows_shift_add_on_fabric(project):
    _, _, out = project
    header = (out / "firmware" / "nnet_utils" / "nnet_msq_dense.h").read_text()
    sp2 = _function_body(header, "typename CONFIG_T::sp2_term_t msq_sp2_product")
    assert "*" not in sp2.replace("/*", "").replace("*/", ""), "SP2 product must not multiply"
    assert "#pragma HLS BIND_OP variable=sum op=add impl=fabric" in sp2
    assert ">> f1" in sp2 and ">> f2" in sp2
    for schedule in ("void msq_lanes_split", "void msq_lanes_folded"):
        body = _function_body(header, schedule)
        fixed, sp2_lanes = body.split("Sp2", 1)
        # the pragma right after the declaration, before the one multiply it binds
        assert re.search(r"fix_prod_t prod;\s*#pragma HLS BIND_OP variable=prod op=mul impl=dsp\s*prod = \w+(\[\w+\])? \* wf\[", fixed)
        assert fixed.count(" * wf[") == 1
        assert " * ws[" not in sp2_lanes and "msq_sp2_product" in sp2_lanes, "SP2 lanes shift and add, no multiply"


@pytest.mark.csim
def test_row_tables_match_keras_assignment(project):
    model, hm, out = project
    params = (out / "firmware" / "parameters.h").read_text()
    calls = (out / "firmware" / "myproject.cpp").read_text()
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if q is None:
            continue
        node = hm.graph[layer.name]
        assert node.class_name == "MSQDense"
        assert "nnet::msq_dense_resource<" in calls and f"config{node.index}>" in calls
        scheme = q.row_scheme
        fix_rows = _config_table(params, node.index, "fix_row")
        sp2_rows = _config_table(params, node.index, "sp2_row")
        if scheme.sum() < len(scheme):
            assert fix_rows == list(np.flatnonzero(scheme == 0))
        if scheme.sum() > 0:
            assert sp2_rows == list(np.flatnonzero(scheme == 1))
        assert "static const unsigned reuse_factor = 4;" in params


@pytest.mark.csim
def test_weights_written_as_integer_codes(project):
    model, hm, out = project
    node = hm.graph["fc1"]
    wf = np.loadtxt(out / "firmware" / "weights" / f"wf{node.index}.txt", delimiter=",")
    ws = np.loadtxt(out / "firmware" / "weights" / f"ws{node.index}.txt", delimiter=",")
    assert np.all(wf == np.round(wf)) and np.abs(wf).max() <= 7
    assert np.all(ws == np.round(ws)) and ws.min() >= 0 and ws.max() <= 15
