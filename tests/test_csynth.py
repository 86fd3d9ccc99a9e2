"""Vitis HLS csynth against the estimator (``vivado`` marker: skipped where ``vitis_hls`` is absent).

Written for the first user with Vitis HLS 2023.1: each design is converted with backend 'MSQ',
synthesized by hls4ml's build (``csim=False, synth=True``), and its ``csynth.xml`` reports read:

* the reuse loop of every row kernel (``ReuseLoop``, ``ScanPixels``, LQ ``Reuse``) is pipelined at II 1;
* its latency is within the documented formula (:mod:`flow.hls.microarch`: Dense RF + DENSE_DEPTH,
  convolution padded pixels x RF + SCAN_DEPTH), with 25 % slack for the pipeline depth;
* DSP within 10 % and LUT within 25 % of the estimate (``flow/resources/estimate.py``).

The LQ kernels' csynth checks (II, latency, no DSP, LUT) are ``tests/test_lq_kernels.py::test_csynth_matches_the_description``.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flow import golden
from flow.boards import get_board

pytestmark = [
    pytest.mark.vivado,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("vitis_hls") is None, reason="needs Vitis HLS (vitis_hls on PATH)"),
]

REUSE_LOOPS = ("ReuseLoop", "ScanPixels", "Reuse")


def synthesize(model, out: Path, io_type: str, strategy: str, rf: int):
    from flow.convert import ConvertConfig, convert

    hm = convert(model, out, ConvertConfig(io_type=io_type, strategy=strategy, reuse_factor=rf), compile=False)
    hm.build(csim=False, synth=True, export=False)
    return hm


def reports(out: Path) -> list[ET.Element]:
    files = sorted(out.glob("*_prj/solution1/syn/report/*.xml"))
    assert files, f"no csynth reports under {out}"
    return [ET.parse(f).getroot() for f in files]


def top_report(out: Path) -> ET.Element:
    return ET.parse(next(out.glob("*_prj/solution1/syn/report/csynth.xml"))).getroot()


def reuse_loops(out: Path) -> list[dict]:
    """Every pipelined reuse loop in the per-function reports: its II, trip count and latency."""
    loops = []
    for root in reports(out):
        for summary in root.iter("SummaryOfLoopLatency"):
            for loop in summary.iter():
                if not loop.tag.startswith(REUSE_LOOPS):
                    continue
                values = {child.tag: child.text for child in loop}
                loops.append({
                    "name": loop.tag,
                    "ii": int(values.get("PipelineII") or 0),
                    "trips": int(values.get("TripCount") or 0),
                    "latency": int(values.get("Latency") or values.get("WorstCaseLatency") or 0),
                })
    return loops


def used(root: ET.Element, tag: str) -> int:
    return int(root.find(f"./AreaEstimates/Resources/{tag}").text)


def check(model, out: Path, strategy: str, rf: int):
    from flow.hls.microarch import DENSE_DEPTH, SCAN_DEPTH
    from flow.resources.estimate import estimate, works_from_model

    loops = reuse_loops(out)
    assert loops, "no reuse loop found in the csynth reports"
    for loop in loops:
        assert loop["ii"] == 1, f"{loop['name']}: II {loop['ii']}"
        depth = SCAN_DEPTH if loop["name"].startswith("ScanPixels") else DENSE_DEPTH
        assert loop["latency"] <= 1.25 * (loop["trips"] + depth), loop
    est = estimate(works_from_model(model, rf, 8, strategy.lower()), get_board("pynq-z2"))["total"]
    root = top_report(out)
    dsp_tag = "DSP" if root.find("./AreaEstimates/Resources/DSP") is not None else "DSP48E"
    dsp, lut = used(root, dsp_tag), used(root, "LUT")
    assert abs(dsp - est["dsp"]) <= 0.10 * max(est["dsp"], 1), f"DSP: csynth {dsp}, estimate {est['dsp']}"
    assert abs(lut - est["lut"]) <= 0.25 * max(est["lut"], 1), f"LUT: csynth {lut}, estimate {est['lut']}"


@pytest.mark.parametrize("rf", [4, 16])
def test_demo_mlp_resource(rf, tmp_path):
    import flow

    model = flow.load_model(str(golden.GOLDEN_DIR / "digits_msq4.h5"))
    synthesize(model, tmp_path / "prj", "io_parallel", "Resource", rf)
    check(model, tmp_path / "prj", "Resource", rf)


def test_io_stream_vgg_32x32x3(tmp_path):
    import tensorflow as tf

    from flow.convert import freeze_msq_rows
    from flow.models import QuantSpec, vgg

    tf.keras.utils.set_random_seed(7)
    model = vgg((32, 32, 3), 10, width=0.25, spec=QuantSpec("msq", 4, 0.6, in_bits=8, in_integer=1))
    freeze_msq_rows(model)
    rf = 288
    synthesize(model, tmp_path / "prj", "io_stream", "Resource", rf)
    check(model, tmp_path / "prj", "Resource", rf)



def test_io_parallel_conv_cosim_passes(tmp_path):
    """The io_parallel convolution's DATAFLOW region (frame -> pixel stream -> scan -> frame) runs in
    RTL co-simulation: C-simulation cannot see a FIFO that blocks (its hls::stream is unbounded)."""
    from tests.test_csim_conv import cnn2d

    model = cnn2d(3, 1, "same", 2, 3, 0.5, seed=5)
    from flow.convert import ConvertConfig, convert

    hm = convert(model, tmp_path / "prj", ConvertConfig(io_type="io_parallel", strategy="Resource", reuse_factor=3),
                 compile=False)
    hm.build(csim=False, synth=True, cosim=True, export=False)
    reports = list((tmp_path / "prj").glob("*_prj/solution1/sim/report/*cosim.rpt"))
    assert reports, "no co-simulation report"
    assert "Pass" in reports[0].read_text(), reports[0].read_text()[-2000:]
