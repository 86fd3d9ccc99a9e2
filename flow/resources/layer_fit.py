"""Whole-layer calibration of the Dense estimate against yosys synthesis of the RTL route.

The per-PE table (:mod:`flow.resources.calibrate`, ``calibration.json``) prices each block alone; a
whole layer also has its input, parts and output registers, its ROM and address logic, the input
multiplexers and the combine tree, and yosys shares or trims logic across blocks. This module measures
whole Dense layers -- the Verilog of :mod:`flow.rtl` (which mirrors ``nnet_msq_dense.h``), synthesized
by yosys ``synth_xilinx -family xc7`` -- and fits one coefficient per explainable term of the estimate
(:func:`flow.resources.estimate.dense_terms`: LUT and FF per bit of each structure), by non-negative
least squares on the relative error, so every layer counts alike whatever its size; plain registers, ROM
and multiplexer primitives are counted, not fitted (``PINNED``).

Data and fit live in ``flow/resources/layer_model.json``: ``records`` (one per Dense stage: the
:class:`~flow.resources.estimate.LayerWork` the estimator sees, with the exact widths of the RTL, and the
``"yosys synthesis"`` counts), ``coefficients`` and the fit's per-layer ratios. Rerun:

    .venv/bin/python -m flow.resources.layer_fit --measure   # yosys on the FIT_CASES designs (~10 minutes)
    .venv/bin/python -m flow.resources.layer_fit --measure --demo   # and the demo MLP's (DEMO_CASES, slow)
    .venv/bin/python -m flow.resources.layer_fit --rework    # rebuild the records' LayerWork (no yosys), refit
    .venv/bin/python -m flow.resources.layer_fit             # refit from the stored records only

The stored records: ``FIT_CASES`` (yosys 0.23, 2026-12-03) and ``DEMO_CASES`` but ``demo-sp24`` (the Dense
layers of ``bench/results/rtl_vs_estimate.json``, measured by ``bench/measured_share.py`` on the same RTL).

The designs are small MLPs with untrained (randomly initialized, quantized) weights: the costs depend on
the shapes, widths, schedules and weight codes, not on accuracy. ``FIT_CASES`` and the test battery
(``tests/test_estimate_vs_yosys.py``) use different shapes and reuse factors, so the test is out of sample.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from flow.package_data import PACKAGE

LAYER_MODEL = PACKAGE / "resources" / "layer_model.json"
MEASURED = "yosys synthesis"


@dataclasses.dataclass(frozen=True)
class Case:
    """One MLP design measured whole: ``n_in -> hidden -> n_out``, one scheme, one schedule."""

    tag: str
    shape: tuple
    scheme: str  # 'fixed', 'sp2' or 'msq'
    share: float
    bits: int
    strategy: str
    reuse_factor: int
    seed: int = 0
    #: spread the row magnitudes (rows of different scale, as trained layers have); False: the plain
    #: initialization of ``bench/measured_share.py``
    spread: bool = True
    #: a chain whose Dense layers each have their own scheme: ``(scheme, share)`` per layer (hidden ones, then
    #: the output), named ``fc_<scheme>``; empty: every layer has ``scheme`` / ``share``
    chain: tuple = ()


def _cases(shape, rfs, prefix, seed):
    out = []
    for bits in (4, 8):
        for scheme, share in (("fixed", 0.0), ("sp2", 1.0), ("msq", 0.5)):
            for strategy, rf in rfs:
                out.append(Case(f"{prefix}-{scheme}{bits}-{strategy}{rf}", shape, scheme, share, bits, strategy, rf,
                                seed + bits))
    return out


#: Designs the coefficients are fitted on (plus the stored demo-MLP records measured earlier): Latency at
#: RF 1 (constant weights), Resource at an RF that divides neither layer, and folded lanes.
FIT_CASES = tuple(_cases((20, (14,), 6), (("Latency", 1), ("Resource", 6)), "fit", 10)
             + [Case("fit-msq4-Resource40", (20, (14,), 6), "msq", 0.5, 4, "Resource", 40, 3),
                Case("fit-fixed6-Resource3", (30, (24,), 8), "fixed", 0.0, 6, "Resource", 3, 4),
                Case("fit-sp2-6-Resource3", (30, (24,), 8), "sp2", 1.0, 6, "Resource", 3, 5)])


#: The demo MLP (64-64-32-10, 4-bit) of ``bench/measured_share.py`` at its ReuseFactor 16 and at 4 (large designs,
#: several minutes of yosys each: ``--measure --demo``).
DEMO_CASES = tuple(Case(f"demo-{scheme}{rf}", (64, (64, 32), 10), scheme, share, 4, "Resource", rf, 0, False)
                   for rf in (16, 4) for scheme, share in (("fixed", 0.0), ("msq", 0.5), ("sp2", 1.0)))


def build_model(case: Case):
    """The case's MLP, quantized, MSQ rows frozen (untrained weights, row magnitudes spread)."""
    import tensorflow as tf

    from flow.convert import freeze_msq_rows
    from flow.models import QuantSpec, mlp

    tf.keras.utils.set_random_seed(case.seed)
    n_in, hidden, n_out = case.shape
    spec = QuantSpec(case.scheme, case.bits, case.share if case.scheme == "msq" else 0.6)
    if case.chain:
        model = chain_model(case)
    else:
        model = mlp(n_in, n_out, hidden, spec, name=case.tag.replace("-", "_"))
    rng = np.random.default_rng(case.seed)
    for layer in model.layers:
        if case.spread and hasattr(layer, "kernel"):
            k = layer.kernel.numpy() * rng.uniform(0.2, 1.0, size=layer.kernel.shape[-1]).astype(np.float32)
            layer.set_weights([k, layer.bias.numpy()])
    freeze_msq_rows(model)
    return model


def chain_model(case: Case):
    """``input -> Dense(scheme 1) -> ReLU -> ... -> Dense(scheme n)``: one layer per scheme of ``case.chain``."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits

    from flow.models import QuantSpec, activation, dense

    n_in, hidden, n_out = case.shape
    widths = (*hidden, n_out)
    if len(widths) != len(case.chain):
        raise ValueError(f"case '{case.tag}': {len(widths)} Dense layers but {len(case.chain)} schemes")
    inp = tf.keras.Input((n_in,), name="x")
    first = QuantSpec()
    x = QActivation(quantized_bits(first.in_bits, first.in_integer, alpha=1), name="q_input")(inp)
    for i, (width, (scheme, share)) in enumerate(zip(widths, case.chain)):
        spec = QuantSpec(scheme, case.bits, share if scheme == "msq" else 0.6)
        x = dense(width, spec, f"fc_{scheme}")(x)
        if i < len(widths) - 1:
            x = activation(spec, f"act{i + 1}")(x)
    return tf.keras.Model(inp, x, name=case.tag.replace("-", "_"))


def measure_case(case: Case, workdir: Path) -> list[dict]:
    """Convert, emit the RTL, synthesize it whole with yosys: one record per Dense and cast stage."""
    from flow.convert import ConvertConfig, convert
    from flow.resources.estimate import work_of_stage
    from flow.rtl import emit
    from flow.rtl.netlist import DenseStage
    from flow.rtl.synth import synthesize

    model = build_model(case)
    hm = convert(model, workdir / f"hls_{case.tag}", ConvertConfig(strategy=case.strategy, reuse_factor=case.reuse_factor),
                 compile=False)
    design = emit(hm, workdir / f"rtl_{case.tag}")
    measured = synthesize(design)
    records = []
    for st in design.netlist.stages:
        rec = {"case": case.tag, "layer": st.name, MEASURED: measured["stages"][st.name]}
        if isinstance(st, DenseStage):
            rec["work"] = work_to_dict(work_of_stage(st))
        else:
            rec["cast"] = {"n": st.n, "in_bits": st.in_spec.width, "out_bits": st.out_spec.width}
        records.append(rec)
    return records


def stage_works(case: Case, workdir: Path) -> dict:
    """The :class:`~flow.resources.estimate.LayerWork` of every Dense stage of a case (conversion and Verilog,
    no synthesis): to refresh stored records when the estimator reads more from a converted layer."""
    from flow.convert import ConvertConfig, convert
    from flow.resources.estimate import work_of_stage
    from flow.rtl.netlist import DenseStage, netlist_from_model

    hm = convert(build_model(case), workdir / f"hls_{case.tag}",
                 ConvertConfig(strategy=case.strategy, reuse_factor=case.reuse_factor), compile=False)
    netlist = netlist_from_model(hm)
    return {st.name: work_of_stage(st) for st in netlist.stages if isinstance(st, DenseStage)}


def rework(records: list[dict], cases, echo=print) -> list[dict]:
    """Records with their ``work`` rebuilt from the cases' conversions (the measured counts are kept)."""
    by_tag = {c.tag: c for c in cases}
    tags = [t for t in dict.fromkeys(r["case"] for r in records) if t in by_tag]
    with tempfile.TemporaryDirectory() as tmp:
        for tag in tags:
            echo(f"rework: {tag}")
            works = stage_works(by_tag[tag], Path(tmp))
            for r in records:
                if r["case"] == tag and "work" in r:
                    r["work"] = work_to_dict(works[r["layer"]])
    return records


def work_to_dict(work) -> dict:
    d = dataclasses.asdict(work)
    d.pop("scan", None)
    return d


def work_from_dict(d: dict):
    from flow.resources.estimate import LayerWork

    fields = {f.name for f in dataclasses.fields(LayerWork)}
    return LayerWork(**{k: v for k, v in d.items() if k in fields})


def measure(cases=FIT_CASES, echo=print) -> list[dict]:
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            echo(f"yosys: {case.tag}")
            records += measure_case(case, Path(tmp))
    return records


def dense_records(records: list[dict]) -> list[dict]:
    return [r for r in records if "work" in r]


def design_matrix(records: list[dict], kind: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Terms (``kind`` 'lut' or 'ff') of every Dense record and the measured counts."""
    from flow.resources.estimate import Costs, dense_terms

    costs = Costs(layer_model={})
    rows = [dense_terms(work_from_dict(r["work"]), costs)[kind] for r in records]
    names = sorted({n for row in rows for n in row})
    a = np.array([[row.get(n, 0.0) for n in names] for row in rows], dtype=float)
    y = np.array([r[MEASURED][kind] for r in records], dtype=float)
    return names, a, y


#: Terms counted, not fitted (coefficient 1): plain registers (one FF per bit) and the LUT primitives a ROM or a
#: multiplexer takes (a ROM64X1 / LUT6 per bit per 64 words, a LUT6 per bit per 4 inputs).
PINNED = {"lut": ("rom", "in_mux", "weight_mux"), "ff": ("input_reg", "output_reg", "rom_word", "lane_acc")}


def fit(records: list[dict]) -> dict:
    """Coefficients per term for LUT and FF: the ``PINNED`` terms count 1, the others come from non-negative
    least squares of the relative error (a 300-LUT layer counts as much as a 30k one)."""
    from scipy.optimize import nnls

    dense = dense_records(records)
    out = {}
    for kind in ("lut", "ff"):
        names, a, y = design_matrix(dense, kind)
        pinned = np.array([n in PINNED[kind] for n in names])
        free = a.any(axis=0) & ~pinned
        scale = 1.0 / np.maximum(y, 1.0)
        rest = y - a[:, pinned].sum(axis=1)
        coef = np.where(pinned, 1.0, 0.0)
        coef[free], _ = nnls(a[:, free] * scale[:, None], rest * scale)
        out[kind] = {n: round(float(c), 4) for n, c in zip(names, coef)}
    return out


def ratios(records: list[dict], costs=None) -> list[dict]:
    """Measured / estimated LUT and FF per Dense record, and DSP measured vs estimated."""
    from flow.resources.estimate import Costs, estimate_layer

    costs = costs or Costs()
    out = []
    for r in dense_records(records):
        est = estimate_layer(work_from_dict(r["work"]), costs)
        m = r[MEASURED]
        out.append({"case": r["case"], "layer": r["layer"], "dsp": [m["dsp"], est["dsp"]],
                    "lut": round(m["lut"] / max(est["lut"], 1), 3), "ff": round(m["ff"] / max(est["ff"], 1), 3)})
    return out


def load(path: Path = LAYER_MODEL) -> dict:
    return json.loads(Path(path).read_text()) if Path(path).exists() else {}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--measure", action="store_true", help="run yosys on FIT_CASES (otherwise refit the stored records)")
    p.add_argument("--rework", action="store_true",
                   help="rebuild the stored records' LayerWork from their designs (conversion only, no yosys)")
    p.add_argument("--demo", action="store_true", help="with --measure: also the demo MLP designs (DEMO_CASES, slow)")
    p.add_argument("--out", default=str(LAYER_MODEL))
    args = p.parse_args(argv)
    from flow.resources.calibrate import require_yosys, yosys_version
    from flow.resources.estimate import Costs

    stored = load(Path(args.out))
    records = stored.get("records", [])
    yosys = stored.get("yosys")
    if args.measure:
        yosys = yosys_version(require_yosys())
        fresh = measure(FIT_CASES + (DEMO_CASES if args.demo else ()))
        tags = {r["case"] for r in fresh}
        records = [r for r in records if r["case"] not in tags] + fresh
    if args.rework:
        records = rework(records, FIT_CASES + DEMO_CASES)
    coefficients = fit(records)
    checked = ratios(records, Costs(layer_model={"coefficients": coefficients}))
    for r in checked:
        print(f"{r['case']:28s} {r['layer']:8s} LUT measured/estimate {r['lut']:.2f}  FF {r['ff']:.2f}  "
              f"DSP {r['dsp'][0]} / {r['dsp'][1]}")
    lut = [r["lut"] for r in checked]
    ff = [r["ff"] for r in checked]
    print(f"LUT ratio {min(lut):.2f}..{max(lut):.2f}, FF ratio {min(ff):.2f}..{max(ff):.2f} over {len(checked)} layers")
    print(json.dumps(coefficients, indent=1))
    table = {"source": f"{MEASURED} ({yosys}, synth_xilinx -family xc7) of flow.rtl Dense stages; fit: "
                       "flow/resources/layer_fit.py", "yosys": yosys, "coefficients": coefficients,
             "fit_ratios (measured / estimate)": checked, "records": records}
    Path(args.out).write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
