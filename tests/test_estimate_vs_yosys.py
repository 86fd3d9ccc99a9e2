"""The Dense estimate against whole-layer yosys synthesis of the RTL route (issue 14, item 4).

A battery of Dense layers -- fixed-only, SP2-only and MSQ at share 0.5, chained in one model (so one yosys run
covers all three) -- at Latency RF 1 (constant weights) and Resource RF 9 (divides none of the layers: idle
padded lanes), with 4- and 8-bit weights, is emitted by :mod:`flow.rtl` and synthesized whole by yosys
(``synth_xilinx -family xc7``). Per Dense layer the estimate that ``flow rtl --synth`` prints
(:func:`flow.resources.estimate.estimate_design`) must give the measured DSP48E1 count exactly and the LUT
count within 20 %. The shapes, the chain and the reuse factor differ from the designs the coefficients were
fitted on (:data:`flow.resources.layer_fit.FIT_CASES`), so this is an out-of-sample check. About two minutes.
"""

from __future__ import annotations

import shutil

import pytest

from flow.resources.layer_fit import Case

pytestmark = [pytest.mark.yosys,
              pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed (apt-get install yosys)")]

#: LUT: |measured / estimate - 1| at most this, per Dense layer
LUT_TOLERANCE = 0.20
#: x(14) -> fc_fixed(12) -> ReLU -> fc_sp2(10) -> ReLU -> fc_msq(8): a signed input, then unsigned ReLU outputs
SHAPE = (14, (12, 10), 8)
CHAIN = (("fixed", 0.0), ("sp2", 1.0), ("msq", 0.5))
RF = 9  # divides none of 14, 12, 10: the last lane of each row idles

BATTERY = [Case(f"b{bits}-{strategy}{rf}", SHAPE, "msq", 0.5, bits, strategy, rf, seed=bits + 40, chain=CHAIN)
           for bits in (4, 8) for strategy, rf in (("Latency", 1), ("Resource", RF))]


@pytest.mark.parametrize("case", BATTERY, ids=[c.tag for c in BATTERY])
def test_estimate_matches_yosys_per_layer(case, tmp_path):
    from flow.boards import get_board
    from flow.convert import ConvertConfig, convert
    from flow.resources.estimate import estimate_design
    from flow.resources.layer_fit import build_model
    from flow.rtl import emit
    from flow.rtl.netlist import DenseStage
    from flow.rtl.synth import MEASURED, synthesize

    model = build_model(case)
    hm = convert(model, tmp_path / "hls", ConvertConfig(strategy=case.strategy, reuse_factor=case.reuse_factor),
                 compile=False)
    design = emit(hm, tmp_path / "rtl")
    measured = synthesize(design)
    assert measured["source"] == MEASURED
    est = {r["layer"]: r for r in estimate_design(model, design.netlist, get_board("pynq-z2"), case.reuse_factor,
                                                  case.strategy.lower())["layers"]}
    dense = [st for st in design.netlist.stages if isinstance(st, DenseStage)]
    assert [st.name for st in dense] == ["fc_fixed", "fc_sp2", "fc_msq"]
    for st in dense:
        m, e = measured["stages"][st.name], est[st.name]
        assert m["dsp"] == e["dsp"], f"{st.name}: DSP48E1 {m['dsp']} (yosys synthesis) vs {e['dsp']} (estimate)"
        ratio = m["lut"] / e["lut"]
        assert abs(ratio - 1) <= LUT_TOLERANCE, (f"{st.name}: LUT {m['lut']} (yosys synthesis) vs {e['lut']} "
                                                 f"(estimate), ratio {ratio:.2f}")
        assert m["lut"] > 0 and m["ff"] > 0
    assert measured["stages"]["fc_sp2"]["dsp"] == 0 < measured["stages"]["fc_fixed"]["dsp"]
