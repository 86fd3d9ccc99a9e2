"""The build's fit gate: estimate before any tool runs, the HLS report before Vivado runs.

    step_fit       estimate the backbone on the board; over budget -> DoesNotFit naming the
                   resource, its share of the part and the fastest design that fits
                   (``--optimize`` applies that design, ``--allow-overbudget`` goes on anyway)
    check_csynth   after Vitis HLS: its csynth.xml resources next to the estimate; anything over
                   the part stops the build before Vivado (same two switches)

Estimates are labelled *estimated*; csynth figures are labelled *reported by Vitis HLS*
(csynth's own estimates, before place and route).
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from flow.build.config import BuildConfig
from flow.build.tools import ToolFailed
from flow.resources.fit import DoesNotFit, Fit, fit_at, gate, refusal, smallest_fit

#: csynth.xml resource tags -> the estimator's keys (BRAM_18K is halved to BRAM36).
CSYNTH_KEYS = {"DSP": "dsp", "DSP48E": "dsp", "LUT": "lut", "FF": "ff", "BRAM_18K": "bram36"}


def _backbone_of(cfg: BuildConfig):
    from flow.build.steps import backbone_model

    return backbone_model(cfg)[0]


def optimize_config(cfg: BuildConfig, echo=print) -> BuildConfig:
    """``--optimize``: the requested design if it fits, else the fastest one that does (or DoesNotFit)."""
    backbone = _backbone_of(cfg)
    point, better = gate(backbone, cfg.board_info, cfg.strategy, cfg.reuse_factor, io_type=cfg.io_type)
    if point.fits:
        echo(f"[optimize] {point.summary()}: kept")
        return cfg
    if better is None:
        raise DoesNotFit(refusal(point, better, backbone, cfg.board_info))
    echo(f"[optimize] {point.strategy} ReuseFactor {point.reuse_factor} does not fit ({', '.join(point.over())}); "
         f"using {better.summary()}")
    return dataclasses.replace(cfg, strategy=better.strategy, reuse_factor=better.reuse_factor)


def step_fit(ctx) -> None:
    """Estimate the backbone at the configured strategy / reuse factor; refuse what cannot fit."""
    from flow.resources.estimate import format_estimate

    cfg = ctx.cfg
    backbone = _backbone_of(cfg)
    point = fit_at(backbone, cfg.board_info, cfg.strategy, cfg.reuse_factor, io_type=cfg.io_type)
    ctx.state["estimate"] = _estimate_record(point)
    ctx.log("fit").write_text(format_estimate(point.result) + "\n\n" + point.summary() + "\n")
    ctx.echo(f"[fit] {point.summary()}")
    if point.fits:
        return
    better = smallest_fit(backbone, cfg.board_info, cfg.strategy, io_type=cfg.io_type)
    message = refusal(point, better, backbone, cfg.board_info)
    if not cfg.allow_overbudget:
        raise DoesNotFit(message)
    ctx.echo(f"[fit] warning: {message.split(' (estimated')[0]}; going on (--allow-overbudget)")


def _estimate_record(point: Fit) -> dict:
    r = point.result
    return {"strategy": point.strategy, "reuse_factor": point.reuse_factor, "total": r["total"],
            "utilization": r["utilization"], "fits": r["fits"], "latency_us": r["latency_us"], "source": "estimated"}


def read_csynth(path: Path) -> dict:
    """Resources, available resources and latency from a Vitis HLS ``csynth.xml``."""
    if not path.exists():
        raise ToolFailed(f"Vitis HLS wrote no synthesis report {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path} is not valid XML: {exc}") from None
    area = root.find("./AreaEstimates")
    if area is None or area.find("./Resources") is None or area.find("./AvailableResources") is None:
        raise ValueError(f"{path} has no AreaEstimates/Resources and AvailableResources (not a csynth.xml?)")

    def table(node) -> dict:
        out = {}
        for child in node:
            key = CSYNTH_KEYS.get(child.tag)
            if key is not None and child.text and child.text.strip().isdigit():
                value = int(child.text)
                out[key] = value / 2 if child.tag == "BRAM_18K" else value
        return out

    report = {"used": table(area.find("./Resources")), "available": table(area.find("./AvailableResources"))}
    latency = root.find("./PerformanceEstimates/SummaryOfOverallLatency")
    if latency is not None:
        report["latency_cycles"] = {tag: _int(latency.find(f"./{tag}")) for tag in ("Best-caseLatency", "Worst-caseLatency", "Interval-min", "Interval-max")}
    clock = root.find("./PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
    if clock is not None and clock.text:
        report["estimated_clock_ns"] = float(clock.text)
    return report


def _int(node):
    try:
        return int(node.text)
    except (AttributeError, TypeError, ValueError):
        return None


def csynth_table(report: dict, estimate: dict | None) -> str:
    """Vitis HLS' report next to our estimate, one row per resource."""
    lines = ["| resource | estimated | Vitis HLS csynth | available | csynth % |", "|---|---|---|---|---|"]
    est = (estimate or {}).get("total", {})
    for key, name in (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram36", "BRAM36")):
        used, avail = report["used"].get(key), report["available"].get(key)
        pct = f"{100 * used / avail:.1f}%" if used is not None and avail else "-"
        lines.append(f"| {name} | {est.get(key, '-')} | {used if used is not None else '-'} | {avail or '-'} | {pct} |")
    return "\n".join(lines)


def check_csynth(ctx, path: Path) -> None:
    """Record and print csynth's resources; stop before Vivado when one exceeds the part."""
    report = read_csynth(path)
    ctx.state["csynth"] = {**report, "source": "reported by Vitis HLS csynth (before place and route)"}
    text = csynth_table(report, ctx.state.get("estimate"))
    ctx.log("hls_report").write_text(text + "\n")
    ctx.echo("[hls_synth] resources (estimated vs reported by Vitis HLS csynth):\n" + text)
    over = [f"{name} {report['used'][k]:g} of {report['available'][k]:g} ({100 * report['used'][k] / report['available'][k]:.0f}%)"
            for k, name in (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram36", "BRAM36"))
            if report["available"].get(k) and report["used"].get(k, 0) > report["available"][k]]
    if over and not ctx.cfg.allow_overbudget:
        raise DoesNotFit(f"Vitis HLS reports the design exceeds {ctx.cfg.board_info.part}: {', '.join(over)}; stopped "
                         f"before Vivado. Rebuild (--force) with a larger --reuse-factor than {ctx.cfg.reuse_factor} "
                         "(the estimate said this one fits, so --optimize would not change it), or continue with "
                         "--resume --allow-overbudget to run Vivado anyway")
    if over:
        ctx.echo(f"[hls_synth] warning: over the part ({', '.join(over)}); going on (--allow-overbudget)")
