"""Checks shared by the kernel batteries: our kernels are really used, and the config structs
written into the project equal what the estimator assumes (:mod:`flow.hls.microarch`)."""

from __future__ import annotations

import re
from pathlib import Path

from flow.hls.microarch import DENSE_DEPTH, SCAN_DEPTH
from flow.quantizers import RowQuantizer, quantized_lq

STRUCT = re.compile(r"struct (\w+) : nnet::(\w+) \{(.*?)\n\};", re.S)
MEMBER = re.compile(r"static const (?:unsigned|bool) (\w+) = (\w+);")


def function_body(source: str, name: str) -> str:
    """The body of the first definition of function ``name`` (brace matched), comments removed."""
    source = re.sub(r"//[^\n]*", "", source)
    start = re.search(rf"\b{name}\s*\([^;{{]*\)\s*\{{", source)
    assert start, f"{name} not found"
    depth, i = 0, start.end() - 1
    for j in range(i, len(source)):
        depth += {"{": 1, "}": -1}.get(source[j], 0)
        if depth == 0:
            return source[i : j + 1]
    raise AssertionError(f"unbalanced braces in {name}")


def project_file(hm, name: str) -> str:
    return (Path(hm.config.get_output_dir()) / "firmware" / name).read_text()


def config_structs(hm) -> dict[str, dict[str, int]]:
    """``{struct name: {member: value}}`` of every config struct in ``parameters.h``."""
    structs = {}
    for name, _base, body in STRUCT.findall(project_file(hm, "parameters.h")):
        members = {}
        for key, value in MEMBER.findall(body):
            members[key] = {"true": 1, "false": 0}.get(value, int(value) if value.isdigit() else value)
        structs[name] = members
    return structs


def row_layers(model) -> dict[str, str]:
    """``{layer name: 'msq' | 'lq'}`` of the Keras layers our kernels must take."""
    out = {}
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if isinstance(q, quantized_lq):
            out[layer.name] = "lq"
        elif isinstance(q, RowQuantizer):
            out[layer.name] = "msq"
    return out


def assert_our_kernels(hm, model) -> None:
    """Every row-quantized layer is one of our nodes and ``myproject.cpp`` calls our kernel for it."""
    source = project_file(hm, f"{hm.config.get_project_name()}.cpp")
    layers = row_layers(model)
    assert layers, "the model has no row-quantized layer to check"
    for name, family in layers.items():
        node = hm.graph[name]
        prefix = "MSQ" if family == "msq" else "LQ"
        assert node.class_name.startswith(prefix), f"layer '{name}' became {node.class_name}, not one of our {prefix} kernels"
        kind = "dense" if node.class_name.endswith("Dense") else "conv"
        call = re.compile(rf"nnet::{family}_{kind}_(latency|resource)<[^;]*\bconfig{node.index}>\(")
        assert call.search(source), f"{hm.config.get_project_name()}.cpp does not call nnet::{family}_{kind}_* for '{name}'"


def kernel_cycles(rows: dict, conv: dict | None) -> int:
    """The cycle formula of flow.hls.microarch, from the config structs written into the project."""
    if conv is None:
        return rows["reuse_factor"] + DENSE_DEPTH
    padded = (conv["in_height"] + conv["pad_top"] + conv["pad_bottom"]) * (
        conv["in_width"] + conv["pad_left"] + conv["pad_right"]
    )
    return padded * rows["reuse_factor"] + SCAN_DEPTH


def assert_estimate_matches_config(hm, model, reuse_factor: int, strategy: str, data_bits: int = 8) -> None:
    """For every MSQ layer: the estimator's lanes, reuse factor, ROM shape and cycles equal the config
    struct written into the project."""
    from flow.resources.estimate import Costs, estimate_layer, works_from_model

    structs = config_structs(hm)
    costs = Costs()
    works = {w.name: w for w in works_from_model(model, reuse_factor, data_bits, strategy.lower())}
    for name, family in row_layers(model).items():
        if family != "msq":
            continue
        node = hm.graph[name]
        conv = structs.get(f"config{node.index}") if node.class_name != "MSQDense" else None
        rows = structs[f"config{node.index}_mult" if conv is not None else f"config{node.index}"]
        written = {k: rows.get(k) for k in node.microarch().config_values()}
        assert written == node.microarch().config_values(), f"{name}: config struct differs from flow.hls.microarch"
        est = estimate_layer(works[name], costs)
        bits = works[name].weight_bits
        assert est["dsp_lanes"] == rows["fix_lanes"] and est["lut_lanes"] == rows["sp2_lanes"], name
        # DSP packing: the estimator assumes `data_bits`-bit signed data; where the layer's input is that,
        # it decides as the converter did, and then both count the same DSP48E1
        if rows["data_width"] == data_bits and rows["data_signed"]:
            assert est["dsp_packed"] == bool(rows["dsp_packed"]), f"{name}: estimator and config disagree on DSP packing"
        if est["dsp_packed"] == bool(rows["dsp_packed"]):
            assert est["fix_dsps"] == rows["fix_dsps"], name
        assert est["reuse_factor"] == rows["reuse_factor"], name
        assert est["cycles"] == kernel_cycles(rows, conv), name
        if strategy.lower() == "resource":
            rf = rows["reuse_factor"]
            expected = [[rows["fix_lanes"] * bits, rf if rows["fix_lanes"] else 0],
                        [rows["sp2_lanes"] * bits, rf if rows["sp2_lanes"] else 0]]
            assert est["rom"] == [[w if d else 0, d] for w, d in expected], name
